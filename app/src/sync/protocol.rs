//! The cross-tab protocol as plain data and decisions: what tabs say to each other, which
//! knowledge is newer, what a tab does with each message, who leads. No browser APIs here; the
//! browser layer (`sync::browser`) only moves strings and calls these functions.

use crate::models::SessionSnapshot;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;

/// The BroadcastChannel every tab of an origin joins.
pub const CHANNEL: &str = "switchboard-sync";
/// The one localStorage key Switchboard writes (see [`Record`]).
pub const RECORD_KEY: &str = "switchboard.sync";
/// The sessionStorage key holding this tab's id.
pub const TAB_ID_KEY: &str = "switchboard.tab";
/// Checks closer together than this are one check (focus and visibility often fire together).
pub const MIN_CHECK_GAP_MS: f64 = 1_000.0;

/// Milliseconds since the Unix epoch of an RFC 3339 time, or 0 if it is not one.
pub fn parse_ms(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or(0)
}

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
        let made = parse_ms(&self.snapshot.server_time);
        match (self.received_at, local_now) {
            (Some(received), Some(now)) => made + (now - received).max(0.0) as i64,
            _ => made,
        }
    }

    /// Milliseconds left before the idle timeout, if signed in.
    pub fn idle_left_ms(&self, local_now: Option<f64>) -> Option<i64> {
        let state = self.snapshot.state.as_ref()?;
        Some((parse_ms(&state.session.idle_expires_at) - self.server_now_ms(local_now)).max(0))
    }
}

/// What orders session knowledge: within one session its version (then its idle deadline, which
/// only "Stay signed in" and activity move); across sessions, when the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub session: Option<String>,
    pub version: i64,
    pub idle_expires_ms: i64,
    pub server_ms: i64,
}

impl Stamp {
    pub fn of(s: &SessionSnapshot) -> Self {
        let server_ms = parse_ms(&s.server_time);
        match &s.state {
            Some(st) => Stamp {
                session: Some(st.session.id.clone()),
                version: st.session.version,
                idle_expires_ms: parse_ms(&st.session.idle_expires_at),
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

/// The newer of two pieces of knowledge (`current` on a tie). A later signed-out answer keeps
/// the earlier one's reason: after "logged_out" a read says only "unauthenticated", but its
/// CSRF token is the newer one.
pub fn newest(current: Option<Known>, incoming: Known) -> Known {
    match current {
        Some(c) if !incoming.stamp().is_newer_than(&c.stamp()) => c,
        Some(c) if c.snapshot.state.is_none() && incoming.snapshot.state.is_none() => {
            let mut merged = incoming;
            if c.snapshot.ended.as_deref().is_some_and(|e| e != "unauthenticated") {
                merged.snapshot.ended = c.snapshot.ended;
            }
            merged
        }
        _ => incoming,
    }
}

/// RFC 3339 text for milliseconds since the Unix epoch.
pub fn format_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Body {
    /// Committed session knowledge (never a pending switch).
    State {
        known: Known,
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
    Adopt(Known),
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
        let env: Envelope = serde_json::from_str(raw).map_err(|_| Dropped::Malformed)?;
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
                        known: known.cloned().expect("current implies known"),
                    })]
                } else {
                    return Err(Dropped::Stale);
                }
            }
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
                Some(k) => vec![Action::Send(Body::State { known: k.clone() })],
                None => vec![],
            },
            Body::Hello => vec![],
        })
    }
}

/// The event a [`Record`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    SignedIn,
    Switched,
    Changed,
    LoggedOut,
    Expired,
    Revoked,
}

/// The only thing Switchboard keeps in localStorage: nothing secret (no token, CSRF token,
/// email or draft text), just enough for tabs without BroadcastChannel to notice a change and
/// ask the server. Removed when the session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Session version.
    pub v: i64,
    pub uid: Option<i64>,
    pub pid: Option<i64>,
    pub ev: Event,
    /// Server time of the event, ms since the Unix epoch.
    pub at: i64,
}

impl Record {
    /// The record for `now`, describing how it differs from `before`.
    pub fn of(before: Option<&SessionSnapshot>, now: &SessionSnapshot) -> Record {
        let at = parse_ms(&now.server_time);
        let Some(state) = &now.state else {
            let ev = match now.ended.as_deref() {
                Some("session_expired") => Event::Expired,
                Some("session_revoked") => Event::Revoked,
                _ => Event::LoggedOut,
            };
            return Record {
                v: 0,
                uid: None,
                pid: None,
                ev,
                at,
            };
        };
        let before = before.and_then(|b| b.state.as_ref());
        let pid = state.platform.as_ref().map(|p| p.id);
        let ev = match before {
            Some(b) if b.session.id == state.session.id => {
                if b.platform.as_ref().map(|p| p.id) != pid {
                    Event::Switched
                } else {
                    Event::Changed
                }
            }
            _ => Event::SignedIn,
        };
        Record {
            v: state.session.version,
            uid: Some(state.user.id),
            pid,
            ev,
            at,
        }
    }

