//! The page's side of sync: the signals and callbacks the session provider hands over at start.

use super::leader::SyncStatus;
use super::messages::Known;
use leptos::prelude::*;

/// What sync reads and changes in the page. The session provider makes it and owns the signals.
#[derive(Clone, Copy)]
pub struct TabSignals {
    /// The newest committed knowledge this tab has (`None` before the first answer).
    pub known: Signal<Option<Known>>,
    /// Adopts knowledge if it is newer than what the tab has; answers whether it was.
    pub adopt: Callback<Known, bool>,
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
