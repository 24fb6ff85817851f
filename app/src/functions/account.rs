//! The user's own account: their sessions (list, end one, end all others, sign out
//! everywhere), their password, re-authentication for sensitive actions, and their recent
//! security events.

use super::client::CsrfClient;
use crate::error::ApiError;
use crate::models::{AuditEventView, PublicSessionId, Reauthenticated, Revoked, SessionInfo, SessionSnapshot, SessionState};
use leptos::prelude::*;
use server_fn::codec::GetUrl;

#[cfg(feature = "ssr")]
use crate::auth::ssr::{audit_event_view, request_context, session_info, time, CookieChange};
#[cfg(feature = "ssr")]
use crate::models::EndReason;
#[cfg(feature = "ssr")]
use switchboard::domain as d;

/// How many of their own security events a user sees.
pub const SECURITY_EVENTS_SHOWN: u32 = 20;

/// Every live session of the caller's account, most recently used first; `current` marks the
/// one asking.
#[server(prefix = "/api", endpoint = "sessions", input = GetUrl, client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn list_sessions() -> Result<Vec<SessionInfo>, ApiError> {
    let cx = request_context()?;
    let session = cx.session()?;
    let engine = cx.engine();
    let sessions = engine.sessions_of(session.user_id).await.map_err(|e| cx.fail(e))?;
    let platforms = engine.platforms_of(session.user_id).await.map_err(|e| cx.fail(e))?;
    Ok(sessions
        .iter()
        .map(|s| session_info(s, &platforms, Some(&session.public_id)))
        .collect())
}

/// How many live sessions the caller's account has (its devices, for "signed in on N devices").
#[server(prefix = "/api", endpoint = "session_count", input = GetUrl, client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn session_count() -> Result<u64, ApiError> {
    let cx = request_context()?;
    let sessions = cx.engine().sessions_of(cx.session()?.user_id).await.map_err(|e| cx.fail(e))?;
    Ok(sessions.len() as u64)
}

/// Ends one of the caller's sessions. Another user's session answers 404, like one that does
/// not exist. Ending the current session signs this browser out.
#[server(prefix = "/api", endpoint = "revoke_session", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn revoke_session(public_id: PublicSessionId) -> Result<(), ApiError> {
    let cx = request_context()?;
    let session = cx.session()?;
    let target = switchboard::PublicSessionId::parse(&public_id.0).map_err(|e| cx.fail(e.into()))?;
    cx.engine()
        .revoke_own_session(session, cx.caller.meta(), &target)
        .await
        .map_err(|e| cx.fail(e))?;
    if target == session.public_id {
        cx.caller.change_cookie(CookieChange::Clear);
    }
    Ok(())
}

/// Ends every other session of the caller's account.
#[server(prefix = "/api", endpoint = "revoke_other_sessions", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn revoke_other_sessions() -> Result<Revoked, ApiError> {
    let cx = request_context()?;
    let ended = cx
        .engine()
        .revoke_other_sessions(cx.session()?, cx.caller.meta())
        .await
        .map_err(|e| cx.fail(e))?;
    Ok(Revoked { ended })
}

/// Signs out of every session of the account, this one included. Answers like `logout`.
#[server(prefix = "/api", endpoint = "sign_out_everywhere", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn sign_out_everywhere() -> Result<SessionSnapshot, ApiError> {
    let cx = request_context()?;
    cx.engine()
        .sign_out_everywhere(cx.session()?, cx.caller.meta())
        .await
        .map_err(|e| cx.fail(e))?;
    cx.caller.change_cookie(CookieChange::Clear);
    leptos_axum::redirect(&crate::auth::login_path(EndReason::LoggedOut, "/"));
    Ok(cx.signed_out(EndReason::LoggedOut))
}

