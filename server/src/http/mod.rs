//! The HTTP surface: Leptos pages and server functions, plus health and CSRF endpoints, behind
//! one request layer (session, CSRF, body checks) and security headers.

mod audit;
mod guard;
mod health;

pub use guard::error_response;

use crate::AppState;
use app::auth::ssr::{AppContext, Caller};
use app::error::{ApiError, ErrorCode};
use app::{shell, App};
use axum::extract::Extension;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use http::{header, HeaderValue};
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::sync::OnceLock;
use tower_http::set_header::SetResponseHeaderLayer;

/// The app's routes, generated once per process. Leptos suppresses resource loading
/// process-wide while it generates routes, so generating them again while another router serves
/// pages (several servers in one test process) could leave those pages waiting forever.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn router(state: AppState) -> Router {
    let routes = route_list();
    let context = {
        let ctx: AppContext = state.ctx.clone();
        move || leptos::prelude::provide_context(ctx.clone())
    };
    let shell_fn = {
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    };
    Router::new()
        .route("/health", get(health::health))
        .route("/api/csrf", get(csrf_token))
        .route("/api/admin/audit", get(audit::export))
        .leptos_routes_with_context(&state, routes, context.clone(), shell_fn)
        .route("/api/{*rest}", any(api_not_found))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::request_layer))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            error_response(ApiError::new(ErrorCode::Internal, "something went wrong on our side"))
        }))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /api/csrf`: the caller's CSRF token (and, before login, the pre-session cookie it is
/// bound to). For clients that do not render pages, such as scripts and tests.
async fn csrf_token(Extension(caller): Extension<Caller>) -> impl IntoResponse {
    Json(serde_json::json!({ "csrf_token": caller.csrf_token() }))
}

async fn api_not_found() -> Response {
    error_response(ApiError::new(ErrorCode::NotFound, "no such API endpoint"))
}
