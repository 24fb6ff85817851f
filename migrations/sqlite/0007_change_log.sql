-- The change log the session cache reads (src/store/sqlite.rs): every write that changes what
-- the cache may hold about a user (a session's state, the account, its platforms) appends the
-- user's id, whoever wrote it: this server, another process on the same file (the CLI), a
-- person at the sqlite3 prompt. A server that sees `PRAGMA data_version` move reads the new
-- rows and forgets those users before it serves anything from memory.
--
-- Not logged, because no cached answer can depend on them: a new session (nothing was cached
-- for it), the touch of `last_seen_at` (a cached copy is only served within the touch interval
-- of the `last_seen_at` it holds, which is never later than the stored one), a session ended as
-- expired or deleted by the cleanup (only sessions already past a deadline, which the cache
-- checks against the clock on every hit), and a new user.
CREATE TABLE cache_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL
);

CREATE TRIGGER cache_sessions_changed
AFTER UPDATE OF user_id, active_platform_id, version, ended_at, end_reason, reauthenticated_at, fingerprint, flagged_at
ON sessions
WHEN NEW.end_reason IS NOT 'expired'
BEGIN
    INSERT INTO cache_changes (user_id) VALUES (NEW.user_id);
END;

CREATE TRIGGER cache_users_changed AFTER UPDATE ON users
BEGIN
    INSERT INTO cache_changes (user_id) VALUES (NEW.id);
END;

CREATE TRIGGER cache_users_deleted AFTER DELETE ON users
BEGIN
    INSERT INTO cache_changes (user_id) VALUES (OLD.id);
END;

CREATE TRIGGER cache_platforms_added AFTER INSERT ON platforms
BEGIN
    INSERT INTO cache_changes (user_id) VALUES (NEW.user_id);
END;

CREATE TRIGGER cache_platforms_changed AFTER UPDATE ON platforms
BEGIN
    INSERT INTO cache_changes (user_id) VALUES (NEW.user_id);
END;

CREATE TRIGGER cache_platforms_removed AFTER DELETE ON platforms
BEGIN
    INSERT INTO cache_changes (user_id) VALUES (OLD.user_id);
END;
