//! Server-side glue between HTTP requests and the engine: the context server functions run in,
//! what the request layer learned about the caller, cookies, and error mapping.

use crate::error::ApiError;
use crate::models::{ClientSettings, DraftView, PlatformView, SessionSnapshot, SessionState, SessionView, UserView};
use http::header::{ACCEPT, COOKIE, SET_COOKIE, USER_AGENT};
use http::{HeaderMap, HeaderValue, StatusCode};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use switchboard::clock::Timestamp;
use switchboard::csrf::{CsrfBinding, CsrfKey};
use switchboard::sessions::Session;
use switchboard::token::{PreSessionId, SessionToken};
use switchboard::{ClientMeta, Engine, Error as EngineError};

/// Everything a server function needs, provided by the server for every request.
#[derive(Clone)]
pub struct AppContext {
    pub engine: Engine,
    pub csrf: CsrfKey,
    pub cookies: CookiePolicy,
    pub features: Features,
    /// What the browser side needs to know (sync on/off, check interval, idle warning).
    pub client: ClientSettings,
}

/// Feature flags that change what the app offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// Whether visitors may create accounts.
    pub registration: bool,
    /// Whether the browser keeps tabs in step (BroadcastChannel, one leader tab checking).
    pub cross_tab_sync: bool,
}

/// Cookie names and attributes. With `secure`, cookies carry `Secure` and the `__Host-` prefix
/// (which browsers only accept from HTTPS, with `Path=/` and no `Domain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookiePolicy {
    pub secure: bool,
}

impl CookiePolicy {
    pub fn session_name(&self) -> &'static str {
        if self.secure {
            "__Host-sb_session"
        } else {
            "sb_session"
        }
    }

    pub fn pre_session_name(&self) -> &'static str {
        if self.secure {
            "__Host-sb_pre"
        } else {
            "sb_pre"
        }
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, a browser-session cookie (the
    /// server enforces the real lifetimes).
    pub fn set(&self, name: &str, value: &str) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}"))
            .expect("cookie names and base64url values are valid header text")
    }

    pub fn clear(&self, name: &str) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")).expect("valid header text")
    }
}

/// Why a request has no usable session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    NoSession,
    Expired,
    Revoked,
    Unavailable,
    Internal,
}

impl AuthFailure {
    pub fn to_api_error(self) -> ApiError {
        match self {
            AuthFailure::NoSession => ApiError::new("unauthenticated", "sign in to continue"),
            AuthFailure::Expired => ApiError::new("session_expired", "your session has expired; sign in again"),
            AuthFailure::Revoked => ApiError::new("session_revoked", "your session has ended; sign in again"),
            AuthFailure::Unavailable => ApiError::new("unavailable", "the service is busy; try again shortly"),
            AuthFailure::Internal => ApiError::new("internal", "something went wrong on our side"),
        }
    }
}

/// What the server's request layer found out about the caller. It resolves the session once per
/// request and stores this in the request's extensions; pages and server functions read it.
#[derive(Debug, Clone)]
pub struct RequestAuth {
    pub session: Result<Session, AuthFailure>,
    /// The session cookie's token, if it had a well-formed one (live or not).
    pub token: Option<SessionToken>,
    pub pre_session: PreSessionId,
    /// The pre-session cookie was missing and must be set on the response.
    pub new_pre_session: bool,
    /// The CSRF token for this caller: bound to the session, else to the pre-session.
    pub csrf_token: String,
    pub meta: ClientMeta,
}

impl RequestAuth {
    pub fn csrf_binding(&self) -> CsrfBinding<'_> {
        match &self.session {
            Ok(s) => CsrfBinding::Session(&s.public_id),
            Err(_) => CsrfBinding::PreSession(self.pre_session.expose()),
        }
    }
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether a request counts as the user's activity (and so may move the idle deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Pages, forms and API calls the user made.
    User,
    /// A tab's background check (`GET /api/session_check`): never keeps a session alive.
    Background,
}

