//! Route guards: render a page only for the right kind of visitor, and follow the session as it
//! changes (in this tab or another): a page re-renders when who is signed in, the active
//! platform or the platforms change, and goes to `/login` (with the reason and the page to come
//! back to) when the session ends.

use crate::error::ApiError;
use crate::models::{local_path, PlatformView, SessionState, UserView};
use crate::pages::not_available;
use crate::session::use_session_context;
use crate::sync::protocol::Known;
use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_location, use_query_map};

/// What a page depends on. Version bumps and countdown changes are not in it, so a page (and
/// what is typed into it) stays put while the session ticks on.
#[derive(Debug, Clone, PartialEq)]
enum PageKey {
    SignedIn {
        session: String,
        user: UserView,
        platform: Option<PlatformView>,
        platforms: Vec<PlatformView>,
    },
    SignedOut(String),
    Failed(ApiError),
}

fn page_key(current: Option<Result<Known, ApiError>>) -> PageKey {
    match current {
        None => PageKey::SignedOut("unauthenticated".into()),
        Some(Err(e)) => PageKey::Failed(e),
        Some(Ok(k)) => match k.snapshot.state {
            Some(st) => PageKey::SignedIn {
                session: st.session.id,
                user: st.user,
                platform: st.platform,
                platforms: st.platforms,
            },
            None => PageKey::SignedOut(k.snapshot.ended.unwrap_or_else(|| "unauthenticated".into())),
        },
    }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/login`, with why the session ended (unless it never existed) and the page to return to.
pub fn login_path(ended: &str, here: &str) -> String {
    let mut query = Vec::new();
    if ended != "unauthenticated" {
        query.push(format!("reason={}", encode(ended)));
    }
    if here != "/" && local_path(Some(here)).is_some() {
        query.push(format!("next={}", encode(here)));
    }
    if query.is_empty() {
        "/login".to_owned()
    } else {
        format!("/login?{}", query.join("&"))
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
    F: Fn(SessionState) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let s = use_session_context();
    let location = use_location();
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    let _ = s.state.await;
                    let key = Memo::new(move |_| page_key(s.current().get()));
                    move || match key.get() {
                        PageKey::SignedIn { .. } => s
                            .current_untracked()
                            .and_then(|k| k.snapshot.state)
                            .map(|state| page(state).into_any())
                            .unwrap_or_else(|| ().into_any()),
                        PageKey::SignedOut(ended) => {
                            let path = location.pathname.get_untracked();
                            let search = location.search.get_untracked();
                            let here = if search.is_empty() { path } else { format!("{path}?{search}") };
                            view! { <Redirect path=login_path(&ended, &here)/> }.into_any()
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
    let s = use_session_context();
    let query = use_query_map();
    let children = StoredValue::new(children);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let _ = s.state.await;
                let signed_in = Memo::new(move |_| matches!(page_key(s.current().get()), PageKey::SignedIn { .. }));
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

#[cfg(test)]
mod tests {
    use super::login_path;

    #[test]
    fn login_keeps_the_reason_and_the_page_to_return_to() {
        assert_eq!(login_path("unauthenticated", "/"), "/login");
        assert_eq!(
            login_path("session_expired", "/platforms"),
            "/login?reason=session_expired&next=%2Fplatforms"
        );
        assert_eq!(login_path("logged_out", "/?a=b&c"), "/login?reason=logged_out&next=%2F%3Fa%3Db%26c");
        assert_eq!(login_path("unauthenticated", "//evil.example"), "/login");
    }
}
