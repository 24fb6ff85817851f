//! The page's side of sync: the session signals the provider hands over at start, and how a
//! tab adopts knowledge (the newest wins, and what is new is shared with the other tabs).

use super::leader::SyncStatus;
use super::messages::{newest, Known};
use crate::error::ApiError;
use leptos::prelude::*;

/// What sync reads and changes in the page. The session provider makes it and owns the signals.
#[derive(Clone, Copy)]
pub struct TabSignals {
    /// Knowledge adopted after the page loaded (browser only).
    pub live: RwSignal<Option<Known>>,
    /// The newest of the server-rendered answer and `live`: `None` until the first answer,
    /// `Err` if it failed.
    pub current: Signal<Option<Result<Known, ApiError>>>,
    /// Tells the user something (text, whether it is an error).
    pub notify: Callback<(String, bool)>,
    /// `navigator.onLine`.
    pub online: RwSignal<bool>,
    /// Whether the last request reached the server.
    pub reachable: RwSignal<bool>,
    pub status: RwSignal<SyncStatus>,
    /// This browser's clock, ticking every second once hydrated (`None` while rendering on the
    /// server and hydrating, so both render the same countdown).
    pub now: RwSignal<Option<f64>>,
    /// The idle deadline (ms) whose warning was dismissed.
    pub dismissed_warning: RwSignal<Option<i64>>,
}

impl TabSignals {
    /// The newest committed knowledge (tracked).
    pub fn known(&self) -> Option<Known> {
        self.current.get().and_then(Result::ok)
    }

    /// The newest committed knowledge, without tracking.
    pub fn known_untracked(&self) -> Option<Known> {
        self.current.get_untracked().and_then(Result::ok)
    }

    /// Adopts `incoming` if it is newer than what this tab knows, sharing it with the other
    /// tabs. Returns whether it was newer.
    pub fn adopt(&self, incoming: Known) -> bool {
        let known = self.known_untracked();
        // The first adoption also dates the server-rendered answer, so the countdown can tick.
        let first = self.live.with_untracked(Option::is_none);
        let received_at = incoming.received_at;
        let mut chosen = newest(known.clone(), super::explain(incoming));
        let changed = known.as_ref().map(|c| &c.snapshot) != Some(&chosen.snapshot);
        if !changed && !first {
            return false;
        }
        chosen.received_at = chosen.received_at.or(received_at);
        if changed {
            super::share(&chosen);
        }
        self.live.set(Some(chosen));
        changed
    }
}
