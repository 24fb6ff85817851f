//! The navigation bar: who is signed in, the active platform switcher, sign out.

use crate::components::forms::{action_error, first_error, CsrfField, ErrorNote};
use crate::models::SessionState;
use crate::session::use_session_context;
use leptos::either::Either;
use leptos::prelude::*;

#[component]
pub fn Nav() -> impl IntoView {
    let s = use_session_context();
    view! {
        <header class="nav">
            <a href="/" class="brand">"Switchboard"</a>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match crate::session::signed_in(s.state.await) {
                        Ok(state) => Either::Left(view! { <SignedIn state/> }),
                        Err(_) => Either::Right(view! {
                            <nav class="links">
                                <a href="/login">"Sign in"</a>
                                <a href="/register">"Create account"</a>
                            </nav>
                        }),
                    }
                })}
            </Transition>
        </header>
    }
}

#[component]
fn SignedIn(state: SessionState) -> impl IntoView {
    let s = use_session_context();
    let active = state.platform.as_ref().map(|p| p.id);
    let switch_error = first_error(vec![action_error(s.switch), action_error(s.logout)]);
    let switcher = if state.platforms.is_empty() {
        Either::Left(view! { <a href="/platforms">"Add a platform"</a> })
    } else {
        let options = state
            .platforms
            .iter()
            .map(|p| view! { <option value=p.id selected=Some(p.id) == active>{p.label.clone()}</option> })
            .collect_view();
        Either::Right(view! {
            <ActionForm action=s.switch attr:class="switcher">
                <CsrfField/>
                <input type="hidden" name="expected_version" value=state.session.version/>
                <label for="active-platform">"Active platform"</label>
                <select id="active-platform" name="platform_id">{options}</select>
                <button type="submit">"Switch"</button>
            </ActionForm>
        })
    };
    view! {
        <nav class="links">
            <a href="/">"Dashboard"</a>
            <a href="/platforms">"Platforms"</a>
        </nav>
        <div class="session">
            <span class="user" title=state.user.email.clone()>{state.user.display_name.clone()}</span>
            {switcher}
            <ActionForm action=s.logout attr:class="logout">
                <CsrfField/>
                <button type="submit">"Sign out"</button>
            </ActionForm>
        </div>
        <ErrorNote error=switch_error/>
    }
}