/// Resolves the caller: session (if any), pre-session, CSRF token. One database read when a
/// session cookie is present, none otherwise.
pub async fn resolve_request(ctx: &AppContext, headers: &HeaderMap, peer_ip: Option<String>, activity: Activity) -> RequestAuth {
    let token = cookie(headers, ctx.cookies.session_name()).and_then(SessionToken::parse);
    let had_cookie = cookie(headers, ctx.cookies.session_name()).is_some();
    let session = match &token {
        Some(token) => match activity {
            Activity::User => ctx.engine.authenticate(token).await,
            Activity::Background => ctx.engine.peek(token).await,
        }
        .map_err(|e| match e {
            EngineError::SessionExpired => AuthFailure::Expired,
            EngineError::SessionRevoked => AuthFailure::Revoked,
            EngineError::Unauthenticated => AuthFailure::NoSession,
            EngineError::Unavailable => AuthFailure::Unavailable,
            other => {
                tracing::error!(error = %other, "session lookup failed");
                AuthFailure::Internal
            }
        }),
        None => {
            if had_cookie {
                tracing::debug!("malformed session cookie ignored");
            }
            Err(AuthFailure::NoSession)
        }
    };
    let existing = cookie(headers, ctx.cookies.pre_session_name()).and_then(PreSessionId::parse);
    let new_pre_session = existing.is_none();
    let pre_session = existing.unwrap_or_else(PreSessionId::generate);
    let user_agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut auth = RequestAuth {
        session,
        token,
        pre_session,
        new_pre_session,
        csrf_token: String::new(),
        meta: ClientMeta { ip: peer_ip, user_agent },
    };
    auth.csrf_token = ctx.csrf.token_for(auth.csrf_binding());
    auth
}

pub fn app_context() -> Result<AppContext, ApiError> {
    use_context::<AppContext>().ok_or_else(|| ApiError::new("internal", "the application context is missing"))
}

pub fn request_parts() -> Option<http::request::Parts> {
    use_context::<http::request::Parts>()
}

pub fn request_auth() -> Result<RequestAuth, ApiError> {
    request_parts()
        .and_then(|p| p.extensions.get::<RequestAuth>().cloned())
        .ok_or_else(|| ApiError::new("internal", "the request was not resolved"))
}

/// The caller's live session, or the 401 error that explains why there is none.
pub fn require_session() -> Result<(AppContext, Session), ApiError> {
    let ctx = app_context()?;
    match request_auth()?.session {
        Ok(session) => Ok((ctx, session)),
        Err(failure) => {
            if matches!(failure, AuthFailure::Expired | AuthFailure::Revoked) {
                append_header(SET_COOKIE, ctx.cookies.clear(ctx.cookies.session_name()));
            }
            Err(respond(failure.to_api_error()))
        }
    }
}

fn accepts_html() -> bool {
    request_parts()
        .and_then(|p| p.headers.get(ACCEPT).and_then(|v| v.to_str().ok()).map(|v| v.contains("text/html")))
        .unwrap_or(false)
}

/// True when this request is an API call, not a page being rendered (pages call server
/// functions directly while rendering; their status is the page's business).
fn is_api_call() -> bool {
    request_parts().is_some_and(|p| p.uri.path().starts_with("/api/"))
}

/// Sets the HTTP status for an error answer to an API call. Plain HTML form posts are left
/// alone: Leptos redirects them back to the form with the error in the URL, which needs a 3xx.
pub fn respond_with_status(err: &ApiError) {
    if let Some(res) = use_context::<ResponseOptions>() {
        if is_api_call() && !accepts_html() {
            res.set_status(StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        }
    }
}

pub fn respond(err: ApiError) -> ApiError {
    respond_with_status(&err);
    err
}

pub fn append_header(name: http::HeaderName, value: HeaderValue) {
    if let Some(res) = use_context::<ResponseOptions>() {
        res.append_header(name, value);
    }
}

/// Maps an engine error to its API answer (logging our own faults) and sets the status.
pub fn fail(ctx: &AppContext, e: EngineError) -> ApiError {
    let mut err = ApiError::new(e.code(), e.to_string());
    match e {
        EngineError::Invalid { field, .. } => err.error.field = Some(field.to_owned()),
        EngineError::VersionConflict { current, .. } => {
            let csrf = ctx.csrf.token_for(CsrfBinding::Session(&current.session.public_id));
            err.error.current = Some(Box::new(state_view(ctx, *current, csrf)));
        }
        EngineError::Internal(detail) => {
            tracing::error!(error = %detail, "internal error");
            err.error.message = "something went wrong on our side".into();
        }
        EngineError::SessionExpired | EngineError::SessionRevoked => {
            append_header(SET_COOKIE, ctx.cookies.clear(ctx.cookies.session_name()));
        }
        _ => {}
    }
    respond(err)
}

pub fn rfc3339(t: Timestamp) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.millis()) * 1_000_000)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_default()
}

