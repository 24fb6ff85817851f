//! The request layer in front of every route. Before the handler it resolves the caller once
//! (session cookie → session, pre-session cookie, CSRF token) and puts the [`Caller`] in the
//! request for pages and server functions; for state-changing requests it refuses cross-site
//! ones (`Sec-Fetch-Site`, `Origin`), checks the body (type, size, encoding, only the fields the
//! endpoint's signature takes) and the CSRF token. After the handler it is the one place that
//! writes the answer's effects ([`apply_effects`]): the session and pre-session cookies, the
//! status an error code implies, and `Cache-Control: no-store`.

use crate::AppState;
use app::auth::ssr::{resolve_request, Caller, CookieChange};
use app::error::{ApiError, ErrorCode};
use app::registry::endpoint;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use server_fn::ServerFn;
use std::collections::HashSet;
use std::net::SocketAddr;

/// This response's CSP nonce: the page's inline scripts carry it, and its
/// `Content-Security-Policy` names it.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

impl CspNonce {
    fn generate() -> Self {
        use base64::Engine as _;
        let mut bytes = [0u8; 16];
        // The thread's CSPRNG, seeded from the OS: unpredictable, without a system call a page.
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The policy for a page: scripts only from this site, or inline with this nonce, and the
    /// WASM; nothing from elsewhere, no plugins, no `<base>`, no framing, forms only to this site.
    fn policy(&self) -> HeaderValue {
        HeaderValue::from_str(&format!(
            "default-src 'self'; script-src 'self' 'nonce-{}' 'wasm-unsafe-eval'; object-src 'none'; base-uri 'none'; \
             frame-ancestors 'none'; form-action 'self'",
            self.0
        ))
        .expect("base64url nonces are valid header text")
    }
}

/// The header server functions' error answers carry (set by `server_fn`).
const SERVER_FN_ERROR: &str = server_fn::error::SERVER_FN_ERROR_HEADER;
/// Error bodies are small JSON; anything larger is not ours to read.
const MAX_ERROR_BODY: usize = 256 * 1024;

/// An error answer the layer makes itself (before any handler ran).
pub fn error_response(err: ApiError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = (status, axum::Json(&err)).into_response();
    set_retry_after(&err, res.headers_mut());
    res
}

/// `Retry-After` for an answer that says when to try again.
fn set_retry_after(err: &ApiError, headers: &mut HeaderMap) {
    if let Some(seconds) = err.error.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Response {
    error_response(ApiError::new(code, message))
}

/// Requests that need no session resolution: static files and probes. (The API has no files:
/// `/api/openapi.json` is a route, refused in the API's shape when asked the wrong way.)
fn is_passive(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path == "/health"
        || path == "/health/live"
        || path == "/health/ready"
        || path == super::metrics::PATH
        || (!path.starts_with("/api/") && path.rsplit('/').next().is_some_and(|last| last.contains('.')))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The layer (see the module documentation). A request reads SQLite's change log once, however
/// many cached reads it makes (`switchboard::store::one_look`).
///
/// Every request is answered within `http.request_timeout`. A render or a database call that
/// hangs (a lock held elsewhere, a panic in a task the render waits for) ends as a 500 and the
/// connection closes, rather than the client waiting forever. (Here rather than in a layer of
/// its own: each layer boxes the rest of the stack again for every request.)
///
/// The request's future is boxed here, once: it holds everything the layer and the handler
/// await (the session lookup, the body checks, the effects), and unboxed it was copied whole
/// into each enclosing future (`memmove` was 5.1% of a cached read's profile, 4.5% since).
pub async fn request_layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let within = state.settings.http.request_timeout.0;
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let id = request_id(&state, &req);
    let (started, route) = (std::time::Instant::now(), req.extensions().get::<MatchedPath>().cloned());
    let answer = switchboard::store::one_look(Box::pin(handle(state.clone(), req, next, id.clone())));
    let mut res = match tokio::time::timeout(within, answer).await {
        Ok(res) => res,
        Err(_) => {
            let request_id = id.to_str().unwrap_or_default();
            tracing::error!(request_id, %method, path = uri.path(), timeout = ?within, "no answer within http.request_timeout; answering 500");
            let mut res = error_response(ApiError::new(ErrorCode::Internal, "the server could not answer in time"));
            res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            res
        }
    };
    res.headers_mut().insert(REQUEST_ID, id);
    state.requests.observe(route.as_ref(), &method, res.status(), started.elapsed());
    res
}

/// The header that carries a request's id, in from a trusted proxy and out on every answer.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, on its answer (`X-Request-Id`) and on every log line of its span. A
/// trusted proxy's (`http.trusted_proxies`) is kept when it is plain: 1–64 letters, digits or
/// `-_.:`, so the proxy's log and this one name the same request. Otherwise one is made: this
/// process's random prefix and a counter, so no two instances make the same.
fn request_id(state: &AppState, req: &Request) -> HeaderValue {
    static PREFIX: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("{:08x}", rand::random::<u32>()));
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let from_proxy = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| state.settings.http.trusted_proxies.contains(c.0.ip()));
    let given = req.headers().get(&REQUEST_ID).filter(|id| {
        let id = id.as_bytes();
        (1..=64).contains(&id.len()) && id.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    });
    match given {
        Some(id) if from_proxy => id.clone(),
        _ => {
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            HeaderValue::from_str(&format!("{}-{n:x}", *PREFIX)).expect("hex digits are header text")
        }
    }
}

