//! Messages and ordering: what tabs say to each other over the channel, which knowledge is
//! newer, and what a tab does with each message. Plain data and decisions, no browser APIs; the
//! browser layer (`sync::browser`) only moves strings and calls these functions.

use crate::models::{EndReason, PublicSessionId, SessionSnapshot};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The BroadcastChannel every tab of an origin joins. Its name carries the version of the message
/// format, so tabs of builds that speak different formats (say, an old tab still open after a
/// deploy) do not hear each other, rather than dropping each other's messages as malformed.
pub const CHANNEL: &str = "switchboard-sync.2";
/// The sessionStorage key holding this tab's id.
pub const TAB_ID_KEY: &str = "switchboard.tab";
/// Checks closer together than this are one check (focus and visibility often fire together).
pub const MIN_CHECK_GAP_MS: f64 = 1_000.0;

/// A session answer plus when this browser received it from the server (its local clock, shared
/// by all its tabs). Tabs pass both along, so every tab derives the same countdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Known {
    pub snapshot: SessionSnapshot,
    /// `Date.now()` when the server's answer arrived; `None` for the server-rendered answer
    /// before the page has hydrated.
    pub received_at: Option<f64>,
}

impl Known {
    pub fn stamp(&self) -> Stamp {
        Stamp::of(&self.snapshot)
    }

    /// The server's clock now, estimated from when this answer was made and received.
    pub fn server_now_ms(&self, local_now: Option<f64>) -> i64 {
        let made = self.snapshot.server_time.millis();
        match (self.received_at, local_now) {
            (Some(received), Some(now)) => made + (now - received).max(0.0) as i64,
            _ => made,
        }
    }

    /// Milliseconds left before the idle timeout, if signed in.
    pub fn idle_left_ms(&self, local_now: Option<f64>) -> Option<i64> {
        let state = self.snapshot.state.as_ref()?;
        Some((state.session.idle_expires_at.millis() - self.server_now_ms(local_now)).max(0))
    }
}

/// What orders session knowledge: within one session its version (then its idle deadline, which
/// only "Stay signed in" and activity move); across sessions, when the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub session: Option<PublicSessionId>,
    pub version: i64,
    pub idle_expires_ms: i64,
    pub server_ms: i64,
}

impl Stamp {
    pub fn of(s: &SessionSnapshot) -> Self {
        let server_ms = s.server_time.millis();
        match &s.state {
            Some(st) => Stamp {
                session: Some(st.session.id.clone()),
                version: st.session.version.0,
                idle_expires_ms: st.session.idle_expires_at.millis(),
                server_ms,
            },
            None => Stamp {
                session: None,
                version: 0,
                idle_expires_ms: 0,
                server_ms,
            },
        }
    }

    /// Whether this is newer knowledge than `current`. Equal knowledge is not newer, so
    /// duplicates change nothing.
    pub fn is_newer_than(&self, current: &Stamp) -> bool {
        match (&self.session, &current.session) {
            (Some(a), Some(b)) if a == b => (self.version, self.idle_expires_ms) > (current.version, current.idle_expires_ms),
            _ => self.server_ms > current.server_ms,
        }
    }
}

/// How long an announced end ([`Body::Ending`]) explains signed-out answers: well past any
/// sign-out request's round trip.
pub const ENDING_MS: f64 = 10_000.0;

/// A sign-out some tab of this browser has started: until `until_ms`, a signed-out answer that
/// cannot say why ("unauthenticated") is that sign-out. Without it, a tab whose check the server
/// answered just after the sign-out, but before the signing-out tab's news arrived, would tell
/// its user "sign in" instead of "you signed out".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ending {
    pub reason: EndReason,
    pub until_ms: i64,
}

impl Ending {
    pub fn starting(reason: EndReason, now_ms: f64) -> Self {
        Self {
            reason,
            until_ms: (now_ms + ENDING_MS) as i64,
        }
    }

    /// Whether the end is still fresh at `now_ms` (its sign-out may still be under way).
    pub fn under_way(&self, now_ms: f64) -> bool {
        (now_ms as i64) < self.until_ms
    }

    /// `incoming`, with this end's reason if it is a signed-out answer without one of its own
    /// and the end is still fresh at `now_ms`.
    pub fn explain(&self, mut incoming: Known, now_ms: f64) -> Known {
        let unexplained = incoming.snapshot.state.is_none() && incoming.snapshot.ended.is_none_or(|e| e == EndReason::Unauthenticated);
        if unexplained && self.under_way(now_ms) {
            incoming.snapshot.ended = Some(self.reason);
        }
        incoming
    }
}