    pub fn parse(raw: &str) -> Option<Record> {
        serde_json::from_str(raw).ok()
    }

    pub fn to_json(self) -> String {
        serde_json::to_string(&self).expect("records serialize")
    }
}

/// What a tab without BroadcastChannel does when another tab wrote (or removed) the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageAction {
    Ignore,
    /// Something changed: read the session from the server.
    Check,
    /// The session ended in another tab, for this reason (an `ended` code).
    Ended(&'static str),
}

pub fn on_record(record: Option<Record>, known: Option<&Known>) -> StorageAction {
    let Some(r) = record else {
        // Removal follows an end event, which already said why.
        return StorageAction::Ignore;
    };
    let stamp = known.map(Known::stamp);
    match r.ev {
        Event::LoggedOut | Event::Expired | Event::Revoked => {
            if stamp.as_ref().is_some_and(|s| s.session.is_none()) {
                return StorageAction::Ignore;
            }
            StorageAction::Ended(match r.ev {
                Event::Expired => "session_expired",
                Event::Revoked => "session_revoked",
                _ => "logged_out",
            })
        }
        _ => {
            let state = known.and_then(|k| k.snapshot.state.as_ref());
            let same =
                state.is_some_and(|s| s.session.version == r.v && Some(s.user.id) == r.uid && s.platform.as_ref().map(|p| p.id) == r.pid);
            let older = stamp.is_some_and(|s| r.at < s.server_ms && state.is_some_and(|st| st.session.version >= r.v));
            if same || older {
                StorageAction::Ignore
            } else {
                StorageAction::Check
            }
        }
    }
}

