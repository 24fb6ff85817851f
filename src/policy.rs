//! The session policy: how long sessions live, how often activity is written down, how many a
//! user may have, and how recent a password must be for sensitive actions; and the throttle
//! policy against password guessing.

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

/// The login and registration throttles (applied by `throttle`; see there for what each number
/// does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Off: no counting, no delays, no refusals.
    pub enabled: bool,
    /// How far back failed logins count.
    pub window: Duration,
    pub pair_limit: u32,
    pub account_slow_after: u32,
    pub address_slow_after: u32,
    pub address_limit: u32,
    pub delay: Duration,
    pub max_delay: Duration,
    pub registration_limit: u32,
    pub registration_window: Duration,
}

impl Default for ThrottlePolicy {
    /// The documented defaults (docs/CONFIGURATION.md, `[throttle]`).
    fn default() -> Self {
        Self {
            enabled: true,
            window: Duration::from_secs(15 * 60),
            pair_limit: 10,
            account_slow_after: 5,
            address_slow_after: 20,
            address_limit: 100,
            delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(3),
            registration_limit: 10,
            registration_window: Duration::from_secs(3600),
        }
    }
}

impl ThrottlePolicy {
    /// The delay for `failures` past a threshold of `slow_after` (none below it).
    pub fn delay_for(&self, failures: u32, slow_after: u32) -> Duration {
        if failures < slow_after {
            return Duration::ZERO;
        }
        let doublings = (failures - slow_after).min(20);
        self.delay.saturating_mul(1 << doublings).min(self.max_delay)
    }
}

/// The suspicious-activity detectors (applied by `alerts`): each raises an alert once per key
/// within `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertPolicy {
    /// Off: no detector runs.
    pub enabled: bool,
    /// How far back each detector counts, and how long an alert for the same thing is not raised
    /// again.
    pub window: Duration,
    /// Failed logins for one account within `window` (0: off).
    pub failed_logins_per_account: u32,
    /// Failed logins from one address within `window` (0: off).
    pub failed_logins_per_address: u32,
    /// New sessions of one account within `window` (0: off).
    pub new_sessions_per_account: u32,
    /// Refused CSRF checks from one address within `window` (0: off).
    pub csrf_failures_per_address: u32,
    /// A revoked (warning) or expired (info) session's token is used again.
    pub ended_token_use: bool,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            window: Duration::from_secs(10 * 60),
            failed_logins_per_account: 10,
            failed_logins_per_address: 30,
            new_sessions_per_account: 10,
            csrf_failures_per_address: 20,
            ended_token_use: true,
        }
    }
}

/// What a tier of fingerprint drift does. Each action includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftAction {
    /// Nothing: the drift is accepted silently.
    Ignore,
    /// An audit row (`fingerprint_drift`); the session's fingerprint becomes the new one.
    Record,
    /// Also an alert (`fingerprint_drift`).
    Alert,
    /// Also the session's next sensitive action needs the password again.
    Challenge,
    /// Instead of accepting the drift: the session ends (`suspicious`), the user's other
    /// sessions are flagged (and must re-enter the password for sensitive actions), and a
    /// critical alert is raised.
    Revoke,
}

impl DriftAction {
    pub const ALL: [DriftAction; 5] = [Self::Ignore, Self::Record, Self::Alert, Self::Challenge, Self::Revoke];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ignore => "ignore",
            Self::Record => "record",
            Self::Alert => "alert",
            Self::Challenge => "challenge",
            Self::Revoke => "revoke",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// Client fingerprints (applied by `fingerprint`): which traits a session is bound to, how a
/// change is scored, and what each tier of drift does.
///
/// Scores: browser family 3 (a different browser; its version then does not count too),
/// browser major version 1, Accept-Language 1, network prefix 2. A browser update scores 1, a
/// new network 2, another browser on another network 5.
///
/// The server reads it as the `[fingerprint]` settings, key for key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FingerprintPolicy {
    /// Off: nothing is recorded or compared.
    pub enabled: bool,
    pub browser_family: bool,
    pub browser_version: bool,
    pub accept_language: bool,
    pub network: bool,
    /// The network of an IPv4 address: its first this many bits.
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// A score at least this is medium drift (below it, and above 0, small).
    pub medium_at: u32,
    /// A score at least this is large drift.
    pub large_at: u32,
    pub on_small: DriftAction,
    pub on_medium: DriftAction,
    pub on_large: DriftAction,
}

impl Default for FingerprintPolicy {
    /// The documented defaults (docs/CONFIGURATION.md, `[fingerprint]`).
    fn default() -> Self {
        Self {
            enabled: true,
            browser_family: true,
            browser_version: true,
            accept_language: true,
            network: true,
            ipv4_prefix: 24,
            ipv6_prefix: 48,
            medium_at: 2,
            large_at: 5,
            on_small: DriftAction::Record,
            on_medium: DriftAction::Challenge,
            on_large: DriftAction::Revoke,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowing_starts_at_the_threshold_doubles_and_is_capped() {
        let p = ThrottlePolicy::default();
        assert_eq!(p.delay_for(4, 5), Duration::ZERO);
        assert_eq!(p.delay_for(5, 5), Duration::from_millis(250));
        assert_eq!(p.delay_for(6, 5), Duration::from_millis(500));
        assert_eq!(p.delay_for(8, 5), Duration::from_secs(2));
        assert_eq!(p.delay_for(9, 5), Duration::from_secs(3));
        assert_eq!(p.delay_for(u32::MAX, 5), Duration::from_secs(3));
    }
}
