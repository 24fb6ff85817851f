//! The server side of a request: what the request layer resolved about the caller (once), the
//! context server functions run in, engine answers as wire answers, and engine errors as API
//! errors. Nothing here writes a response: a server function states a cookie change on the
//! [`Caller`], and the server's request layer applies it (with the status an error code implies)
//! after the function returns.

use crate::error::{ApiError, ErrorCode};
use crate::models::{
    self, AdminUserView, AuditEventView, ClientSettings, DeviceView, DraftView, PlatformView, SessionInfo, SessionSnapshot, SessionState,
    SessionView, UserView,
};
use futures::future::{BoxFuture, FutureExt, Shared};
use http::header::{ACCEPT_LANGUAGE, COOKIE, USER_AGENT};
use http::{HeaderMap, HeaderValue};
use leptos::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use switchboard::csrf::{CsrfBinding, CsrfKey};
use switchboard::token::{PreSessionId, SessionToken};
use switchboard::{ClientMeta, Engine, Error as EngineError, Session};

/// Everything a server function needs besides its caller, provided by the server for every
/// request.
#[derive(Clone)]
pub struct AppContext {
    pub engine: Engine,
    pub csrf: CsrfKey,
    pub cookies: CookiePolicy,
    pub features: Features,
    /// What the browser side needs to know (sync on/off, registration, check interval, warning).
    pub client: ClientSettings,
    /// The administrators' dashboard's figures over time (sampled by the server).
    pub dashboard: std::sync::Arc<crate::dashboard::History>,
    /// Told each leader tab's sync figures (the server's `/metrics`).
    pub on_client_report: std::sync::Arc<dyn Fn(&crate::client_report::ClientReport) + Send + Sync>,
}

/// Feature flags the server itself acts on. (`cross_tab_sync` is the browser's business: it
/// reaches it as `ClientSettings::sync`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// Whether visitors may create accounts.
    pub registration: bool,
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

/// What should happen to the session cookie when the answer goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieChange {
    /// A new session: set the cookie to this token.
    Set(SessionToken),
    /// The session ended: remove the cookie.
    Clear,
}

/// The caller's session as the request layer found it.
#[derive(Debug, Clone)]
pub enum SessionLookup {
    Live(Session),
    /// No live session, and why.
    SignedOut(models::EndReason),
    /// The store could not say (busy or broken): the code to answer with.
    Failed(ErrorCode),
}

/// Whether a request counts as the user's activity (and so may move the idle deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Pages, forms and API calls the user made.
    User,
    /// A tab's background check: never keeps a session alive.
    Background,
}

/// What the request layer resolved about the caller, once per request. Cheap to clone (shared):
/// the copy in the request's extensions and the layer's own see the same cookie change.
#[derive(Debug, Clone)]
pub struct Caller(Arc<CallerInner>);

struct CallerInner {
    lookup: SessionLookup,
    /// The live session's user, read with it.
    owner: Option<switchboard::User>,
    /// The session cookie's token, if it had a well-formed one (live or not).
    token: Option<SessionToken>,
    /// The pre-session cookie's id, if the request carried a well-formed one.
    sent_pre_session: Option<PreSessionId>,
    /// Without one, the pre-session made the first time the answer needs one (a CSRF token
    /// bound to it): only then does the answer set its cookie. A signed-in caller's answers
    /// rarely do, so a client that keeps only the session cookie is not sent a new pre-session
    /// with every answer.
    new_pre_session: OnceLock<PreSessionId>,
    /// The CSRF token for this caller (bound to the session, else to the pre-session), made the
    /// first time an answer carries it.
    csrf_token: OnceLock<String>,
    meta: ClientMeta,
    cookie_change: Mutex<Option<CookieChange>>,
    /// The cookie's session was replaced by a newer one in this browser (a sign-in, registration
    /// or password change rotated it): see [`Caller::clears_dead_cookie`].
    replaced: bool,
    /// Page fragments rendered for this request, by page and query (see [`Caller::fragment`]).
    fragments: Mutex<HashMap<String, SharedFragment>>,
}

/// A page fragment being rendered, awaited by every render of the page that asks for it.
pub type SharedFragment = Shared<BoxFuture<'static, Result<String, ApiError>>>;

