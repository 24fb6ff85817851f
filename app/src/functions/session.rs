//! The session's server functions: read it, check it, extend it, sign in, register, sign out.

use super::client::CsrfClient;
use crate::error::ApiError;
use crate::models::{SessionSnapshot, SessionState};
use leptos::prelude::*;
use server_fn::codec::GetUrl;

#[cfg(feature = "ssr")]
use crate::auth::ssr::{request_context, CookieChange};
#[cfg(feature = "ssr")]
use crate::error::ErrorCode;
#[cfg(feature = "ssr")]
use crate::models::EndReason;
#[cfg(feature = "ssr")]
use switchboard::domain as d;
#[cfg(feature = "ssr")]
use switchboard::SessionStart;

/// The caller's session: user, active platform, platforms, session metadata, CSRF token.
#[server(prefix = "/api", endpoint = "session_state", input = GetUrl, client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_session_state() -> Result<SessionState, ApiError> {
    let cx = request_context()?;
    let state = cx.state_of_caller(cx.session()?).await.map_err(|e| cx.fail(e))?;
    Ok(cx.state(state))
}

/// The app's own view of the session: 200 whether or not the caller is signed in. Loading it
/// counts as activity (it is what a page does when the user opens it).
#[server(prefix = "/api", endpoint = "session", input = GetUrl, client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn current_session() -> Result<SessionSnapshot, ApiError> {
    request_context()?.snapshot().await
}

/// The same answer as `GET /api/session`, for a tab's background check: it never counts as
/// activity, so an open tab does not keep an idle session alive (the registry marks it
/// `Activity::Background`, and the request layer resolves it without touching the session).
///
/// Now and then the leader tab adds its sync figures (`sync::figures`): `checks` made over
/// `over_ms`, and `propagation_us`, up to 64 comma-separated times (µs) that knowledge took to
/// reach it from another tab. Counted in `/metrics` for a signed-in caller; out of range: `422`.
#[server(prefix = "/api", endpoint = "session_check", input = GetUrl, client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn check_session(
    #[server(default)] checks: Option<u32>,
    #[server(default)] over_ms: Option<u64>,
    #[server(default)] propagation_us: Option<String>,
) -> Result<SessionSnapshot, ApiError> {
    let cx = request_context()?;
    let report = crate::client_report::ClientReport::parse(checks, over_ms, propagation_us.as_deref())?;
    let snapshot = cx.snapshot().await?;
    if let (Some(report), Ok(_)) = (report, cx.session()) {
        (cx.app.on_client_report)(&report);
    }
    Ok(snapshot)
}

/// "Stay signed in": restarts the idle deadline now. Answers the new state.
#[server(prefix = "/api", endpoint = "extend_session", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn extend_session() -> Result<SessionState, ApiError> {
    let cx = request_context()?;
    let state = cx.engine().extend(cx.session()?, cx.caller.meta()).await.map_err(|e| cx.fail(e))?;
    Ok(cx.state(state))
}

/// Signs in. Always issues a new session token and ends the one the browser held. A plain form
/// post is sent on to `next` (a path on this site, e.g. the page a session expired on), else `/`.
#[server(prefix = "/api", endpoint = "login", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn login(email: String, password: String, #[server(default)] next: Option<String>) -> Result<SessionState, ApiError> {
    let cx = request_context()?;
    let password = d::Password::parse_attempt(&password).map_err(|e| cx.fail(e.into()))?;
    let next = match next.as_deref().filter(|n| !n.is_empty()) {
        None => "/",
        Some(n) => crate::auth::local_path(Some(n))
            .ok_or_else(|| cx.fail(switchboard::Error::invalid("next", "must be a path on this site, like /platforms")))?,
    };
    let (token, state) = cx
        .engine()
        .login(&email, password, cx.caller.meta().clone(), cx.caller.token())
        .await
        .map_err(|e| cx.fail(e))?;
    Ok(cx.signed_in(token, state, next))
}

/// Creates an account and signs it in (when the `registration` feature is on).
#[server(prefix = "/api", endpoint = "register", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn register(email: String, password: String, display_name: String) -> Result<SessionState, ApiError> {
    let cx = request_context()?;
    if !cx.app.features.registration {
        return Err(ApiError::new(
            ErrorCode::RegistrationClosed,
            "this server does not accept new accounts",
        ));
    }
    let parsed = (|| {
        Ok::<_, d::ParseError>((
            d::Email::parse(&email)?,
            d::Password::parse_new(&password)?,
            d::DisplayName::parse(&display_name)?,
        ))
    })();
    let (email, password, name) = parsed.map_err(|e| cx.fail(e.into()))?;
    let engine = cx.engine();
    let ip = cx.caller.meta().ip.as_deref().unwrap_or("");
    engine.check_registration(ip).await.map_err(|e| cx.fail(e))?;
    let user = engine.register(&email, password, &name).await.map_err(|e| cx.fail(e))?;
    let (token, session) = engine
        .start_session(user.id, cx.caller.meta().clone(), cx.caller.token(), SessionStart::Registration)
        .await
        .map_err(|e| cx.fail(e))?;
    let state = engine.state_of(session).await.map_err(|e| cx.fail(e))?;
    Ok(cx.signed_in(token, state, "/"))
}

/// Ends the session (idempotent) and clears the cookie. Answers the signed-out state, whose CSRF
/// token is the one the next login needs.
#[server(prefix = "/api", endpoint = "logout", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn logout() -> Result<SessionSnapshot, ApiError> {
    let cx = request_context()?;
    if let Some(token) = cx.caller.token() {
        cx.engine().logout(token, cx.caller.meta()).await.map_err(|e| cx.fail(e))?;
    }
    cx.caller.change_cookie(CookieChange::Clear);
    leptos_axum::redirect(&crate::auth::login_path(EndReason::LoggedOut, "/"));
    Ok(cx.signed_out(EndReason::LoggedOut))
}
