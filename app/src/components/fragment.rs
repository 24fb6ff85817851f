//! Server-rendered parts of a page: [`Fragment`] shows HTML a server function rendered (the
//! Sessions and admin pages, which are lists and plain forms: nothing for the browser to compute,
//! so nothing of theirs in the WASM), and [`UrlError`] shows the error a plain form post was
//! sent back with, offering the password prompt when that is what it asks for.

use crate::components::forms::{CsrfField, ErrorNote};
use crate::components::guards::not_available;
use crate::error::{ApiError, ErrorCode};
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_query_map};

/// The server-rendered content of `page` (see `pages::page_fragment`), loaded again when the
/// page's query string changes. The HTML was escaped on the server by Leptos like any view.
#[component]
pub fn Fragment(page: &'static str) -> impl IntoView {
    let query = use_query_map();
    let html = Resource::new(
        move || query.with(|q| q.to_query_string()),
        move |query| crate::pages::page_fragment(page.to_owned(), query),
    );
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match html.await {
                    Ok(html) => view! { <div class="fragment" inner_html=html></div> }.into_any(),
                    Err(e) => not_available(e).into_any(),
                }
            })}
        </Transition>
    }
}

/// The error of the last plain form post on this page (`?__err=…`), if any; for
/// `reauthentication_required`, a password prompt that comes back to this page.
#[component]
pub fn UrlError() -> impl IntoView {
    let query = use_query_map();
    let location = use_location();
    let error = Signal::derive(move || query.with(|q| q.get_str("__err").map(server_fn::error::ServerFnUrlError::<ApiError>::decode_err)));
    view! {
        <ErrorNote error/>
        {move || {
            error.get().filter(|e| e.code() == ErrorCode::ReauthenticationRequired).map(|_| {
                view! {
                    <form method="post" action="/api/reauthenticate" class="reauth" aria-label="Confirm your password">
                        <CsrfField/>
                        <input type="hidden" name="next" value=location.pathname.get_untracked()/>
                        <label>"Confirm your password to continue"
                            <input type="password" name="password" autocomplete="current-password" required/>
                        </label>
                        <button type="submit">"Confirm"</button>
                    </form>
                }
            })
        }}
    }
}
