//! The session policy: how long sessions live, and how often activity is written down.

use crate::clock::Timestamp;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long is dead.
    pub idle_timeout: Duration,
    /// A session is dead this long after login, however busy.
    pub absolute_lifetime: Duration,
    /// `last_seen_at` is written at most this often, so reads do not write on every hit. The idle
    /// deadline is therefore conservative by up to this much.
    pub touch_interval: Duration,
}

impl Default for SessionPolicy {
    /// The documented defaults (docs/CONFIGURATION.md); the server's settings start from these.
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_lifetime: Duration::from_secs(12 * 3600),
            touch_interval: Duration::from_secs(60),
        }
    }
}

impl SessionPolicy {
    /// The idle deadline of a session last seen at `last_seen_at`.
    pub fn idle_deadline(&self, last_seen_at: Timestamp, absolute_expires_at: Timestamp) -> Timestamp {
        last_seen_at.plus(self.idle_timeout).min(absolute_expires_at)
    }
}
