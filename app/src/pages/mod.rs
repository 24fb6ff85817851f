//! The pages, one module a route. Each wraps its content in a guard from `components::guards`.

pub mod admin;
pub mod admin_dashboard;
pub mod dashboard;
pub mod login;
pub mod platforms;
pub mod register;
pub mod session;
pub mod sessions;

use crate::error::ApiError;
use leptos::prelude::*;

/// The server-rendered content of a page (`sessions`, `admin`, `audit`, `alerts`) for the caller, given
/// the page's own query string. One server function for all of them, so the browser build holds
/// one loader for every such page.
#[server(prefix = "/api", endpoint = "page_fragment", input = server_fn::codec::GetUrl, client = crate::functions::client::CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip(query)))]
pub async fn page_fragment(page: String, #[server(default)] query: String) -> Result<String, ApiError> {
    use futures::FutureExt;
    let cx = crate::auth::ssr::request_context()?;
    let key = format!("{page}?{query}");
    let caller = cx.caller.clone();
    let parts = use_context::<http::request::Parts>();
    let render = move || {
        // The render is shared by every server-side rendering pass that asks for it and is
        // driven by whichever polls it, under that pass's owner, which may hold none of the
        // request's context by then (hidden CSRF fields came out empty). So it runs under an
        // owner of its own that holds the context it reads, for as long as the render lives.
        let owner = Owner::new();
        owner.with(|| {
            cx.provide();
            if let Some(parts) = parts {
                provide_context(parts);
            }
        });
        let render = owner.with(|| {
            leptos::reactive::computed::ScopedFuture::new(async move {
                let params: std::collections::HashMap<String, String> = form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                match page.as_str() {
                    "sessions" => sessions::fragment(&cx).await,
                    "admin" => admin::admin_fragment(&cx, &params).await,
                    "audit" => admin::audit_fragment(&cx, &params).await,
                    "alerts" => admin::alerts_fragment(&cx, &params).await,
                    "admin_dashboard" => admin_dashboard::fragment(&cx).await,
                    _ => Err(crate::error::ApiError::new(crate::error::ErrorCode::NotFound, "no such page")),
                }
            })
        });
        async move {
            let _owner = owner;
            render.await
        }
        .boxed()
    };
    caller.fragment(key, render).await
}