/// "This wasn't me" for one of the caller's sessions (`public_id`): every session of the account
/// ends, this one too, the audit record says why, and administrators get a critical alert.
/// Answers like `logout`. Another user's session answers 404.
#[server(prefix = "/api", endpoint = "disown_session", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn disown_session(public_id: PublicSessionId) -> Result<SessionSnapshot, ApiError> {
    let cx = request_context()?;
    let target = switchboard::PublicSessionId::parse(&public_id.0).map_err(|e| cx.fail(e.into()))?;
    cx.engine()
        .disown_session(cx.session()?, cx.caller.meta(), &target)
        .await
        .map_err(|e| cx.fail(e))?;
    cx.caller.change_cookie(CookieChange::Clear);
    leptos_axum::redirect(&crate::auth::login_path(EndReason::SessionRevoked, "/"));
    Ok(cx.signed_out(EndReason::SessionRevoked))
}

/// Changes the password: needs a recent authentication and the current password. The session
/// is rotated (new cookie, new CSRF token); `end_other_sessions` (`true`, `on` or `1`) also ends
/// every other session of the account.
#[server(prefix = "/api", endpoint = "change_password", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn change_password(
    current_password: String,
    new_password: String,
    #[server(default)] end_other_sessions: Option<String>,
) -> Result<SessionState, ApiError> {
    let cx = request_context()?;
    let session = cx.session()?;
    let end_others = match end_other_sessions.as_deref() {
        None | Some("false" | "off" | "0") => false,
        Some("true" | "on" | "1") => true,
        Some(_) => return Err(cx.fail(switchboard::Error::invalid("end_other_sessions", "must be true or false"))),
    };
    let parsed = (|| {
        Ok::<_, d::ParseError>((
            d::Password::parse_attempt(&current_password).map_err(|e| d::ParseError::new("current_password", e.message))?,
            d::Password::parse_new(&new_password).map_err(|e| d::ParseError::new("new_password", e.message))?,
        ))
    })();
    let (current, new) = parsed.map_err(|e| cx.fail(e.into()))?;
    let token = cx.caller.token().ok_or_else(|| cx.fail(switchboard::Error::Unauthenticated))?;
    let (token, state) = cx
        .engine()
        .change_password(session, cx.caller.meta(), token, current, new, end_others)
        .await
        .map_err(|e| cx.fail(e))?;
    Ok(cx.signed_in(token, state, "/sessions"))
}

/// Confirms the password: sensitive actions (admin actions, the password change) are allowed
/// for `security.reauth_window` after it. A plain form post goes on to `next` (a path on this
/// site), else back to the form.
#[server(prefix = "/api", endpoint = "reauthenticate", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn reauthenticate(password: String, #[server(default)] next: Option<String>) -> Result<Reauthenticated, ApiError> {
    let cx = request_context()?;
    let password = d::Password::parse_attempt(&password).map_err(|e| cx.fail(e.into()))?;
    let next = match next.as_deref().filter(|n| !n.is_empty()) {
        None => None,
        Some(n) => Some(
            crate::auth::local_path(Some(n))
                .ok_or_else(|| cx.fail(switchboard::Error::invalid("next", "must be a path on this site, like /admin")))?,
        ),
    };
    let until = cx
        .engine()
        .reauthenticate(cx.session()?, cx.caller.meta(), password)
        .await
        .map_err(|e| cx.fail(e))?;
    if let Some(next) = next {
        leptos_axum::redirect(next);
    }
    Ok(Reauthenticated { until: time(until) })
}

/// The caller's most recent security events (sign-ins, failed attempts, sessions ended, password
/// changes), newest first.
#[server(prefix = "/api", endpoint = "security_events", input = GetUrl, client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn security_events() -> Result<Vec<AuditEventView>, ApiError> {
    let cx = request_context()?;
    let filter = switchboard::audit::AuditFilter {
        user: Some(cx.session()?.user_id),
        ..Default::default()
    };
    let events = cx
        .engine()
        .audit_events(&filter, SECURITY_EVENTS_SHOWN)
        .await
        .map_err(|e| cx.fail(e))?;
    Ok(events.iter().map(audit_event_view).collect())
}
