-- The throttles and detectors count a few kinds of audit row (src/throttle.rs `COUNTED`): each
-- count gets an index partial to its kind, in place of two indexes over every row. The many rows
-- no count reads (a cleanup sweep writes one `session_expired` row per session it ends) are
-- written to none of them. The statements name the kind in their text, as a partial index needs.
DROP INDEX audit_events_by_kind_detail;
DROP INDEX audit_events_by_kind_ip;
CREATE INDEX audit_failed_logins_by_account ON audit_events (detail, at) WHERE kind = 'login_failed';
CREATE INDEX audit_failed_logins_by_address ON audit_events (ip, at) WHERE kind = 'login_failed';
CREATE INDEX audit_failed_logins_by_time ON audit_events (at) WHERE kind = 'login_failed';
CREATE INDEX audit_registrations_by_address ON audit_events (ip, at) WHERE kind = 'registered';
CREATE INDEX audit_csrf_refusals_by_address ON audit_events (ip, at) WHERE kind = 'csrf_refused';
