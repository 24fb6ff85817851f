-- Alert rules (server/src/alert_rules.rs) watch conditions: a failed-login rate, a 5xx rate, a
-- saturated pool, a stalled cleanup, a lost listener. Each is raised once while it holds and
-- cleared when it no longer does: `cleared_at` says when (NULL: still holds, or an alert of
-- a detector, which is never cleared). A condition's `dedupe_key` begins with `rule:`; at most
-- one alert of a condition is open at a time, however many instances watch it.
ALTER TABLE alerts ADD COLUMN cleared_at INTEGER;
CREATE UNIQUE INDEX alerts_open_conditions ON alerts (dedupe_key) WHERE cleared_at IS NULL AND dedupe_key LIKE 'rule:%';
