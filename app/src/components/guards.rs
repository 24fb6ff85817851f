//! Route guards: render a page only for the right kind of visitor (on the server), and mark it
//! with `data-guard` so the browser follows the session as it changes, in this tab or another
//! (`providers::page`): the page's content is loaded again when the active platform or the
//! platforms change, and it goes to `/login` (with the reason and the page to come back to) when
//! the session ends.

use crate::auth::{local_path, login_path};
use crate::error::ApiError;
use crate::models::{EndReason, SessionState};
use crate::providers::{use_session, SessionStatus};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_location, use_query_map};
use std::sync::Arc;

/// What a page shows when it cannot show its content: a redirect to login when the caller is
/// not signed in, else the error.
pub fn not_available(e: ApiError) -> impl IntoView {
    // A page that cannot be shown answers with the error's status (403 for a non-admin on an
    // admin page, 503 while the database is down), like the API.
    #[cfg(feature = "ssr")]
    if !e.code().is_auth_failure() {
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(http::StatusCode::from_u16(e.status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
        }
    }
    if e.code().is_auth_failure() {
        Either::Left(view! { <Redirect path="/login"/> })
    } else {
        Either::Right(view! { <p class="error" role="alert">{e.message().to_owned()}</p> })
    }
}

/// Renders `page` with the signed-in session state; sends visitors without a session to
/// `/login`. The way to require a session on a route:
///
/// ```text
/// view! { <RequireSession page=|state| view! { <p>"Hello " {state.user.display_name}</p> }/> }
/// ```
///
/// Pages render on the server. In the browser the page follows the session by its
/// `data-guard` (see `providers::page`): its content is loaded again when the active platform
/// or the platforms change, and it goes to `/login` when the session ends.
#[component]
pub fn RequireSession<F, V>(page: F) -> impl IntoView
where
    F: Fn(SessionState) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    require_session(Arc::new(move |state| page(state).into_any()))
}

/// A page given the signed-in state.
type Page = Arc<dyn Fn(SessionState) -> AnyView + Send + Sync>;

/// [`RequireSession`] for every page at once: the guard is compiled once, not once per page.
fn require_session(page: Page) -> impl IntoView {
    let session = use_session();
    let location = use_location();
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    session.loaded().await;
                    match (session.status().get_untracked(), session.state().get_untracked()) {
                        (SessionStatus::SignedIn, Some(state)) => {
                            view! { <div class="page" data-guard="session">{page(state)}</div> }.into_any()
                        }
                        (SessionStatus::Failed(e), _) => not_available(e).into_any(),
                        (status, _) => {
                            let ended = match status {
                                SessionStatus::SignedOut(ended) => ended,
                                _ => EndReason::Unauthenticated,
                            };
                            let path = location.pathname.get_untracked();
                            let search = location.search.get_untracked();
                            let here = if search.is_empty() { path } else { format!("{path}?{search}") };
                            view! { <Redirect path=login_path(ended, &here)/> }.into_any()
                        }
                    }
                })
            }}
        </Suspense>
    }
}

/// Renders its children only for visitors who are not signed in; sends others on to the `next`
/// query parameter (a path on this site) or `/`. In the browser the page goes on there when a
/// sign-in happens in another tab (see `providers::page`).
#[component]
pub fn SignedOutOnly(children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                session.loaded().await;
                let next = query.with_untracked(|q| q.get("next")).filter(|n| local_path(Some(n)).is_some());
                if session.status().get_untracked() == SessionStatus::SignedIn {
                    let to = next.unwrap_or_else(|| "/".to_owned());
                    view! { <Redirect path=to/> }.into_any()
                } else {
                    view! { <div class="page" data-guard="signed-out" data-next=next>{children.with_value(|c| c())}</div> }.into_any()
                }
            })}
        </Suspense>
    }
}