async fn handle(state: AppState, req: Request, next: Next, id: HeaderValue) -> Response {
    let path = req.uri().path().to_owned();
    if is_passive(&path) {
        return next.run(req).await;
    }
    let registered = endpoint(&path);
    // A change never happens on a GET (and a read never on a POST): say which method, in the
    // API's error shape.
    let takes = match registered {
        Some(e) => e.method.clone(),
        None if super::API_READS.contains(&path.as_str()) => Method::GET,
        None => req.method().clone(),
    };
    if takes != req.method() && !(takes == Method::GET && req.method() == Method::HEAD) {
        let mut res = refuse(ErrorCode::MethodNotAllowed, format!("{path} takes {takes}"));
        res.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_str(takes.as_str()).expect("a method is header text"),
        );
        return res;
    }
    let peer = super::client::client_ip(&state, &req).map(|ip| {
        // Sized for the longest address up front, rather than grown as it is written.
        let mut text = String::with_capacity(45);
        let _ = std::fmt::Write::write_fmt(&mut text, format_args!("{ip}"));
        text
    });
    let activity = registered.map_or_else(|| app::registry::activity_of(&path), |e| e.activity);
    let caller = resolve_request(&state.ctx, req.headers(), peer, activity).await;
    let span = tracing::info_span!(
        "request",
        id = id.to_str().unwrap_or_default(),
        method = %req.method(),
        path = %path,
        session = tracing::field::Empty,
    );
    if let app::auth::ssr::SessionLookup::Live(s) = caller.lookup() {
        span.record("session", tracing::field::display(&s.public_id));
    }
    let (mut parts, body) = req.into_parts();

    let body = if is_safe(&parts.method) {
        body
    } else {
        match check_unsafe(&state, &parts.headers, &path, body, &caller).await {
            Ok(body) => {
                // The body was re-encoded without `csrf_token`.
                parts.headers.remove(header::CONTENT_LENGTH);
                parts
                    .headers
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
                body
            }
            Err(refused) => {
                if refused.code() == ErrorCode::CsrfFailed {
                    audit_csrf_refusal(&state, &caller, &path, refused.message()).await;
                }
                return apply_effects(&state, &caller, error_response(refused)).await;
            }
        }
    };

    parts.extensions.insert(caller.clone());
    // Only pages carry scripts, so only they get a nonce (API answers are JSON: no CSP).
    let nonce = (!path.starts_with("/api/")).then(CspNonce::generate);
    // A page streams its parts after its head is written, and a signed-out caller's answers
    // carry tokens bound to the pre-session: they get theirs (and its cookie) now. A signed-in
    // caller's API answers get one only if they use it.
    if nonce.is_some() || !matches!(caller.lookup(), app::auth::ssr::SessionLookup::Live(_)) {
        caller.pre_session();
    }
    if let Some(nonce) = &nonce {
        parts.extensions.insert(nonce.clone());
    }
    let req = Request::from_parts(parts, body);
    let res = match registered.and_then(|_| read_function(&req)) {
        Some(read) => tracing::Instrument::instrument(run_read(&state, &caller, read, req), span).await,
        None => tracing::Instrument::instrument(next.run(req), span).await,
    };
    let mut res = apply_effects(&state, &caller, res).await;
    let headers = res.headers_mut();
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if let Some(nonce) = nonce.filter(|_| is_html) {
        headers.insert(header::CONTENT_SECURITY_POLICY, nonce.policy());
    }
    // Signing out also tells the browser to drop what it cached for this site.
    let signed_out = [app::functions::Logout::PATH, app::functions::SignOutEverywhere::PATH].contains(&path.as_str());
    if signed_out && caller.cookie_change() == Some(CookieChange::Clear) {
        headers.insert(HeaderName::from_static("clear-site-data"), HeaderValue::from_static("\"cache\""));
    }
    res
}

