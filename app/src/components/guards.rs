//! Route guards: render a page only for the right kind of visitor, and follow the session as it
//! changes (in this tab or another): a page re-renders when who is signed in, the active
//! platform or the platforms change, and goes to `/login` (with the reason and the page to come
//! back to) when the session ends.

use crate::auth::{local_path, login_path};
use crate::error::ApiError;
use crate::models::{EndReason, PlatformView, PublicSessionId, SessionState, UserView};
use crate::providers::{use_session, Session, SessionStatus};
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

/// What a page depends on. Version bumps and countdown changes are not in it, so a page (and
/// what is typed into it) stays put while the session ticks on.
#[derive(Debug, Clone, PartialEq)]
enum PageKey {
    SignedIn {
        session: PublicSessionId,
        user: UserView,
        platform: Option<PlatformView>,
        platforms: Vec<PlatformView>,
    },
    SignedOut(EndReason),
    Failed(ApiError),
}

/// The page key, following the session (read it in a memo).
fn page_key(session: Session) -> impl Fn() -> PageKey + Copy {
    let (status, state) = (session.status(), session.state());
    move || match (status.get(), state.get()) {
        (SessionStatus::SignedIn, Some(st)) => PageKey::SignedIn {
            session: st.session.id,
            user: st.user,
            platform: st.platform,
            platforms: st.platforms,
        },
        (SessionStatus::Failed(e), _) => PageKey::Failed(e),
        (SessionStatus::SignedOut(ended), _) => PageKey::SignedOut(ended),
        _ => PageKey::SignedOut(EndReason::Unauthenticated),
    }
}

/// Renders `page` with the signed-in session state; sends visitors without a session to
/// `/login`. The way to require a session on a route:
///
/// ```text
/// view! { <RequireSession page=|state| view! { <p>"Hello " {state.user.display_name}</p> }/> }
/// ```
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

/// [`RequireSession`] for every page at once: the guard is compiled once, not once per page
/// (each copy of it costs the WASM build tens of kilobytes).
fn require_session(page: Page) -> impl IntoView {
    let session = use_session();
    let location = use_location();
    // Made here, not inside the Suspend: a reactive value created in a Suspend's future belongs
    // to a render that server-side rendering may run twice (dry-resolve, then resolve) and drop,
    // and reading it after that panics.
    let key = page_key(session);
    let key = Memo::new(move |_| key());
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    session.loaded().await;
                    move || match key.get() {
                        PageKey::SignedIn { .. } => session
                            .state()
                            .get_untracked()
                            .map(|state| page(state).into_any())
                            .unwrap_or_else(|| ().into_any()),
                        PageKey::SignedOut(ended) => {
                            let path = location.pathname.get_untracked();
                            let search = location.search.get_untracked();
                            let here = if search.is_empty() { path } else { format!("{path}?{search}") };
                            view! { <Redirect path=login_path(ended, &here)/> }.into_any()
                        }
                        PageKey::Failed(e) => not_available(e).into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// Renders its children only for visitors who are not signed in; sends others on to the `next`
/// query parameter (a path on this site) or `/`. Follows logins made in other tabs.
#[component]
pub fn SignedOutOnly(children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let children = StoredValue::new(children);
    let key = page_key(session);
    let signed_in = Memo::new(move |_| matches!(key(), PageKey::SignedIn { .. }));
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                session.loaded().await;
                move || {
                    if signed_in.get() {
                        let next = query.with_untracked(|q| q.get("next"));
                        let to = local_path(next.as_deref()).unwrap_or("/").to_owned();
                        view! { <Redirect path=to/> }.into_any()
                    } else {
                        children.with_value(|c| c()).into_any()
                    }
                }
            })}
        </Transition>
    }
}
