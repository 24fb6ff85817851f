//! The session policy: how long sessions live, how often activity is written down, how many a
//! user may have, and how recent a password must be for sensitive actions.

use crate::clock::Timestamp;
use std::time::Duration;

/// What a login does when the user already has `max_per_user` live sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// End the least recently used session (it ends as revoked, by eviction).
    EvictOldest,
    /// Refuse the login (`too_many_sessions`).
    Refuse,
}

impl WhenFull {
    pub fn as_str(self) -> &'static str {
        match self {
            WhenFull::EvictOldest => "evict_oldest",
            WhenFull::Refuse => "refuse",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [WhenFull::EvictOldest, WhenFull::Refuse].into_iter().find(|w| w.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long is dead.
    pub idle_timeout: Duration,
    /// A session is dead this long after login, however busy.
    pub absolute_lifetime: Duration,
    /// `last_seen_at` is written at most this often, so reads do not write on every hit. The idle
    /// deadline is therefore conservative by up to this much.
    pub touch_interval: Duration,
    /// How many live sessions one user may have.
    pub max_per_user: u32,
    pub when_full: WhenFull,
    /// Admin actions and password changes need a password entered in the session this recently
    /// (ASVS 7.5).
    pub reauth_window: Duration,
}

impl Default for SessionPolicy {
    /// The documented defaults (docs/CONFIGURATION.md); the server's settings start from these.
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_lifetime: Duration::from_secs(12 * 3600),
            touch_interval: Duration::from_secs(60),
            max_per_user: 20,
            when_full: WhenFull::EvictOldest,
            reauth_window: Duration::from_secs(10 * 60),
        }
    }
}

impl SessionPolicy {
    /// The idle deadline of a session last seen at `last_seen_at`.
    pub fn idle_deadline(&self, last_seen_at: Timestamp, absolute_expires_at: Timestamp) -> Timestamp {
        last_seen_at.plus(self.idle_timeout).min(absolute_expires_at)
    }

    /// Until when a password entered at `at` counts as recent.
    pub fn reauth_until(&self, at: Timestamp) -> Timestamp {
        at.plus(self.reauth_window)
    }
}
