//! The storage record: the only thing Switchboard keeps in localStorage, for tabs without
//! BroadcastChannel. It carries no secret, just enough for another tab to notice a change and
//! ask the server.

use super::messages::Known;
use crate::models::{text_enum, EndReason, PlatformId, SessionSnapshot, UserId};
use serde::{Deserialize, Serialize};

/// The one localStorage key Switchboard writes.
pub const RECORD_KEY: &str = "switchboard.sync";

text_enum! {
    /// The event a [`Record`] reports.
    pub enum Event {
        SignedIn = "signed_in",
        Switched = "switched",
        Changed = "changed",
        LoggedOut = "logged_out",
        Expired = "expired",
        Revoked = "revoked",
    }
}

/// The only thing Switchboard keeps in localStorage: nothing secret (no token, CSRF token,
/// email or draft text), just enough for tabs without BroadcastChannel to notice a change and
/// ask the server. Removed when the session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Session version (0 when signed out).
    pub v: i64,
    pub uid: Option<UserId>,
    pub pid: Option<PlatformId>,
    pub ev: Event,
    /// Server time of the event, ms since the Unix epoch.
    pub at: i64,
}

impl Record {
    /// The record for `now`, describing how it differs from `before`.
    pub fn of(before: Option<&SessionSnapshot>, now: &SessionSnapshot) -> Record {
        let at = now.server_time.millis();
        let Some(state) = &now.state else {
            let ev = match now.ended {
                Some(EndReason::SessionExpired) => Event::Expired,
                Some(EndReason::SessionRevoked) => Event::Revoked,
                Some(EndReason::LoggedOut | EndReason::Unauthenticated) | None => Event::LoggedOut,
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
        let pid = state.platform_id();
        let ev = match before {
            Some(b) if b.session.id == state.session.id => {
                if b.platform_id() != pid {
                    Event::Switched
                } else {
                    Event::Changed
                }
            }
            _ => Event::SignedIn,
        };
        Record {
            v: state.session.version.0,
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
    /// The session ended in another tab, for this reason.
    Ended(EndReason),
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
                Event::Expired => EndReason::SessionExpired,
                Event::Revoked => EndReason::SessionRevoked,
                _ => EndReason::LoggedOut,
            })
        }
        _ => {
            let state = known.and_then(|k| k.snapshot.state.as_ref());
            let same = state.is_some_and(|s| s.session.version.0 == r.v && Some(s.user.id) == r.uid && s.platform_id() == r.pid);
            let older = stamp.is_some_and(|s| r.at < s.server_ms && state.is_some_and(|st| st.session.version.0 >= r.v));
            if same || older {
                StorageAction::Ignore
            } else {
                StorageAction::Check
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::fixtures::*;

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
            Record::of(Some(&after.snapshot), &signed_out(EndReason::SessionExpired, T2).snapshot).ev,
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
        let out = Record::of(Some(&known.snapshot), &signed_out(EndReason::LoggedOut, T2).snapshot);
        assert_eq!(on_record(Some(out), Some(&known)), StorageAction::Ended(EndReason::LoggedOut));
        assert_eq!(on_record(None, Some(&known)), StorageAction::Ignore);
        let already_out = signed_out(EndReason::LoggedOut, T2);
        assert_eq!(on_record(Some(out), Some(&already_out)), StorageAction::Ignore);
    }
}