/// The server function a `GET` of a registered endpoint asks for: a read (see [`run_read`]).
/// (Pages and files are not looked for: every server function is in the registry.)
fn read_function(req: &Request) -> Option<server_fn::middleware::BoxedService<Request, Response>> {
    if req.method() != Method::GET {
        return None;
    }
    server_fn::axum::get_server_fn_service(req.uri().path(), Method::GET)
}

/// Runs a read: a `GET` server function, under an owner that holds what server functions read
/// (the app and the caller: [`app::auth::ssr::request_context`]). Leptos's own handler, which
/// changes (POSTs) go through, also copies the request head into the context, provides
/// response options and applies them after, and turns a browser's plain form post into a
/// redirect; a read needs none of that (no read redirects or sets response options), and that
/// setup was a quarter of a cached read's allocations.
async fn run_read(
    state: &AppState,
    caller: &Caller,
    mut read: server_fn::middleware::BoxedService<Request, Response>,
    req: Request,
) -> Response {
    let owner = leptos::prelude::Owner::new();
    let cx = app::auth::ssr::RequestContext {
        app: state.ctx.clone(),
        caller: caller.clone(),
    };
    let answer = owner.with(|| {
        cx.provide();
        leptos::reactive::computed::ScopedFuture::new(read.run(req))
    });
    answer.await
}

/// Everything the answer carries because of the session, written here and nowhere else.
async fn apply_effects(state: &AppState, caller: &Caller, res: Response) -> Response {
    let (mut parts, mut body) = res.into_parts();

    // A server function's error: its code decides the status (unless Leptos is sending a plain
    // form post back to its form), and an answer that says the session ended removes its cookie.
    let mut ended = false;
    if parts.headers.contains_key(SERVER_FN_ERROR) {
        match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
            Ok(bytes) => {
                if let Ok(err) = serde_json::from_slice::<ApiError>(&bytes) {
                    ended = err.code().ends_session();
                    if !parts.status.is_redirection() {
                        parts.status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                        set_retry_after(&err, &mut parts.headers);
                    }
                }
                body = Body::from(bytes);
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read a server function's error answer");
                return refuse(ErrorCode::Internal, "something went wrong on our side");
            }
        }
    }

    let cookies = state.ctx.cookies;
    let change = caller
        .cookie_change()
        .or((ended && caller.clears_dead_cookie()).then_some(CookieChange::Clear));
    let headers = &mut parts.headers;
    match change {
        Some(CookieChange::Set(token)) => {
            headers.append(header::SET_COOKIE, cookies.set(cookies.session_name(), token.expose()));
        }
        Some(CookieChange::Clear) => {
            headers.append(header::SET_COOKIE, cookies.clear(cookies.session_name()));
        }
        None => {}
    }
    if caller.new_pre_session() {
        headers.append(
            header::SET_COOKIE,
            cookies.set(cookies.pre_session_name(), caller.pre_session().expose()),
        );
    }
    // Pages and API answers depend on the session (and pages carry its CSRF token): never cached.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Response::from_parts(parts, body)
}

