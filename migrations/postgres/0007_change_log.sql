-- How every instance's session cache hears about writes (src/store/postgres.rs): every write
-- that changes what the cache may hold about a user (a session's state, the account, its
-- platforms) sends the user's id on the channel `switchboard_changes_<schema>`, whoever wrote
-- it. NOTIFY is transactional: a rolled-back write says nothing, a committed one is heard by
-- every listening instance after the commit. The writing connection also collects the ids in
-- the transaction's `switchboard.changed` setting, so the instance that wrote forgets them as
-- it commits, without waiting to hear itself.
--
-- Not announced, because no cached answer can depend on them: a new session, the touch of
-- `last_seen_at`, a session ended as expired or deleted by the cleanup, and a new user (see the
-- SQLite migration of the same name for why).
CREATE FUNCTION switchboard_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END) ->> TG_ARGV[0];
    seen text := COALESCE(current_setting('switchboard.changed', true), '');
BEGIN
    IF position(',' || changed || ',' IN seen || ',') = 0 THEN
        PERFORM set_config('switchboard.changed', seen || ',' || changed, true);
        PERFORM pg_notify('switchboard_changes_' || TG_TABLE_SCHEMA, changed);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER cache_sessions_changed
AFTER UPDATE OF user_id, active_platform_id, version, ended_at, end_reason, reauthenticated_at, fingerprint, flagged_at
ON sessions
FOR EACH ROW WHEN (NEW.end_reason IS DISTINCT FROM 'expired')
EXECUTE FUNCTION switchboard_note_change('user_id');

CREATE TRIGGER cache_users_changed AFTER UPDATE OR DELETE ON users
FOR EACH ROW EXECUTE FUNCTION switchboard_note_change('id');

CREATE TRIGGER cache_platforms_changed AFTER INSERT OR UPDATE OR DELETE ON platforms
FOR EACH ROW EXECUTE FUNCTION switchboard_note_change('user_id');