/// `29:41` or `1:02:03`.
pub fn countdown(ms: i64) -> String {
    let secs = (ms.max(0) + 999) / 1000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Whether the idle warning shows: close to the deadline, not dismissed for this deadline.
pub fn warning_due(left_ms: Option<i64>, warn_ms: u64, idle_expires_ms: i64, dismissed_for: Option<i64>) -> bool {
    left_ms.is_some_and(|left| left <= warn_ms as i64 && left > 0) && dismissed_for != Some(idle_expires_ms)
}

/// What the login page says when a tab was sent there because the session ended.
pub fn ended_message(code: &str) -> Option<&'static str> {
    match code {
        "logged_out" => Some("You signed out."),
        "session_expired" => Some("Your session expired after a period of inactivity. Sign in again to continue."),
        "session_revoked" => Some("Your session was ended. Sign in again to continue."),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{ClientSettings, PlatformView, SessionState, SessionView, UserView};

    fn platform(id: i64) -> PlatformView {
        PlatformView {
            id,
            kind: "mastodon".into(),
            label: format!("P{id}"),
            instance_url: "https://example.org".into(),
            handle: "@me".into(),
        }
    }

    fn signed_in(sid: &str, version: i64, pid: i64, expires: &str, at: &str) -> Known {
        Known {
            snapshot: SessionSnapshot {
                state: Some(SessionState {
                    user: UserView {
                        id: 7,
                        email: "a@example.org".into(),
                        display_name: "A".into(),
                        is_admin: false,
                    },
                    platform: Some(platform(pid)),
                    platforms: vec![platform(1), platform(2)],
                    session: SessionView {
                        id: sid.into(),
                        created_at: "2026-01-01T00:00:00Z".into(),
                        last_seen_at: "2026-01-01T00:00:00Z".into(),
                        idle_expires_at: expires.into(),
                        absolute_expires_at: "2026-01-01T12:00:00Z".into(),
                        version,
                    },
                    csrf_token: "t".into(),
                    server_time: at.into(),
                }),
                ended: None,
                csrf_token: "t".into(),
                server_time: at.into(),
                client: ClientSettings::default(),
            },
            received_at: Some(1_000.0),
        }
    }

    fn signed_out(ended: &str, at: &str) -> Known {
        Known {
            snapshot: SessionSnapshot {
                state: None,
                ended: Some(ended.into()),
                csrf_token: "t".into(),
                server_time: at.into(),
                client: ClientSettings::default(),
            },
            received_at: Some(1_000.0),
        }
    }

    const T0: &str = "2026-01-01T00:00:00Z";
    const T1: &str = "2026-01-01T00:00:01Z";
    const T2: &str = "2026-01-01T00:00:02Z";
    const EXP: &str = "2026-01-01T00:30:00Z";
    const EXP2: &str = "2026-01-01T00:31:00Z";

    fn state_msg(peer: &mut Peer, known: Known) -> String {
        let v = known.stamp().version;
        peer.envelope(v, Body::State { known })
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
        let logout = signed_out("logged_out", T1);
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
        let logout = signed_out("logged_out", T1);
        let mut later = signed_out("unauthenticated", T2);
        later.snapshot.csrf_token = "fresh".into();
        let merged = newest(Some(logout.clone()), later);
        assert_eq!(merged.snapshot.ended.as_deref(), Some("logged_out"));
        assert_eq!(merged.snapshot.csrf_token, "fresh");
        assert_eq!(newest(Some(merged.clone()), logout), merged, "an older one changes nothing");
        assert_eq!(format_ms(parse_ms(T2)), T2);
    }

    #[test]
    fn a_newer_state_is_adopted_and_a_stale_or_repeated_one_is_not() {
        let mut a = Peer::new("a".into(), 100);
        let mut b = Peer::new("b".into(), 0);
        let mine = signed_in("s1", 3, 1, EXP, T0);
        let newer = signed_in("s1", 4, 2, EXP, T1);
        let msg = state_msg(&mut a, newer.clone());
        assert_eq!(b.receive(&msg, Some(&mine), false), Ok(vec![Action::Adopt(newer.clone())]));
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
            Ok(vec![Action::Send(Body::State { known: current.clone() })])
        );
        let hello = newcomer.envelope(3, Body::Hello);
        assert_eq!(
            leader.receive(&hello, Some(&current), true),
            Ok(vec![Action::Send(Body::State { known: current.clone() })])
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
            "{\"from\":\"x\",\"seq\":1,\"v\":1,\"body\":{\"kind\":\"nope\"}}",
            "[1,2]",
        ] {
            assert_eq!(p.receive(raw, None, false), Err(Dropped::Malformed), "{raw}");
        }
        let extra = "{\"from\":\"x\",\"seq\":1,\"v\":1,\"body\":{\"kind\":\"ping\"},\"token\":\"secret\"}";
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
        let exp = parse_ms(EXP);
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

    #[test]
    fn the_record_holds_only_allowlisted_fields() {
        let before = signed_in("s1", 3, 1, EXP, T0);
        let after = signed_in("s1", 4, 2, EXP, T1);
        let r = Record::of(Some(&before.snapshot), &after.snapshot);
        assert_eq!(r.ev, Event::Switched);
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["at", "ev", "pid", "uid", "v"]);
        assert!(!r.to_json().contains("a@example.org") && !r.to_json().contains("\"t\""));
        assert_eq!(Record::of(None, &after.snapshot).ev, Event::SignedIn);
        assert_eq!(
            Record::of(Some(&after.snapshot), &signed_out("session_expired", T2).snapshot).ev,
            Event::Expired
        );
        assert_eq!(
            Record::parse("{\"v\":1,\"uid\":1,\"pid\":1,\"ev\":\"switched\",\"at\":1,\"email\":\"x\"}"),
            None
        );
    }

    #[test]
    fn storage_events_lead_to_a_check_or_an_end() {
        let known = signed_in("s1", 3, 1, EXP, T1);
        let same = Record::of(None, &known.snapshot);
        assert_eq!(on_record(Some(same), Some(&known)), StorageAction::Ignore);
        let switched = Record::of(Some(&known.snapshot), &signed_in("s1", 4, 2, EXP, T2).snapshot);
        assert_eq!(on_record(Some(switched), Some(&known)), StorageAction::Check);
        let out = Record::of(Some(&known.snapshot), &signed_out("logged_out", T2).snapshot);
        assert_eq!(on_record(Some(out), Some(&known)), StorageAction::Ended("logged_out"));
        assert_eq!(on_record(None, Some(&known)), StorageAction::Ignore);
        let already_out = signed_out("logged_out", T2);
        assert_eq!(on_record(Some(out), Some(&already_out)), StorageAction::Ignore);
    }

    #[test]
    fn every_tab_counts_down_from_the_same_server_deadline() {
        let k = signed_in("s1", 1, 1, "2026-01-01T00:30:00Z", T0);
        assert_eq!(k.idle_left_ms(None), Some(30 * 60_000), "server-rendered: server time");
        assert_eq!(k.idle_left_ms(Some(61_000.0)), Some(29 * 60_000), "a minute after it arrived");
        assert_eq!(countdown(29 * 60_000 + 41_000), "29:41");
        assert_eq!(countdown(3_723_000), "1:02:03");
        assert_eq!(countdown(400), "0:01");
        let exp = parse_ms(EXP);
        assert!(warning_due(Some(60_000), 120_000, exp, None));
        assert!(!warning_due(Some(60_000), 120_000, exp, Some(exp)), "dismissed for this deadline");
        assert!(warning_due(Some(60_000), 120_000, exp, Some(exp - 1)), "a new deadline warns again");
        assert!(!warning_due(Some(180_000), 120_000, exp, None));
        assert!(!warning_due(Some(0), 120_000, exp, None), "at zero the session is over, not warned");
    }

    #[test]
    fn rfc3339_times_parse_to_milliseconds() {
        assert_eq!(parse_ms("1970-01-01T00:00:01.5Z"), 1_500);
        assert_eq!(parse_ms("not a time"), 0);
    }
}