fn csrf_failed(message: &str) -> ApiError {
    ApiError::new(ErrorCode::CsrfFailed, message)
}

/// Every refused CSRF check goes on the audit record (a burst of them is a sign of an attack).
async fn audit_csrf_refusal(state: &AppState, caller: &Caller, path: &str, why: &str) {
    use switchboard::audit::{AuditEntry, AuditKind};
    let mut entry = AuditEntry::new(AuditKind::CsrfRefused)
        .refused()
        .from(caller.meta())
        .detail(format!("{path}: {why}"));
    if let app::auth::ssr::SessionLookup::Live(session) = caller.lookup() {
        entry = entry.actor(session.user_id).subject(session.user_id).session(session);
    }
    if let Err(e) = state.ctx.engine.audit(entry).await {
        tracing::warn!(error = %e, "could not record a refused CSRF check");
    }
    state
        .ctx
        .engine
        .detect_csrf_failures(caller.meta().ip.as_deref().unwrap_or(""))
        .await;
}

/// The origin a browser would send for this server: the configured public origin, else the
/// request's Host (scheme-agnostic).
fn origin_matches(state: &AppState, headers: &HeaderMap, origin: &str) -> bool {
    if let Some(public) = &state.settings.public_origin {
        return origin == public;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    matches!((host, authority), (Some(h), Some(a)) if h.eq_ignore_ascii_case(a))
}

async fn check_unsafe(state: &AppState, headers: &HeaderMap, path: &str, body: Body, caller: &Caller) -> Result<Body, ApiError> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Err(csrf_failed("cross-site requests are not accepted"));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin.to_str().is_ok_and(|o| origin_matches(state, headers, o));
        if !ok {
            return Err(csrf_failed("the request's Origin is not this site"));
        }
    }
    let Some(allowed) = endpoint(path).filter(|e| e.method == Method::POST).map(|e| e.fields) else {
        return Err(ApiError::new(ErrorCode::NotFound, "no such API endpoint"));
    };
    // Whether the caller has a session decides which CSRF token is right; when the store cannot
    // say, refuse (fail closed) with the store's answer, not a misleading CSRF error.
    if let app::auth::ssr::SessionLookup::Failed(_) = caller.lookup() {
        return Err(caller
            .session()
            .err()
            .unwrap_or_else(|| ApiError::new(ErrorCode::Unavailable, "try again shortly")));
    }

    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let limit = state.settings.max_body_bytes;
    let within = state.settings.http.body_timeout.0;
    let bytes = tokio::time::timeout(within, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::RequestTimeout,
                format!("the request body did not arrive within {within:?}"),
            )
        })?
        .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge, format!("the request body is larger than {limit} bytes")))?;
    if !bytes.is_empty() && media != "application/x-www-form-urlencoded" {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the fields form-encoded (application/x-www-form-urlencoded)",
        ));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| ApiError::new(ErrorCode::BadRequest, "the request body is not valid UTF-8"))?;

    let mut seen = HashSet::new();
    let mut fields = Vec::new();
    let mut form_token = None;
    for (key, value) in form_urlencoded::parse(text.as_bytes()) {
        if !seen.insert(key.to_string()) {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("the field `{key}` appears more than once"),
            ));
        }
        if key == "csrf_token" {
            form_token = Some(value.into_owned());
        } else if allowed.contains(&key.as_ref()) {
            fields.push((key.into_owned(), value.into_owned()));
        } else {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("unknown field `{key}`; this endpoint takes: {}", allowed.join(", ")),
            )
            .with_field(key.into_owned()));
        }
    }

    let header_token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(token) = header_token.or(form_token) else {
        return Err(csrf_failed("a CSRF token is required (X-CSRF-Token header or csrf_token field)"));
    };
    if !state.ctx.csrf.verify(caller.csrf_binding(), &token) {
        return Err(csrf_failed("the CSRF token does not match this session; reload the page"));
    }

    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &fields {
        out.append_pair(k, v);
    }
    Ok(Body::from(out.finish()))
}
