//! A session-aware component built only on the public session API (`use_session()`): the example
//! `docs/SESSION_API.md` walks through, shown at `/session`. It follows switches, logins and
//! expiry in other tabs with no code of its own for that.

use crate::providers::{use_session, SessionStatus};
use crate::sync::countdown::countdown;
use leptos::prelude::*;

/// An island: hydrated in the browser on its own, reading the session store the nav started.
#[island]
pub fn SessionCard() -> impl IntoView {
    let session = use_session();
    let platform = session.platform();
    let pending = session.pending_platform();
    let left = session.idle_left_ms();

    view! {
        <section class="card session-card" aria-label="Your session">
            {move || match session.status().get() {
                SessionStatus::SignedIn => view! {
                    <p>
                        "Signed in as " <strong>{move || session.user().get().map(|u| u.display_name)}</strong>
                        ", session version " {move || session.state().with(|s| s.as_ref().map(|s| s.session.version.0))} "."
                    </p>
                    <p>
                        "Posting to " <strong>{move || platform.get().map(|p| p.label)}</strong>
                        {move || pending.get().map(|_| view! { <em>" (switching…)"</em> })}
                        ". Idle timeout in " {move || left.get().map(countdown)} "."
                    </p>
                    <div class="quick-switch" role="group" aria-label="Quick switch">
                        <For each=move || session.platforms().get() key=|p| p.id let:p>
                            <button
                                type="button"
                                disabled=move || !session.can_switch().get() || platform.get().map(|a| a.id) == Some(p.id)
                                on:click=move |_| session.switch_platform(p.id)
                            >
                                {p.label.clone()}
                            </button>
                        </For>
                    </div>
                    <p class="meta">{move || session.sync_status().get().label()}</p>
                }
                .into_any(),
                SessionStatus::Loading => view! { <p>"Loading…"</p> }.into_any(),
                SessionStatus::SignedOut(why) => view! { <p>"Not signed in (" {why.as_str()} ")."</p> }.into_any(),
                SessionStatus::Failed(e) => view! { <p class="error">{e.message().to_owned()}</p> }.into_any(),
            }}
        </section>
    }
}
