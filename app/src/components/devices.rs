//! "Signed in on N devices": a small component on the session API and one server function
//! (`GET /api/session_count`), the example of docs/SESSION_API.md for loading account data that
//! follows the session.

use crate::functions::client::call;
use crate::functions::SessionCount;
use crate::providers::use_session;
use leptos::prelude::*;

/// How many live sessions the account has, read again whenever the session changes (a switch, a
/// new login, an ended session noticed by any tab). An island (hydrated on its own in the
/// browser, reading the session store the nav started); the server-rendered page shows nothing
/// here until it is hydrated, which keeps the component cheap.
#[island]
pub fn SignedInDevices() -> impl IntoView {
    let state = use_session().state();
    let count = RwSignal::new(None::<i64>);
    Effect::new(move |_| {
        // Follow the session: who is signed in and its version.
        state.with(|s| s.as_ref().map(|s| (s.session.id.clone(), s.session.version)));
        leptos::task::spawn_local(async move {
            if let Ok(n) = call::<SessionCount>(&[]).await {
                count.set(Some(n as i64));
            }
        });
    });
    move || {
        count.get().map(|n| {
            let devices = if n == 1 { "device" } else { "devices" };
            view! { <p class="devices">{format!("Signed in on {n} {devices}.")}</p> }
        })
    }
}