/// Shows the lookup and client, never the CSRF token (tokens stay out of logs).
impl std::fmt::Debug for CallerInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("lookup", &self.lookup)
            .field("new_pre_session", &self.new_pre_session.get().is_some())
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl Caller {
    pub fn lookup(&self) -> &SessionLookup {
        &self.0.lookup
    }

    /// The caller's live session, or the 401 that explains why there is none.
    pub fn session(&self) -> Result<&Session, ApiError> {
        match &self.0.lookup {
            SessionLookup::Live(session) => Ok(session),
            SessionLookup::SignedOut(reason) => Err(signed_out_error(*reason)),
            SessionLookup::Failed(code) => Err(failure_error(*code)),
        }
    }

    /// Whether an answer that says the cookie's session ended should remove the cookie. Not when
    /// the session was rotated: the browser that rotated it was given the successor's cookie in
    /// the same answer, so a request still carrying the old one was sent before that (another
    /// tab's check, say), and clearing the cookie now would sign that browser out of the new
    /// session. Anyone else holding a rotated token holds a dead one either way.
    pub fn clears_dead_cookie(&self) -> bool {
        !self.0.replaced
    }

    pub fn token(&self) -> Option<&SessionToken> {
        self.0.token.as_ref()
    }

    pub fn meta(&self) -> &ClientMeta {
        &self.0.meta
    }

    /// The caller's pre-session: the cookie's, else a new one, whose cookie the answer then sets.
    pub fn pre_session(&self) -> &PreSessionId {
        match &self.0.sent_pre_session {
            Some(sent) => sent,
            None => self.0.new_pre_session.get_or_init(PreSessionId::generate),
        }
    }

    /// Whether the answer must set the pre-session cookie: the request had none, and the answer
    /// depends on the one [`Caller::pre_session`] made.
    pub fn new_pre_session(&self) -> bool {
        self.0.new_pre_session.get().is_some()
    }

    /// The caller's CSRF token (see [`Caller::csrf_binding`]), the same one for the whole answer.
    pub fn csrf_token(&self, key: &CsrfKey) -> &str {
        self.0.csrf_token.get_or_init(|| key.token_for(self.csrf_binding()))
    }

    /// What the caller's CSRF token is bound to.
    pub fn csrf_binding(&self) -> CsrfBinding<'_> {
        match &self.0.lookup {
            SessionLookup::Live(s) => CsrfBinding::Session(&s.public_id),
            _ => CsrfBinding::PreSession(self.pre_session()),
        }
    }

    /// States what the answer does to the session cookie (the last word wins).
    pub fn change_cookie(&self, change: CookieChange) {
        *self.0.cookie_change.lock().unwrap_or_else(|p| p.into_inner()) = Some(change);
    }

    /// The fragment `key` of this request, rendered by `render` the first time it is asked for.
    /// Server-side rendering runs a page's suspended parts more than once (dry-resolve, then
    /// resolve, and again as the guards settle): without this, each run rendered the fragment,
    /// and its database reads, again (three times per page).
    pub fn fragment(&self, key: String, render: impl FnOnce() -> BoxFuture<'static, Result<String, ApiError>>) -> SharedFragment {
        let mut fragments = self.0.fragments.lock().unwrap_or_else(|p| p.into_inner());
        fragments.entry(key).or_insert_with(|| render().shared()).clone()
    }

    /// The cookie change the answer carries, as stated during the request.
    pub fn cookie_change(&self) -> Option<CookieChange> {
        self.0.cookie_change.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn signed_out_error(reason: models::EndReason) -> ApiError {
    match reason {
        models::EndReason::SessionExpired => ApiError::new(ErrorCode::SessionExpired, "your session has expired; sign in again"),
        models::EndReason::SessionRevoked => ApiError::new(ErrorCode::SessionRevoked, "your session has ended; sign in again"),
        models::EndReason::Unauthenticated | models::EndReason::LoggedOut => {
            ApiError::new(ErrorCode::Unauthenticated, "sign in to continue")
        }
    }
}

fn failure_error(code: ErrorCode) -> ApiError {
    match code {
        ErrorCode::Unavailable => ApiError::new(code, "the service is busy; try again shortly"),
        _ => ApiError::new(code, "something went wrong on our side"),
    }
}

/// Why a stored session is over, in the wire's words.
fn wire_reason(reason: switchboard::EndReason) -> models::EndReason {
    match reason {
        switchboard::EndReason::Expired => models::EndReason::SessionExpired,
        switchboard::EndReason::Logout
        | switchboard::EndReason::Rotated
        | switchboard::EndReason::RevokedByUser
        | switchboard::EndReason::RevokedByAdmin
        | switchboard::EndReason::Evicted
        | switchboard::EndReason::PasswordChanged
        | switchboard::EndReason::UserDisabled
        | switchboard::EndReason::Suspicious => models::EndReason::SessionRevoked,
    }
}

/// Resolves the caller: the session (if any) and the pre-session cookie. One database read when
/// a session cookie is present, none otherwise. The CSRF token, and a pre-session when the
/// request had none, are made when the answer first needs them.
pub async fn resolve_request(app: &AppContext, headers: &HeaderMap, peer_ip: Option<String>, activity: Activity) -> Caller {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let meta = ClientMeta {
        ip: peer_ip,
        user_agent: header(USER_AGENT),
        accept_language: header(ACCEPT_LANGUAGE),
    };
    let raw = cookie(headers, app.cookies.session_name());
    let token = raw.and_then(SessionToken::parse);
    let mut owner = None;
    let mut replaced = false;
    let lookup = match &token {
        Some(token) => {
            let found = app.engine.authenticate_with_user(token, &meta, activity == Activity::User).await;
            match found {
                Ok((session, user)) => {
                    owner = Some(user);
                    SessionLookup::Live(session)
                }
                Err(EngineError::SessionEnded(reason)) => {
                    replaced = reason == switchboard::EndReason::Rotated;
                    SessionLookup::SignedOut(wire_reason(reason))
                }
                Err(EngineError::Unauthenticated) => SessionLookup::SignedOut(models::EndReason::Unauthenticated),
                Err(EngineError::Unavailable) => SessionLookup::Failed(ErrorCode::Unavailable),
                Err(other) => {
                    tracing::error!(error = %other, "session lookup failed");
                    SessionLookup::Failed(ErrorCode::Internal)
                }
            }
        }
        None => {
            if raw.is_some() {
                tracing::debug!("malformed session cookie ignored");
            }
            SessionLookup::SignedOut(models::EndReason::Unauthenticated)
        }
    };
    let sent_pre_session = cookie(headers, app.cookies.pre_session_name()).and_then(PreSessionId::parse);
    Caller(Arc::new(CallerInner {
        lookup,
        owner,
        token,
        sent_pre_session,
        new_pre_session: OnceLock::new(),
        csrf_token: OnceLock::new(),
        meta,
        cookie_change: Mutex::new(None),
        replaced,
        fragments: Mutex::new(HashMap::new()),
    }))
}

/// A server function's view of its request: the app and the caller. Read through
/// [`request_context`], the one accessor.
#[derive(Clone)]
pub struct RequestContext {
    pub app: AppContext,
    pub caller: Caller,
}

/// The context of the request being served. Fails (500) only if the server did not set it up.
pub fn request_context() -> Result<RequestContext, ApiError> {
    let missing = || ApiError::new(ErrorCode::Internal, "the request was not resolved");
    let app = use_context::<AppContext>().ok_or_else(missing)?;
    let caller = use_context::<Caller>().ok_or_else(missing)?;
    Ok(RequestContext { app, caller })
}

impl RequestContext {
    /// Puts this context where [`request_context`] finds it: in the current reactive owner's
    /// context.
    pub fn provide(&self) {
        provide_context(self.app.clone());
        provide_context(self.caller.clone());
    }

    pub fn engine(&self) -> &Engine {
        &self.app.engine
    }

    /// The caller's live session, or the 401 that explains why there is none.
    pub fn session(&self) -> Result<&Session, ApiError> {
        self.caller.session()
    }

    /// `Ok` for an administrator; else the 401 (no session) or 403 (not an administrator, which
    /// is logged and audited as an attempt at `what`).
    pub async fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        self.engine()
            .require_admin(self.session()?, self.caller.meta(), what)
            .await
            .map(drop)
            .map_err(|e| self.fail(e))
    }

    /// An engine error as the API answers it. Our own faults are logged here and never detailed.
    pub fn fail(&self, e: EngineError) -> ApiError {
        let message = e.to_string();
        match e {
            EngineError::Invalid(p) => ApiError::new(ErrorCode::InvalidInput, message).with_field(p.field),
            EngineError::InvalidCredentials => ApiError::new(ErrorCode::InvalidCredentials, message),
            EngineError::EmailTaken => ApiError::new(ErrorCode::EmailTaken, message),
            EngineError::Unauthenticated => signed_out_error(models::EndReason::Unauthenticated),
            EngineError::SessionEnded(reason) => signed_out_error(wire_reason(reason)),
            EngineError::NotFound(_) => ApiError::new(ErrorCode::NotFound, message),
            EngineError::VersionConflict { current, .. } => {
                let mut err = ApiError::new(ErrorCode::VersionConflict, message);
                err.error.current = Some(Box::new(self.state(*current)));
                err
            }
            EngineError::NoActivePlatform => ApiError::new(ErrorCode::NoActivePlatform, message),
            EngineError::LimitReached(_) => ApiError::new(ErrorCode::LimitReached, message),
            EngineError::TooManySessions => ApiError::new(ErrorCode::TooManySessions, message),
            EngineError::Forbidden => ApiError::new(ErrorCode::Forbidden, message),
            EngineError::ReauthenticationRequired => ApiError::new(ErrorCode::ReauthenticationRequired, message),
            EngineError::TooManyAttempts { retry_after } => {
                let seconds = retry_after.as_secs_f64().ceil() as u64;
                ApiError::new(ErrorCode::TooManyAttempts, message).with_retry_after(seconds.max(1))
            }
            EngineError::Busy => ApiError::new(ErrorCode::Busy, message).with_retry_after(1),
            EngineError::Unavailable => failure_error(ErrorCode::Unavailable),
            EngineError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                failure_error(ErrorCode::Internal)
            }
        }
    }

    /// A session state as the API answers it, with the CSRF token bound to that session.
    pub fn state(&self, s: switchboard::SessionState) -> SessionState {
        // The caller's own session's token, when this is its state (made once per answer).
        let csrf_token = match self.caller.lookup() {
            SessionLookup::Live(own) if own.public_id == s.session.public_id => self.caller.csrf_token(&self.app.csrf).to_owned(),
            _ => self.app.csrf.token_for(CsrfBinding::Session(&s.session.public_id)),
        };
        SessionState {
            user: UserView {
                id: models::UserId(s.user.id.get()),
                email: s.user.email.as_str().to_owned(),
                display_name: s.user.display_name.as_str().to_owned(),
                is_admin: s.user.is_admin,
            },
            platform: s.platform.as_ref().map(platform_view),
            platforms: s.platforms.iter().map(platform_view).collect(),
            session: SessionView {
                id: models::PublicSessionId(s.session.public_id.as_str().to_owned()),
                created_at: time(s.session.created_at),
                last_seen_at: time(s.session.last_seen_at),
                idle_expires_at: time(s.session.idle_expires_at),
                absolute_expires_at: time(s.session.absolute_expires_at),
                version: models::SessionVersion(s.session.version.get()),
                reauth_until: time(self.app.engine.policy().reauth_until(s.session.reauthenticated_at)),
            },
            csrf_token,
            server_time: self.now(),
        }
    }

    fn now(&self) -> models::Timestamp {
        time(self.app.engine.now())
    }

    /// The answer to a successful login or registration: the new session's cookie (applied by
    /// the request layer), a redirect to `next` for plain form posts, and the new state.
    pub fn signed_in(&self, token: SessionToken, state: switchboard::SessionState, next: &str) -> SessionState {
        self.caller.change_cookie(CookieChange::Set(token));
        leptos_axum::redirect(next);
        self.state(state)
    }

    /// The state of the caller's live `session`, with the user read in the request's lookup (so
    /// only the platforms are read here).
    pub async fn state_of_caller(&self, session: &Session) -> Result<switchboard::SessionState, EngineError> {
        match &self.caller.0.owner {
            Some(user) => self.engine().state_with_user(session.clone(), user.clone()).await,
            None => self.engine().state_of(session.clone()).await,
        }
    }

    /// The caller's session as the app reads it: the state when signed in, else why not. Never a
    /// 401: being signed out is an answer, not an error.
    pub async fn snapshot(&self) -> Result<SessionSnapshot, ApiError> {
        match self.caller.lookup() {
            SessionLookup::Live(session) => match self.state_of_caller(session).await {
                Ok(state) => Ok(SessionSnapshot::signed_in(self.state(state), self.app.client)),
                Err(EngineError::SessionEnded(reason)) => Ok(self.ended(wire_reason(reason))),
                Err(EngineError::Unauthenticated) => Ok(self.ended(models::EndReason::Unauthenticated)),
                Err(e) => Err(self.fail(e)),
            },
            SessionLookup::SignedOut(reason) => Ok(self.ended(*reason)),
            SessionLookup::Failed(code) => Err(failure_error(*code)),
        }
    }

    /// The signed-out answer for a session that is over; an answer that says it ended also
    /// removes its cookie.
    fn ended(&self, reason: models::EndReason) -> SessionSnapshot {
        if matches!(reason, models::EndReason::SessionExpired | models::EndReason::SessionRevoked) && self.caller.clears_dead_cookie() {
            self.caller.change_cookie(CookieChange::Clear);
        }
        self.signed_out(reason)
    }

    /// A signed-out answer. Its CSRF token is bound to the pre-session, which is what the next
    /// login needs.
    pub fn signed_out(&self, ended: models::EndReason) -> SessionSnapshot {
        SessionSnapshot {
            state: None,
            ended: Some(ended),
            csrf_token: self.app.csrf.token_for(CsrfBinding::PreSession(self.caller.pre_session())),
            server_time: self.now(),
            client: self.app.client,
        }
    }
}

