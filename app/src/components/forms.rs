//! Small pieces every form uses.

use crate::error::ApiError;
use leptos::prelude::*;

/// The CSRF token the page was rendered with: from the request on the server, from the page's
/// `<meta name="csrf-token">` in the browser.
pub fn page_csrf_token() -> String {
    #[cfg(feature = "ssr")]
    {
        crate::auth::ssr::page_csrf_token()
    }
    #[cfg(not(feature = "ssr"))]
    {
        crate::functions::client::page_csrf_token().unwrap_or_default()
    }
}

/// The hidden CSRF field that lets a form work without JavaScript. (With JavaScript the
/// client sends the `X-CSRF-Token` header instead.)
#[component]
pub fn CsrfField() -> impl IntoView {
    view! { <input type="hidden" name="csrf_token" value=page_csrf_token()/> }
}

/// Shows an action's error, if its last run failed.
#[component]
pub fn ErrorNote(#[prop(into)] error: Signal<Option<ApiError>>) -> impl IntoView {
    move || {
        error
            .get()
            .map(|e| view! { <p class="error" role="alert">{e.message().to_owned()}</p> })
    }
}

/// The error of `action`'s last run: from the action when JavaScript ran it, else from the URL
/// that Leptos redirects a plain form post back to (`?__path=…&__err=…`), so errors show with
/// and without JavaScript.
pub fn action_error<S>(action: ServerAction<S>) -> Signal<Option<ApiError>>
where
    S: server_fn::ServerFn<Error = ApiError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let query = leptos_router::hooks::use_query_map();
    Signal::derive(move || match action.value().get() {
        Some(Ok(_)) => None,
        Some(Err(e)) => Some(e),
        None => query.with(|q| {
            if q.get_str("__path") != Some(S::PATH) {
                return None;
            }
            q.get_str("__err").map(server_fn::error::ServerFnUrlError::<ApiError>::decode_err)
        }),
    })
}

/// The first of several errors that is present.
pub fn first_error(errors: Vec<Signal<Option<ApiError>>>) -> Signal<Option<ApiError>> {
    Signal::derive(move || errors.iter().find_map(|e| e.get()))
}