/// The newer of two pieces of knowledge (`current` on a tie). A later signed-out answer keeps
/// the earlier one's reason: after "logged_out" a read says only "unauthenticated", but its
/// CSRF token is the newer one.
pub fn newest(current: Option<Known>, incoming: Known) -> Known {
    match current {
        Some(c) if !incoming.stamp().is_newer_than(&c.stamp()) => c,
        Some(c) if c.snapshot.state.is_none() && incoming.snapshot.state.is_none() => {
            let mut merged = incoming;
            if c.snapshot.ended.is_some_and(|e| e != EndReason::Unauthenticated) {
                merged.snapshot.ended = c.snapshot.ended;
            }
            merged
        }
        _ => incoming,
    }
}

/// One message on the channel. Every message carries the sender's session version (`v`, 0 when
/// signed out) and a per-sender sequence number that only grows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub from: String,
    pub seq: u64,
    pub v: i64,
    pub body: Body,
}

/// Externally tagged (`{"state":{…}}`, `"ping"`): an internally tagged enum is read through
/// serde's buffering deserializer, which doubles the browser build's code for every type a
/// message carries (the session state and all it holds), about 20 KB of WASM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Body {
    /// Committed session knowledge (never a pending switch).
    State {
        known: Box<Known>,
    },
    /// This tab is ending the session (sent before the request goes out).
    Ending {
        reason: EndReason,
    },
    /// Something every tab should tell its user (e.g. a switch in one tab failed).
    Notice {
        text: String,
        error: bool,
    },
    /// The idle warning for this deadline was dismissed in some tab.
    WarningDismissed {
        idle_expires_ms: i64,
    },
    /// A tab saw focus, visibility, `pageshow` or `online`: the leader should check now.
    CheckRequest,
    /// Followers asking "is the leader there?", and its answer.
    Ping,
    Pong,
    /// Without Web Locks: the leader is alive.
    Heartbeat,
    /// A new tab: the leader answers with what it knows.
    Hello,
}

/// What a tab should do about a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Adopt(Box<Known>),
    ExpectEnd(EndReason),
    Send(Body),
    CheckNow,
    Toast { text: String, error: bool },
    DismissWarning(i64),
    LeaderAnswered,
    HeardHeartbeat(String),
}

/// Why a message was dropped (counted, and useful in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    Malformed,
    Own,
    Duplicate,
    Stale,
}

/// One tab's side of the protocol.
#[derive(Debug)]
pub struct Peer {
    pub tab: String,
    seq: u64,
    last_seq: HashMap<String, u64>,
}

impl Peer {
    /// `first_seq` should differ between page loads (e.g. the load time in ms), so a tab that
    /// reloads, or a duplicated tab that copied its id, never reuses sequence numbers.
    pub fn new(tab: String, first_seq: u64) -> Self {
        Self {
            tab,
            seq: first_seq,
            last_seq: HashMap::new(),
        }
    }

    /// The next message to send, as JSON.
    pub fn envelope(&mut self, v: i64, body: Body) -> String {
        self.seq += 1;
        let env = Envelope {
            from: self.tab.clone(),
            seq: self.seq,
            v,
            body,
        };
        serde_json::to_string(&env).expect("messages serialize")
    }

