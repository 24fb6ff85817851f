//! Who checks the session for the browser: the leader tab (Web Lock holder, or the heartbeat
//! election where Web Locks are missing), whether it still answers, and what the session
//! indicator says about it. Plain Rust, unit-tested; `browser` does the waiting and sending.

use serde::{Deserialize, Serialize};

/// The Web Lock the leader holds while it lives.
pub const LEADER_LOCK: &str = "switchboard-leader";

/// How often followers ask the leader whether it is there.
pub const PING_EVERY_MS: f64 = 4_000.0;
/// A ping unanswered this long means the leader stopped answering.
pub const PONG_TIMEOUT_MS: f64 = 2_500.0;
/// Without Web Locks: how often the leader says it is alive, and how long followers wait for it.
pub const HEARTBEAT_EVERY_MS: f64 = 1_000.0;
pub const HEARTBEAT_TIMEOUT_MS: f64 = 3_500.0;

/// Leader election where Web Locks are missing: the leader sends a heartbeat every
/// [`HEARTBEAT_EVERY_MS`]; a tab that hears none for [`HEARTBEAT_TIMEOUT_MS`] takes over; of two
/// leaders, the one with the smaller tab id stays.
#[derive(Debug)]
pub struct Election {
    me: String,
    started: f64,
    heard: Option<(String, f64)>,
    leading: bool,
}

impl Election {
    pub fn new(me: String, now: f64) -> Self {
        Self {
            me,
            started: now,
            heard: None,
            leading: false,
        }
    }

    pub fn leading(&self) -> bool {
        self.leading
    }

    pub fn heard(&mut self, from: &str, now: f64) {
        if self.leading && from < self.me.as_str() {
            self.leading = false;
        }
        if !self.leading {
            self.heard = Some((from.to_owned(), now));
        }
    }

    /// Call regularly; answers whether this tab leads now.
    pub fn tick(&mut self, now: f64) -> bool {
        if !self.leading {
            let last = self.heard.as_ref().map_or(self.started, |(_, at)| *at);
            if now - last >= HEARTBEAT_TIMEOUT_MS {
                self.leading = true;
                self.heard = None;
            }
        }
        self.leading
    }
}

/// Whether the leader answers, from the follower's side: a ping older than
/// [`PONG_TIMEOUT_MS`] without a pong after it means it does not.
#[derive(Debug, Default, Clone, Copy)]
pub struct Liveness {
    pub last_ping: Option<f64>,
    pub last_pong: Option<f64>,
}

impl Liveness {
    pub fn answering(&self, now: f64) -> bool {
        match (self.last_ping, self.last_pong) {
            (None, _) => true,
            (Some(ping), Some(pong)) if pong >= ping => true,
            (Some(ping), _) => now - ping < PONG_TIMEOUT_MS,
        }
    }
}

/// How this tab is kept in step, as its session indicator says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// Not started yet (the server-rendered page).
    Starting,
    /// This tab checks the session for the others.
    Leader,
    /// Another tab checks; this one listens.
    Follower,
    /// No BroadcastChannel: tabs follow each other through localStorage events.
    Storage,
    /// The leader stopped answering; this tab checks for itself meanwhile.
    LeaderLost,
    /// No way to reach other tabs; this tab checks for itself.
    Alone,
    /// Switched off by the server's settings.
    Off,
}

impl SyncStatus {
    pub fn label(self) -> &'static str {
        match self {
            SyncStatus::Starting => "Connecting tabs…",
            SyncStatus::Leader => "In sync (this tab checks)",
            SyncStatus::Follower => "In sync",
            SyncStatus::Storage => "In sync (storage fallback)",
            SyncStatus::LeaderLost => "Not in sync: other tabs are not answering",
            SyncStatus::Alone => "Not in sync: this tab cannot reach the others",
            SyncStatus::Off => "Tab sync is off",
        }
    }

    pub fn healthy(self) -> bool {
        matches!(
            self,
            SyncStatus::Leader | SyncStatus::Follower | SyncStatus::Storage | SyncStatus::Off
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_locks_one_leader_emerges_and_a_new_one_follows_a_silent_one() {
        let mut a = Election::new("a".into(), 0.0);
        let mut b = Election::new("b".into(), 0.0);
        assert!(!a.tick(1_000.0) && !b.tick(1_000.0), "nobody leads before the timeout");
        assert!(a.tick(HEARTBEAT_TIMEOUT_MS) && b.tick(HEARTBEAT_TIMEOUT_MS), "both claim at once");
        b.heard("a", HEARTBEAT_TIMEOUT_MS + 10.0);
        a.heard("b", HEARTBEAT_TIMEOUT_MS + 10.0);
        assert!(a.leading() && !b.leading(), "the smaller id stays");
        b.heard("a", 5_000.0);
        assert!(!b.tick(5_000.0 + HEARTBEAT_TIMEOUT_MS - 1.0), "a live leader keeps its place");
        assert!(b.tick(5_000.0 + HEARTBEAT_TIMEOUT_MS), "a silent leader is replaced");
    }

    #[test]
    fn an_unanswered_ping_means_the_leader_is_gone() {
        let mut l = Liveness::default();
        assert!(l.answering(0.0));
        l.last_ping = Some(1_000.0);
        assert!(l.answering(1_000.0 + PONG_TIMEOUT_MS - 1.0));
        assert!(!l.answering(1_000.0 + PONG_TIMEOUT_MS));
        l.last_pong = Some(1_200.0);
        assert!(l.answering(10_000.0));
    }
}
