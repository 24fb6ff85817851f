-- Suspicious-activity alerts (src/alerts.rs): one row per alert raised; `dedupe_key` names the
-- thing it is about, so the same thing raises at most one alert per window.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    user_id INTEGER,
    session_public_id TEXT,
    ip TEXT,
    evidence TEXT NOT NULL,
    dedupe_key TEXT NOT NULL
);
CREATE INDEX alerts_by_key ON alerts (dedupe_key, at);
