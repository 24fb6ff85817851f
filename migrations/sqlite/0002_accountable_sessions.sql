-- Accountable sessions: disabled accounts, recent re-authentication, and the audit log.

ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- When a password was last entered in this session (login, registration, re-authentication).
ALTER TABLE sessions ADD COLUMN reauthenticated_at INTEGER;
UPDATE sessions SET reauthenticated_at = created_at;
CREATE INDEX sessions_live_by_user ON sessions (user_id, ended_at);

-- Every lifecycle event, append-only. No foreign keys: the record outlives what it names.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor_user_id INTEGER,
    subject_user_id INTEGER,
    session_public_id TEXT,
    ip TEXT,
    user_agent TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'refused')),
    detail TEXT
);
CREATE INDEX audit_events_by_time ON audit_events (at, id);
CREATE INDEX audit_events_by_subject ON audit_events (subject_user_id, at);

-- The retention sweep moves this cut-off forward; rows older than it are the only ones that can
-- be deleted, and no row can be changed.
CREATE TABLE audit_retention (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    delete_before INTEGER NOT NULL
);
INSERT INTO audit_retention (id, delete_before) VALUES (1, 0);

CREATE TRIGGER audit_events_are_not_updated BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_are_deleted_only_by_retention BEFORE DELETE ON audit_events
WHEN OLD.at >= (SELECT delete_before FROM audit_retention WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'audit_events rows are deleted only by the retention sweep');
END;

CREATE TRIGGER audit_retention_only_moves_forward BEFORE UPDATE ON audit_retention
WHEN NEW.delete_before < OLD.delete_before
BEGIN
    SELECT RAISE(ABORT, 'the audit retention cut-off only moves forward');
END;
