//! `/session`: the session as the public API sees it (the example component of the developer
//! guide, `docs/SESSION_API.md`).

use crate::components::guards::RequireSession;
use crate::components::session_card::SessionCard;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SessionPage() -> impl IntoView {
    view! {
        <Title text="Session · Switchboard"/>
        <RequireSession page=|_| view! {
            <h1>"Session"</h1>
            <SessionCard/>
        }/>
    }
}