    /// Decides what to do with a raw message, given what this tab knows and whether it leads.
    pub fn receive(&mut self, raw: &str, known: Option<&Known>, leading: bool) -> Result<Vec<Action>, Dropped> {
        // `from_slice`, the reader server functions' answers are read with: one copy of the
        // session types' deserializer in the browser build, not one per reader.
        let env: Envelope = serde_json::from_slice(raw.as_bytes()).map_err(|_| Dropped::Malformed)?;
        if env.from == self.tab {
            return Err(Dropped::Own);
        }
        let last = self.last_seq.entry(env.from.clone()).or_insert(0);
        if env.seq <= *last {
            return Err(Dropped::Duplicate);
        }
        *last = env.seq;
        let current = known.map(Known::stamp);
        let my_version = current.as_ref().map_or(0, |s| s.version);
        Ok(match env.body {
            Body::State { known: incoming } => {
                let newer = current.as_ref().is_none_or(|c| incoming.stamp().is_newer_than(c));
                if newer {
                    vec![Action::Adopt(incoming)]
                } else if leading && current.as_ref().is_some_and(|c| c.is_newer_than(&incoming.stamp())) {
                    // The sender is behind; the leader brings it up to date.
                    vec![Action::Send(Body::State {
                        known: Box::new(known.cloned().expect("current implies known")),
                    })]
                } else {
                    return Err(Dropped::Stale);
                }
            }
            Body::Ending { reason } => vec![Action::ExpectEnd(reason)],
            Body::Notice { text, error } => vec![Action::Toast { text, error }],
            Body::WarningDismissed { idle_expires_ms } => {
                let live = current.as_ref().is_some_and(|c| c.idle_expires_ms == idle_expires_ms);
                if !live {
                    return Err(Dropped::Stale);
                }
                vec![Action::DismissWarning(idle_expires_ms)]
            }
            Body::CheckRequest if leading => vec![Action::CheckNow],
            Body::CheckRequest => vec![],
            Body::Ping if leading => vec![Action::Send(Body::Pong)],
            Body::Ping => vec![],
            Body::Pong => vec![Action::LeaderAnswered],
            Body::Heartbeat => {
                let mut actions = vec![Action::HeardHeartbeat(env.from)];
                // A sender that knows a newer version than ours: ask for a check.
                if env.v > my_version && !leading {
                    actions.push(Action::Send(Body::CheckRequest));
                }
                actions
            }
            Body::Hello if leading => match known {
                Some(k) => vec![Action::Send(Body::State {
                    known: Box::new(k.clone()),
                })],
                None => vec![],
            },
            Body::Hello => vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::EndReason;
    use crate::sync::fixtures::*;

    fn state_msg(peer: &mut Peer, known: Known) -> String {
        let v = known.stamp().version;
        peer.envelope(v, Body::State { known: Box::new(known) })
    }

    #[test]
    fn within_a_session_the_higher_version_wins_whatever_the_clock() {
        let v3 = signed_in("s1", 3, 1, EXP, T2);
        let v4 = signed_in("s1", 4, 2, EXP, T1);
        assert!(v4.stamp().is_newer_than(&v3.stamp()));
        assert!(!v3.stamp().is_newer_than(&v4.stamp()));
        assert_eq!(newest(Some(v4.clone()), v3), v4, "an older version never replaces a newer one");
    }

    #[test]
    fn a_later_idle_deadline_is_newer_at_the_same_version() {
        let before = signed_in("s1", 3, 1, EXP, T0);
        let extended = signed_in("s1", 3, 1, EXP2, T1);
        assert!(extended.stamp().is_newer_than(&before.stamp()));
        assert!(!before.stamp().is_newer_than(&before.stamp()), "equal knowledge is not newer");
    }

    #[test]
    fn across_sessions_the_later_answer_wins() {
        let old = signed_in("s1", 9, 1, EXP, T0);
        let logout = signed_out(EndReason::LoggedOut, T1);
        let login = signed_in("s2", 1, 1, EXP, T2);
        assert!(logout.stamp().is_newer_than(&old.stamp()));
        assert!(
            !old.stamp().is_newer_than(&logout.stamp()),
            "a late message from the old session is stale"
        );
        assert!(login.stamp().is_newer_than(&logout.stamp()));
    }

    #[test]
    fn a_later_signed_out_answer_brings_its_token_but_keeps_the_reason() {
        let logout = signed_out(EndReason::LoggedOut, T1);
        let mut later = signed_out(EndReason::Unauthenticated, T2);
        later.snapshot.csrf_token = "fresh".into();
        let merged = newest(Some(logout.clone()), later);
        assert_eq!(merged.snapshot.ended, Some(EndReason::LoggedOut));
        assert_eq!(merged.snapshot.csrf_token, "fresh");
        assert_eq!(newest(Some(merged.clone()), logout), merged, "an older one changes nothing");
    }

    #[test]
    fn an_announced_sign_out_explains_an_unexplained_signed_out_answer_while_fresh() {
        let mut a = Peer::new("a".into(), 0);
        let mut b = Peer::new("b".into(), 0);
        let msg = a.envelope(
            3,
            Body::Ending {
                reason: EndReason::LoggedOut,
            },
        );
        assert_eq!(b.receive(&msg, None, false), Ok(vec![Action::ExpectEnd(EndReason::LoggedOut)]));

        let ending = Ending::starting(EndReason::LoggedOut, 1_000.0);
        // The check answered after the sign-out, before the signing-out tab's news.
        let check = signed_out(EndReason::Unauthenticated, T2);
        assert_eq!(ending.explain(check.clone(), 2_000.0).snapshot.ended, Some(EndReason::LoggedOut));
        let mut no_reason = check.clone();
        no_reason.snapshot.ended = None;
        assert_eq!(ending.explain(no_reason, 2_000.0).snapshot.ended, Some(EndReason::LoggedOut));
        // Too late, a reason of its own, or still signed in: unchanged.
        assert_eq!(ending.explain(check.clone(), 1_000.0 + ENDING_MS), check);
        let revoked = signed_out(EndReason::SessionRevoked, T2);
        assert_eq!(ending.explain(revoked.clone(), 2_000.0), revoked);
        let signed_in = signed_in("s2", 1, 1, EXP, T2);
        assert_eq!(ending.explain(signed_in.clone(), 2_000.0), signed_in);
    }

    #[test]
    fn a_newer_state_is_adopted_and_a_stale_or_repeated_one_is_not() {
        let mut a = Peer::new("a".into(), 100);
        let mut b = Peer::new("b".into(), 0);
        let mine = signed_in("s1", 3, 1, EXP, T0);
        let newer = signed_in("s1", 4, 2, EXP, T1);
        let msg = state_msg(&mut a, newer.clone());
        assert_eq!(
            b.receive(&msg, Some(&mine), false),
            Ok(vec![Action::Adopt(Box::new(newer.clone()))])
        );
        assert_eq!(b.receive(&msg, Some(&newer), false), Err(Dropped::Duplicate));
        let stale = state_msg(&mut a, mine.clone());
        assert_eq!(b.receive(&stale, Some(&newer), false), Err(Dropped::Stale));
    }

    #[test]
    fn the_leader_answers_a_tab_that_is_behind() {
        let mut newcomer = Peer::new("n".into(), 0);
        let mut leader = Peer::new("l".into(), 0);
        let old = signed_in("s1", 3, 1, EXP, T0);
        let current = signed_in("s1", 5, 2, EXP, T1);
        let msg = state_msg(&mut newcomer, old.clone());
        assert_eq!(
            leader.receive(&msg, Some(&current), true),
            Ok(vec![Action::Send(Body::State {
                known: Box::new(current.clone())
            })])
        );
        let hello = newcomer.envelope(3, Body::Hello);
        assert_eq!(
            leader.receive(&hello, Some(&current), true),
            Ok(vec![Action::Send(Body::State {
                known: Box::new(current.clone())
            })])
        );
        let mut follower = Peer::new("f".into(), 0);
        assert_eq!(
            follower.receive(&hello, Some(&current), false),
            Ok(vec![]),
            "only the leader answers"
        );
    }

    #[test]
    fn malformed_and_own_messages_are_dropped() {
        let mut p = Peer::new("me".into(), 0);
        for raw in [
            "",
            "null",
            "{}",
            "{\"from\":\"x\",\"seq\":1,\"v\":1,\"body\":\"nope\"}",
            "{\"from\":\"x\",\"seq\":1,\"v\":1,\"body\":{\"kind\":\"ping\"}}",
            "[1,2]",
        ] {
            assert_eq!(p.receive(raw, None, false), Err(Dropped::Malformed), "{raw}");
        }
        let extra = "{\"from\":\"x\",\"seq\":1,\"v\":1,\"body\":\"ping\",\"token\":\"secret\"}";
        assert_eq!(p.receive(extra, None, false), Err(Dropped::Malformed), "unknown fields are refused");
        let mut me_again = Peer::new("me".into(), 50);
        let own = me_again.envelope(0, Body::Ping);
        assert_eq!(p.receive(&own, None, true), Err(Dropped::Own));
    }

    #[test]
    fn only_the_leader_checks_and_answers_pings() {
        let mut f = Peer::new("f".into(), 0);
        let mut l = Peer::new("l".into(), 0);
        let ask = f.envelope(0, Body::CheckRequest);
        assert_eq!(l.receive(&ask, None, true), Ok(vec![Action::CheckNow]));
        let mut other = Peer::new("o".into(), 0);
        assert_eq!(other.receive(&ask, None, false), Ok(vec![]));
        let ping = f.envelope(0, Body::Ping);
        assert_eq!(l.receive(&ping, None, true), Ok(vec![Action::Send(Body::Pong)]));
        let pong = l.envelope(0, Body::Pong);
        assert_eq!(f.receive(&pong, None, false), Ok(vec![Action::LeaderAnswered]));
    }

    #[test]
    fn a_dismissal_applies_only_to_the_deadline_it_was_for() {
        let mut a = Peer::new("a".into(), 0);
        let mut b = Peer::new("b".into(), 0);
        let known = signed_in("s1", 3, 1, EXP, T0);
        let exp = time(EXP).millis();
        let msg = a.envelope(3, Body::WarningDismissed { idle_expires_ms: exp });
        assert_eq!(b.receive(&msg, Some(&known), false), Ok(vec![Action::DismissWarning(exp)]));
        let old = a.envelope(
            3,
            Body::WarningDismissed {
                idle_expires_ms: exp - 60_000,
            },
        );
        assert_eq!(b.receive(&old, Some(&known), false), Err(Dropped::Stale));
    }
}
