//! Route guards: render a page only for the right kind of visitor.

use crate::models::SessionState;
use crate::pages::not_available;
use crate::session::{signed_in, use_session_context};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::components::Redirect;

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
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match signed_in(s.state.await) {
                        Ok(state) => Either::Left(page(state)),
                        Err(e) => Either::Right(not_available(e)),
                    }
                })
            }}
        </Transition>
    }
}

/// Renders its children only for visitors who are not signed in; sends others to `/`.
#[component]
pub fn SignedOutOnly(children: ChildrenFn) -> impl IntoView {
    let s = use_session_context();
    let children = StoredValue::new(children);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                if signed_in(s.state.await).is_ok() {
                    Either::Left(view! { <Redirect path="/"/> })
                } else {
                    Either::Right(children.with_value(|c| c()))
                }
            })}
        </Transition>
    }
}
