-- Client fingerprints (src/fingerprint.rs): the keyed hashes a session is bound to, and when
-- another session of the user ended as suspicious (shown on the Sessions page until the
-- password is entered in this one).
ALTER TABLE sessions ADD COLUMN fingerprint TEXT;
ALTER TABLE sessions ADD COLUMN flagged_at INTEGER;
