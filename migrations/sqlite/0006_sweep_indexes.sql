-- The cleanup finds sessions past a deadline among the live ones only, in index order, a batch
-- at a time (src/sessions.rs `sweep_sessions`): without these, each batch scanned past every
-- session already ended, and a backlog of a million took minutes.
CREATE INDEX sessions_live_by_last_seen ON sessions (last_seen_at, id) WHERE ended_at IS NULL;
CREATE INDEX sessions_live_by_absolute_expiry ON sessions (absolute_expires_at, id) WHERE ended_at IS NULL;