pub fn time(t: switchboard::Timestamp) -> models::Timestamp {
    models::Timestamp(t.millis())
}

pub fn platform_view(p: &switchboard::Platform) -> PlatformView {
    use switchboard::domain::PlatformKind as Kind;
    PlatformView {
        id: models::PlatformId(p.id.get()),
        kind: match p.kind {
            Kind::Mastodon => models::PlatformKind::Mastodon,
            Kind::Pixelfed => models::PlatformKind::Pixelfed,
            Kind::Other => models::PlatformKind::Other,
        },
        label: p.label.as_str().to_owned(),
        instance_url: p.instance_url.as_str().to_owned(),
        handle: p.handle.as_str().to_owned(),
    }
}

pub fn draft_view(d: &switchboard::Draft) -> DraftView {
    DraftView {
        id: models::DraftId(d.id.get()),
        platform_id: models::PlatformId(d.platform_id.get()),
        title: d.title.as_str().to_owned(),
        body: d.body.as_str().to_owned(),
        created_at: time(d.created_at),
        updated_at: time(d.updated_at),
    }
}

/// A live session as the Sessions and admin pages list it. `platforms` are its user's (for the
/// active platform's label); `current` is the session asking.
pub fn session_info(
    s: &switchboard::Session,
    platforms: &[switchboard::Platform],
    current: Option<&switchboard::PublicSessionId>,
) -> SessionInfo {
    let device = switchboard::device::device_of(s.user_agent.as_deref());
    SessionInfo {
        public_id: models::PublicSessionId(s.public_id.as_str().to_owned()),
        device: DeviceView {
            browser: device.browser,
            os: device.os,
        },
        user_agent: s.user_agent.clone(),
        ip: s.ip.clone(),
        created_at: time(s.created_at),
        last_seen_at: time(s.last_seen_at),
        active_platform: s
            .active_platform_id
            .and_then(|id| platforms.iter().find(|p| p.id == id))
            .map(|p| p.label.as_str().to_owned()),
        current: current == Some(&s.public_id),
        flagged_at: s.flagged_at.map(time),
    }
}

