-- Alert rules (server/src/alert_rules.rs) watch conditions: a failed-login rate, a 5xx rate, a
-- saturated pool, a stalled cleanup, a lost listener. Each is raised once while it holds and
-- cleared when it no longer does: `cleared_at` says when (NULL: still holds, or an alert of
-- a detector, which is never cleared). A condition's `dedupe_key` begins with `rule:`; at most
-- one alert of a condition is open at a time, however many instances watch it.
ALTER TABLE alerts ADD COLUMN cleared_at BIGINT;
CREATE UNIQUE INDEX alerts_open_conditions ON alerts (dedupe_key) WHERE cleared_at IS NULL AND dedupe_key LIKE 'rule:%';

-- Notifications also say when the write was made (`user_id,milliseconds since the Unix epoch`),
-- so each instance can tell how long it took to hear one (`/metrics`:
-- switchboard_cache_notification_lag_seconds). An instance of an older build reads such a
-- payload as unreadable and forgets its whole cache: correct, only slower, during an upgrade.
CREATE OR REPLACE FUNCTION switchboard_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END) ->> TG_ARGV[0];
    seen text := COALESCE(current_setting('switchboard.changed', true), '');
BEGIN
    IF position(',' || changed || ',' IN seen || ',') = 0 THEN
        PERFORM set_config('switchboard.changed', seen || ',' || changed, true);
        PERFORM pg_notify(
            'switchboard_changes_' || TG_TABLE_SCHEMA,
            changed || ',' || floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
        );
    END IF;
    RETURN NULL;
END
$$;
