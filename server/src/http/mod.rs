//! The HTTP surface: Leptos pages and server functions, plus health and CSRF endpoints, behind
//! one request layer (session, CSRF, body checks) and security headers.

mod alerts;
pub mod assets;
mod audit;
mod client;
mod dashboard;
mod events;
mod guard;
pub(crate) mod health;
pub mod metrics;
pub mod openapi;
mod serve;

pub use guard::{error_response, CspNonce};
pub use serve::serve;

/// Browser features no page of ours uses, switched off.
const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), \
                                  payment=(), usb=(), interest-cohort=()";

use crate::AppState;
use app::auth::ssr::{AppContext, Caller};
use app::error::{ApiError, ErrorCode};
use app::{shell, App};
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use http::{header, HeaderName, HeaderValue};
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::sync::OnceLock;
use tower::ServiceBuilder;
use tower_http::compression::{CompressionLayer, CompressionLevel};

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
        move || {
            leptos::prelude::provide_context(ctx.clone());
            // What the request layer resolved: the caller (for `request_context`), and the
            // nonce, so the page's inline scripts carry the one its CSP names. Read in place:
            // `use_context` would copy the whole request head.
            let (caller, nonce) = leptos::prelude::with_context::<http::request::Parts, _>(|p| {
                (p.extensions.get::<Caller>().cloned(), p.extensions.get::<CspNonce>().cloned())
            })
            .unwrap_or_default();
            if let Some(caller) = caller {
                leptos::prelude::provide_context(caller);
            }
            if let Some(CspNonce(nonce)) = nonce {
                leptos::prelude::provide_context(leptos::nonce::Nonce::from_value(nonce));
            }
        }
    };
    let shell_fn = {
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    };
    Router::new()
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route(metrics::PATH, get(metrics::scrape))
        .route(API_READS[0], get(csrf_token))
        .route(API_READS[1], get(openapi::document))
        .route(API_READS[2], get(events::session_events))
        .route(API_READS[3], get(audit::export))
        .route(API_READS[4], get(alerts::list))
        .route(API_READS[5], get(dashboard::dashboard_events))
        .leptos_routes_with_context(&state, routes, context.clone(), shell_fn)
        .route("/api/{*rest}", any(api_not_found))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        // Each `Router::layer` wraps every route once more (a box, and a clone of it for every
        // request), so the layers are stacked in one `ServiceBuilder` each: outermost first.
        .layer(
            ServiceBuilder::new()
                // Pages are compressed (brotli or gzip, as the browser accepts). Safe against
                // BREACH: the only secret a page carries, the CSRF token, is masked afresh in
                // every answer.
                .layer(
                    CompressionLayer::new()
                        .br(true)
                        .gzip(true)
                        .quality(CompressionLevel::Precise(4))
                        .compress_when(is_html),
                )
                .layer(axum::middleware::from_fn_with_state(state.clone(), guard::request_layer)),
        )
        .merge(assets::router())
        .layer(
            ServiceBuilder::new()
                .layer(tower_http::trace::TraceLayer::new_for_http())
                .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
                    tracing::error!("a request handler panicked");
                    error_response(ApiError::new(ErrorCode::Internal, "something went wrong on our side"))
                }))
                .layer(axum::middleware::map_response_with_state(
                    SecurityHeaders::new(state.settings.cookie_secure),
                    security_headers,
                )),
        )
        .with_state(state)
}

/// The API routes axum serves itself (the rest of `/api` is server functions): all reads. The
/// request layer answers any other method with 405; `openapi` describes each.
pub const API_READS: [&str; 6] = [
    "/api/csrf",
    openapi::PATH,
    app::registry::SESSION_EVENTS,
    "/api/admin/audit",
    "/api/admin/alerts",
    "/api/admin/dashboard/events",
];

/// The headers every answer carries (unless a handler set its own).
#[derive(Clone)]
struct SecurityHeaders(std::sync::Arc<Vec<(HeaderName, HeaderValue)>>);

impl SecurityHeaders {
    fn new(cookie_secure: bool) -> Self {
        let mut headers = vec![
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
            (
                HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("same-origin"),
            ),
            (
                HeaderName::from_static("permissions-policy"),
                HeaderValue::from_static(PERMISSIONS_POLICY),
            ),
        ];
        // HSTS only where cookies are Secure (HTTPS; always in prod): over plain HTTP it would
        // be ignored at best.
        if cookie_secure {
            headers.push((
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=63072000; includeSubDomains"),
            ));
        }
        Self(std::sync::Arc::new(headers))
    }
}

async fn security_headers(State(headers): State<SecurityHeaders>, mut res: Response) -> Response {
    for (name, value) in headers.0.iter() {
        if !res.headers().contains_key(name) {
            res.headers_mut().insert(name.clone(), value.clone());
        }
    }
    res
}

/// Whether an answer is a page (the answers compressed on the fly; the browser build is
/// compressed ahead of time, and API answers are small).
fn is_html(_: http::StatusCode, _: http::Version, headers: &http::HeaderMap, _: &http::Extensions) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"))
}

/// `GET /api/csrf`: the caller's CSRF token (and, before login, the pre-session cookie it is
/// bound to). For clients that do not render pages, such as scripts and tests.
async fn csrf_token(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> impl IntoResponse {
    Json(serde_json::json!({ "csrf_token": caller.csrf_token(&state.ctx.csrf) }))
}

async fn api_not_found() -> Response {
    error_response(ApiError::new(ErrorCode::NotFound, "no such API endpoint"))
}
