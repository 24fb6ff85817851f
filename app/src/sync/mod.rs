//! Cross-tab session sync. The logic is plain Rust, unit-tested under `cargo test`:
//! `messages` (what tabs say to each other, and which knowledge is newer), `record` (the
//! localStorage record for tabs without BroadcastChannel), `countdown` (the idle countdown and
//! its warning) and `leader` (who checks). `browser` wires them to BroadcastChannel,
//! localStorage, Web Locks and the page's events (hydrate only). On the server every entry point
//! here does nothing.
//!
//! Sync knows nothing of the session provider: the provider hands it a [`TabSignals`] (its
//! signals and two callbacks) at start, and calls [`share`], [`send`] and [`check_now`].

pub mod countdown;
pub mod figures;
pub mod leader;
pub mod messages;
pub mod record;
mod tab;

#[cfg(feature = "hydrate")]
mod browser;
#[cfg(test)]
pub(crate) mod fixtures;

#[cfg(feature = "hydrate")]
use leptos::prelude::*;
use messages::{Body, Known};
pub use tab::TabSignals;

/// Starts syncing this tab (browser only; once per page), after hydration and once the first
/// answer is known: everything it sets (the ticking clock, online state, sync status) would
/// otherwise differ from the server's HTML.
pub fn start(tab: TabSignals) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |started: Option<bool>| {
        if started == Some(true) {
            return true;
        }
        match tab.known() {
            Some(known) => {
                untrack(|| browser::start(tab, known.snapshot.client));
                true
            }
            None => false,
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = tab;
}

/// Shares committed knowledge with the other tabs now (browser only): the moment this tab learns
/// it, before it renders it, so other tabs render it at the same time.
pub fn share(known: &Known) {
    #[cfg(feature = "hydrate")]
    browser::share(known.clone());
    #[cfg(not(feature = "hydrate"))]
    let _ = known;
}

/// Tells every other tab (browser only).
pub fn send(body: Body) {
    #[cfg(feature = "hydrate")]
    browser::send(body);
    #[cfg(not(feature = "hydrate"))]
    let _ = body;
}

/// This tab is about to end the session for `reason` (browser only): tells every tab first, so
/// a tab whose check the server answers meanwhile still shows the right reason.
pub fn announce_end(reason: crate::models::EndReason) {
    #[cfg(feature = "hydrate")]
    browser::announce_end(reason);
    #[cfg(not(feature = "hydrate"))]
    let _ = reason;
}

/// `incoming` with the reason of a sign-out under way in this browser, if it needs one.
fn explain(incoming: Known) -> Known {
    #[cfg(feature = "hydrate")]
    return browser::explain(incoming);
    #[cfg(not(feature = "hydrate"))]
    incoming
}

/// This browser's clock in ms (`Date.now()`), for knowledge received now; `None` on the server.
pub fn local_now() -> Option<f64> {
    #[cfg(feature = "hydrate")]
    {
        Some(js_sys::Date::now())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}

/// Tells sync what a request of this tab got (browser only): the status, or `None` when the
/// request did not reach the server. Server functions report by themselves; other `fetch`es call
/// this.
#[cfg(feature = "hydrate")]
pub fn observe_response(status: Option<u16>) {
    browser::observe_response(status);
}

/// Checks the session with the server now, from this tab (browser only).
pub fn check_now() {
    #[cfg(feature = "hydrate")]
    browser::check_now();
}
