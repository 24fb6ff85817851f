//! Cross-tab session sync. `protocol` (messages, ordering, the storage record) and `leader` (who
//! checks) are the logic, plain Rust and unit-tested; `browser` wires them
//! to BroadcastChannel, localStorage, Web Locks and the page's events (hydrate only). On the
//! server every entry point here does nothing.

pub mod leader;
pub mod protocol;

#[cfg(feature = "hydrate")]
mod browser;

use crate::session::SessionContext;
use protocol::Body;

/// Starts syncing this tab (browser only; once per page), after hydration: everything it sets
/// (the ticking clock, online state, sync status) would otherwise differ from the server's HTML.
pub fn start(ctx: SessionContext) {
    #[cfg(feature = "hydrate")]
    leptos::prelude::Effect::new(move |_| leptos::prelude::untrack(|| browser::start(ctx)));
    #[cfg(not(feature = "hydrate"))]
    let _ = ctx;
}

/// Shares committed knowledge with the other tabs now (browser only): the moment this tab learns
/// it, before it renders it, so other tabs render it at the same time.
pub fn share(known: &protocol::Known) {
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

/// Checks the session with the server now, from this tab (browser only).
pub fn check_now() {
    #[cfg(feature = "hydrate")]
    browser::check_now();
}

/// What an API answer says about the connection: `None` when the request failed to reach the
/// server, else its status.
pub fn observe_response(status: Option<u16>) {
    #[cfg(feature = "hydrate")]
    browser::observe_response(status);
    #[cfg(not(feature = "hydrate"))]
    let _ = status;
}