pub fn admin_user_view(u: &switchboard::accounts::UserOverview) -> AdminUserView {
    AdminUserView {
        id: models::UserId(u.user.id.get()),
        email: u.user.email.as_str().to_owned(),
        display_name: u.user.display_name.as_str().to_owned(),
        is_admin: u.user.is_admin,
        disabled: u.user.disabled,
        created_at: time(u.created_at),
        live_sessions: u.live_sessions,
    }
}

pub fn audit_event_view(e: &switchboard::audit::AuditEvent) -> AuditEventView {
    AuditEventView {
        id: e.id,
        at: time(e.at),
        kind: e.entry.kind.as_str().to_owned(),
        actor_user_id: e.entry.actor.map(|u| models::UserId(u.get())),
        subject_user_id: e.entry.subject.map(|u| models::UserId(u.get())),
        session_public_id: e.entry.session.as_ref().map(|p| models::PublicSessionId(p.as_str().to_owned())),
        ip: e.entry.ip.clone(),
        user_agent: e.entry.user_agent.clone(),
        outcome: e.entry.outcome.as_str().to_owned(),
        detail: e.entry.detail.clone(),
    }
}

/// The CSRF token the page is rendered with (for its `<meta>` and hidden form fields).
pub fn page_csrf_token() -> String {
    request_context()
        .map(|c| c.caller.csrf_token(&c.app.csrf).to_owned())
        .unwrap_or_default()
}