pub fn platform_view(p: &switchboard::platforms::Platform) -> PlatformView {
    PlatformView {
        id: p.id,
        kind: p.kind.as_str().to_owned(),
        label: p.label.clone(),
        instance_url: p.instance_url.clone(),
        handle: p.handle.clone(),
    }
}

pub fn draft_view(d: &switchboard::drafts::Draft) -> DraftView {
    DraftView {
        id: d.id,
        platform_id: d.platform_id,
        title: d.title.clone(),
        body: d.body.clone(),
        created_at: rfc3339(d.created_at),
        updated_at: rfc3339(d.updated_at),
    }
}

pub fn state_view(ctx: &AppContext, s: switchboard::SessionState, csrf_token: String) -> SessionState {
    SessionState {
        user: UserView {
            id: s.user.id,
            email: s.user.email,
            display_name: s.user.display_name,
            is_admin: s.user.is_admin,
        },
        platform: s.platform.as_ref().map(platform_view),
        platforms: s.platforms.iter().map(platform_view).collect(),
        session: SessionView {
            id: s.session.public_id,
            created_at: rfc3339(s.session.created_at),
            last_seen_at: rfc3339(s.session.last_seen_at),
            idle_expires_at: rfc3339(s.session.idle_expires_at),
            absolute_expires_at: rfc3339(s.session.absolute_expires_at),
            version: s.session.version,
        },
        csrf_token,
        server_time: rfc3339(ctx.engine.now()),
    }
}

/// Marks an answer as never cacheable.
pub fn no_store() {
    append_header(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The answer to a successful login or registration: the session cookie, a redirect to the
/// dashboard for plain form posts, and the new state with its session-bound CSRF token.
pub fn signed_in(ctx: &AppContext, token: &SessionToken, state: switchboard::SessionState, next: &str) -> SessionState {
    append_header(SET_COOKIE, ctx.cookies.set(ctx.cookies.session_name(), token.expose()));
    let csrf = ctx.csrf.token_for(CsrfBinding::Session(&state.session.public_id));
    leptos_axum::redirect(next);
    state_view(ctx, state, csrf)
}

/// The caller's session as the app reads it: the state when signed in, else why not. Clears a
/// dead session's cookie. Never a 401: being signed out is an answer, not an error.
pub async fn session_snapshot() -> Result<SessionSnapshot, ApiError> {
    let ctx = app_context()?;
    let auth = request_auth()?;
    let ended = match &auth.session {
        Ok(session) => match ctx.engine.state_of(session).await {
            Ok(state) => {
                let csrf = auth.csrf_token.clone();
                return Ok(SessionSnapshot {
                    state: Some(state_view(&ctx, state, csrf.clone())),
                    ended: None,
                    csrf_token: csrf,
                    server_time: rfc3339(ctx.engine.now()),
                    client: ctx.client,
                });
            }
            Err(EngineError::SessionExpired) => AuthFailure::Expired,
            Err(EngineError::SessionRevoked) => AuthFailure::Revoked,
            Err(e) => return Err(fail(&ctx, e)),
        },
        Err(failure @ (AuthFailure::Unavailable | AuthFailure::Internal)) => return Err(respond(failure.to_api_error())),
        Err(failure) => *failure,
    };
    if matches!(ended, AuthFailure::Expired | AuthFailure::Revoked) {
        append_header(SET_COOKIE, ctx.cookies.clear(ctx.cookies.session_name()));
    }
    Ok(signed_out_snapshot(&ctx, &auth, ended.to_api_error().code()))
}

/// A signed-out answer for `ended`. Its CSRF token is bound to the pre-session, which is what
/// the next login needs.
pub fn signed_out_snapshot(ctx: &AppContext, auth: &RequestAuth, ended: &str) -> SessionSnapshot {
    SessionSnapshot {
        state: None,
        ended: Some(ended.to_owned()),
        csrf_token: ctx.csrf.token_for(CsrfBinding::PreSession(auth.pre_session.expose())),
        server_time: rfc3339(ctx.engine.now()),
        client: ctx.client,
    }
}
