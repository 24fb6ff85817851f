//! The navigation bar: who is signed in, the active platform switcher, the session indicator,
//! sign out. With JavaScript the switcher switches on change (optimistically); without it, it is
//! a plain form with a "Switch" button.
//!
//! [`Nav`] is the page's first island: in the browser it starts the session store (with the
//! server's answer the page was rendered with) before any other island reads it.

use crate::components::forms::CsrfField;
use crate::components::status::{IdleWarning, OfflineBanner, SessionIndicator};
use crate::components::toasts::Toaster;
use crate::error::{ApiError, ErrorCode};
use crate::functions::Logout;
use crate::models::{PlatformId, SessionSnapshot};
use crate::providers::{start_page, use_session};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::ServerFn;

/// What the nav is given: the server's answer the page was rendered with, and the error a
/// plain-form switch or sign-out came back with (`?__err=…`, read on the server).
#[derive(Serialize, Deserialize)]
pub struct PageAnswer {
    pub snapshot: Result<SessionSnapshot, ApiError>,
    pub url_error: Option<ApiError>,
}

impl PageAnswer {
    /// As the nav's prop: JSON, which the browser reads with the reader that also reads server
    /// functions' answers (`serde_json::from_slice`). Typed props would be read with another
    /// (`from_str`), and the browser build would carry two copies of the deserializer of every
    /// session type.
    pub fn to_prop(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn from_prop(prop: &str) -> Self {
        serde_json::from_slice(prop.as_bytes()).unwrap_or_else(|_| PageAnswer {
            snapshot: Err(ApiError::new(ErrorCode::Internal, "the page came without its session")),
            url_error: None,
        })
    }
}

/// The nav, given the page's answer (a [`PageAnswer`] as JSON).
///
/// Its parts are fixed markup, shown or hidden as the session changes (`hidden=`), rather than
/// views chosen again by a `match`: hydration then only binds what is there, and the browser build
/// carries no code to build or swap those views (docs/ARCHITECTURE.md, "What the browser build
/// carries"). Only what is drawn from a list (the switcher's options, the toasts) is built in the
/// browser. A sign-in, or another user, reloads the page (`providers::page`), so the signed-in
/// part is rendered for the user the page was rendered for.
#[island]
pub fn Nav(answer: String) -> impl IntoView {
    let PageAnswer { snapshot, url_error } = PageAnswer::from_prop(&answer);
    start_page(snapshot);
    let session = use_session();
    let user = session.user();
    let signed_in = move || user.with(Option::is_some);
    view! {
        <header class="nav">
            <a href="/" class="brand">"Switchboard"</a>
            <nav class="links" hidden=signed_in>
                <a href="/login">"Sign in"</a>
                {session.registration_open().then(|| view! { <a href="/register">"Create account"</a> })}
            </nav>
            {user.with_untracked(Option::is_some).then(|| view! { <SignedIn url_error/> })}
        </header>
        <OfflineBanner/>
        <Toaster/>
    }
}

/// The signed-in part: links, who, the switcher, sign-out, the indicator and the idle warning.
/// Hidden once the session ends (on a page that does not go to the login page by itself).
#[component]
fn SignedIn(url_error: Option<ApiError>) -> impl IntoView {
    let session = use_session();
    let who = session.user();
    let is_admin = who.with_untracked(|u| u.as_ref().is_some_and(|u| u.is_admin));
    let user = move || who.with(|u| u.as_ref().map(|u| u.display_name.clone()).unwrap_or_default());
    let email = move || who.with(|u| u.as_ref().map(|u| u.email.clone()).unwrap_or_default());
    let platforms = session.platforms();
    let has_platforms = move || platforms.with(|p| !p.is_empty());
    view! {
        <div class="signed-in" hidden=move || who.with(Option::is_none)>
            <nav class="links">
                <a href="/">"Dashboard"</a>
                <a href="/platforms">"Platforms"</a>
                <a href="/session">"Session"</a>
                <a href="/sessions">"Sessions"</a>
                {is_admin.then(|| view! { <a href="/admin">"Admin"</a> })}
            </nav>
            <div class="session">
                <span class="user" title=email>{user}</span>
                <a href="/platforms" hidden=has_platforms>"Add a platform"</a>
                <Switcher/>
                <form
                    method="post"
                    action=Logout::PATH
                    class="logout"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        session.sign_out();
                    }
                >
                    <CsrfField/>
                    <button type="submit">"Sign out"</button>
                </form>
                // A plain form: it ends every session, this one too, and lands on the login page.
                <form method="post" action="/api/sign_out_everywhere" class="logout">
                    <CsrfField/>
                    <button type="submit" class="secondary">"Sign out everywhere"</button>
                </form>
            </div>
            <SessionIndicator/>
            {url_error.map(|e| view! { <p class="error" role="alert">{e.message().to_owned()}</p> })}
            <IdleWarning/>
        </div>
    }
}

