//! "Signed in on N devices": a small component on the session API and one server function, the
//! example of docs/SESSION_API.md for reading the account's sessions.

use crate::functions::list_sessions;
use crate::providers::use_session;
use leptos::prelude::*;

/// How many live sessions the account has, re-read whenever the session changes (a switch, a
/// new login, an ended session noticed by any tab).
#[component]
pub fn SignedInDevices() -> impl IntoView {
    let session = use_session();
    let state = session.state();
    let sessions = Resource::new(move || state.with(|s| s.as_ref().map(|s| s.session.version)), |_| list_sessions());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                sessions.await.ok().map(|list| {
                    let n = list.len();
                    view! { <p class="devices">"Signed in on " {n} {if n == 1 { " device" } else { " devices" }} "."</p> }
                })
            })}
        </Transition>
    }
}
