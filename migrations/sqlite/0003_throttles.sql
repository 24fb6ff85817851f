-- Login and registration throttles count recent audit rows by attempted email and by client
-- address (src/throttle.rs).
CREATE INDEX audit_events_by_kind_detail ON audit_events (kind, detail, at);
CREATE INDEX audit_events_by_kind_ip ON audit_events (kind, ip, at);
