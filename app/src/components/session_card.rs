//! A session-aware component built only on the public session API (`use_session()`): the example
//! `docs/SESSION_API.md` walks through, shown at `/session`. It follows switches, logins and
//! expiry in other tabs with no code of its own for that.

use crate::providers::{use_session, SessionStatus};
use crate::sync::countdown::countdown;
use leptos::prelude::*;

/// An island: hydrated in the browser on its own, reading the session store the nav started.
/// Its parts are fixed and shown or hidden (`hidden=`), rather than views chosen by a `match`:
/// the browser build then carries no code for swapping views (see docs/ARCHITECTURE.md, "What
/// the browser build carries").
#[island]
pub fn SessionCard() -> impl IntoView {
    let session = use_session();
    let status = session.status();
    let platform = session.platform();
    let pending = session.pending_platform();
    let left = session.idle_left_ms();
    let signed_in = move || status.with(|s| matches!(s, SessionStatus::SignedIn));
    let not_signed_in = move || {
        status.with(|s| match s {
            SessionStatus::SignedIn => String::new(),
            SessionStatus::Loading => "Loading…".to_owned(),
            SessionStatus::SignedOut(why) => format!("Not signed in ({}).", why.as_str()),
            SessionStatus::Failed(e) => e.message().to_owned(),
        })
    };
    // The quick-switch buttons: one per platform, drawn again when the platforms change.
    let buttons = move || {
        session
            .platforms()
            .get()
            .into_iter()
            .map(|p| {
                view! {
                    <button
                        type="button"
                        disabled=move || !session.can_switch().get() || platform.get().map(|a| a.id) == Some(p.id)
                        on:click=move |_| session.switch_platform(p.id)
                    >
                        {p.label}
                    </button>
                }
            })
            .collect_view()
    };

    view! {
        <section class="card session-card" aria-label="Your session">
            <div hidden=move || !signed_in()>
                <p>
                    "Signed in as " <strong>{move || session.user().get().map(|u| u.display_name)}</strong>
                    ", session version " {move || session.state().with(|s| s.as_ref().map(|s| s.session.version.0))} "."
                </p>
                <p>
                    "Posting to " <strong>{move || platform.get().map(|p| p.label)}</strong>
                    {move || pending.get().map(|_| " (switching…)")}
                    ". Idle timeout in " {move || left.get().map(countdown)} "."
                </p>
                <div class="quick-switch" role="group" aria-label="Quick switch">{buttons}</div>
                <p class="meta">{move || session.sync_status().get().label()}</p>
            </div>
            <p hidden=signed_in class:error=move || status.with(|s| matches!(s, SessionStatus::Failed(_)))>{not_signed_in}</p>
        </section>
    }
}