/// The active-platform switcher (hidden while there are no platforms). Shows the pending choice at
/// once (the same frame as the change event), marked as pending until the server confirms.
#[component]
fn Switcher() -> impl IntoView {
    let session = use_session();
    let platforms = session.platforms();
    let committed = session.committed_platform();
    let shown = session.platform();
    let pending = session.pending_platform();
    let can_switch = session.can_switch();
    // Only without JavaScript is the button needed; hydration hides it.
    let hydrated = session.hydrated();
    let state = session.state();
    let select = NodeRef::<leptos::html::Select>::new();
    let chosen = move || select.get_untracked().and_then(|el| PlatformId::parse(&el.value()));
    // The options follow the platform list (added, renamed or removed in another tab). Each
    // option follows the shown platform itself, so a new option is selected when it is built for
    // a platform that is already the shown one; `selected` is for the page before hydration.
    let options = move || {
        let selected = committed.with_untracked(|p| p.as_ref().map(|p| p.id));
        platforms
            .get()
            .into_iter()
            .map(|p| {
                let id = p.id;
                view! {
                    <option
                        value=id.to_string()
                        selected=Some(id) == selected
                        prop:selected=move || shown.with(|s| s.as_ref().map(|s| s.id)) == Some(id)
                    >
                        {p.label}
                    </option>
                }
            })
            .collect_view()
    };
    view! {
        <form
            method="post"
            action="/api/switch_platform"
            class="switcher"
            hidden=move || platforms.with(Vec::is_empty)
            class:pending=move || pending.get().is_some()
            on:submit=move |ev| {
                ev.prevent_default();
                if let Some(id) = chosen() {
                    session.switch_platform(id);
                }
            }
        >
            <CsrfField/>
            <input
                type="hidden"
                name="expected_version"
                prop:value=move || state.with(|s| s.as_ref().map(|s| s.session.version.to_string()).unwrap_or_default())
            />
            <label for="active-platform">"Active platform"</label>
            <select
                id="active-platform"
                name="platform_id"
                node_ref=select
                aria-busy=move || pending.get().is_some().to_string()
                disabled=move || !can_switch.get()
                on:change=move |_| {
                    if let Some(id) = chosen() {
                        session.switch_platform(id);
                    }
                }
            >
                {options}
            </select>
            <span class="pending-badge" hidden=move || pending.get().is_none()>"Switching…"</span>
            <button type="submit" hidden=move || hydrated.get()>"Switch"</button>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::PageAnswer;
    use crate::error::{ApiError, ErrorCode};
    use crate::sync::fixtures::{signed_in, EXP, T0};

    #[test]
    fn the_page_answer_travels_as_json_and_a_broken_one_reads_as_an_error() {
        let snapshot = signed_in("s1", 3, 1, EXP, T0).snapshot;
        let answer = PageAnswer {
            snapshot: Ok(snapshot.clone()),
            url_error: Some(ApiError::new(ErrorCode::VersionConflict, "the session changed")),
        };
        let back = PageAnswer::from_prop(&answer.to_prop());
        assert_eq!(back.snapshot, Ok(snapshot));
        assert_eq!(back.url_error, answer.url_error);
        let broken = PageAnswer::from_prop("{\"snapshot\":");
        assert_eq!(broken.snapshot.map_err(|e| e.code()), Err(ErrorCode::Internal));
        assert_eq!(broken.url_error, None);
    }
}
