//! Administration: every account with its live sessions, ending any session, disabling and
//! enabling accounts, and the audit log. Everything here answers `403 forbidden` to anyone who
//! is not an administrator; changes also need a recent authentication
//! (`403 reauthentication_required`, then `POST /api/reauthenticate`).

use super::client::CsrfClient;
use crate::error::ApiError;
use crate::models::{AdminUserDetail, AdminUserView, AuditEventsPage, PublicSessionId, Timestamp, UserId};
use leptos::prelude::*;
use server_fn::codec::GetUrl;

#[cfg(feature = "ssr")]
use crate::auth::ssr::{admin_user_view, audit_event_view, request_context, session_info, RequestContext};
#[cfg(feature = "ssr")]
use switchboard::audit::{AuditFilter, AuditKind};

/// The most audit events one page holds.
pub const AUDIT_PAGE_MAX: u32 = 200;

#[cfg(feature = "ssr")]
fn user_id(cx: &RequestContext, id: UserId) -> Result<switchboard::UserId, ApiError> {
    switchboard::UserId::parse(id.0).map_err(|e| cx.fail(e.into()))
}

/// Every account, with its number of live sessions.
#[server(prefix = "/api/admin", endpoint = "users", input = GetUrl, client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn admin_users() -> Result<Vec<AdminUserView>, ApiError> {
    let cx = request_context()?;
    let users = cx
        .engine()
        .users_overview(cx.session()?, cx.caller.meta())
        .await
        .map_err(|e| cx.fail(e))?;
    Ok(users.iter().map(admin_user_view).collect())
}

/// One account and its live sessions.
#[server(prefix = "/api/admin", endpoint = "user_sessions", input = GetUrl, client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn admin_user_sessions(user_id: UserId) -> Result<AdminUserDetail, ApiError> {
    let cx = request_context()?;
    let admin = cx.session()?;
    let id = self::user_id(&cx, user_id)?;
    let engine = cx.engine();
    let (user, sessions) = engine
        .user_sessions_for_admin(admin, cx.caller.meta(), id)
        .await
        .map_err(|e| cx.fail(e))?;
    let platforms = engine.platforms_of(id).await.map_err(|e| cx.fail(e))?;
    Ok(AdminUserDetail {
        user: admin_user_view(&user),
        sessions: sessions
            .iter()
            .map(|s| session_info(s, &platforms, Some(&admin.public_id)))
            .collect(),
    })
}

/// Ends any live session.
#[server(prefix = "/api/admin", endpoint = "revoke_session", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn admin_revoke_session(public_id: PublicSessionId) -> Result<(), ApiError> {
    let cx = request_context()?;
    let admin = cx.session()?;
    let target = switchboard::PublicSessionId::parse(&public_id.0).map_err(|e| cx.fail(e.into()))?;
    cx.engine()
        .admin_revoke_session(admin, cx.caller.meta(), &target)
        .await
        .map_err(|e| cx.fail(e))
}

/// Disables an account: every session of it ends at once, and its logins are refused as if the
/// password were wrong.
#[server(prefix = "/api/admin", endpoint = "disable_user", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn disable_user(user_id: UserId) -> Result<AdminUserView, ApiError> {
    set_disabled(user_id, true).await
}

/// Enables a disabled account again.
#[server(prefix = "/api/admin", endpoint = "enable_user", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn enable_user(user_id: UserId) -> Result<AdminUserView, ApiError> {
    set_disabled(user_id, false).await
}

#[cfg(feature = "ssr")]
async fn set_disabled(user_id: UserId, disabled: bool) -> Result<AdminUserView, ApiError> {
    let cx = request_context()?;
    let admin = cx.session()?;
    let id = self::user_id(&cx, user_id)?;
    let engine = cx.engine();
    engine
        .set_disabled(admin, cx.caller.meta(), id, disabled)
        .await
        .map_err(|e| cx.fail(e))?;
    let (user, _) = engine
        .user_sessions_for_admin(admin, cx.caller.meta(), id)
        .await
        .map_err(|e| cx.fail(e))?;
    Ok(admin_user_view(&user))
}

/// A page of the audit log, newest first: events whose actor or subject is `user_id`, of one
/// `kind`, from `from` (inclusive) to `to` (exclusive), older than `before_id`; at most `limit`
/// (default and most: 200). The whole selection as a file: `GET /api/admin/audit?format=csv`.
#[server(prefix = "/api/admin", endpoint = "audit_page", input = GetUrl, client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn audit_page(
    #[server(default)] user_id: Option<UserId>,
    #[server(default)] kind: Option<String>,
    #[server(default)] from: Option<Timestamp>,
    #[server(default)] to: Option<Timestamp>,
    #[server(default)] before_id: Option<i64>,
    #[server(default)] limit: Option<u32>,
) -> Result<AuditEventsPage, ApiError> {
    let cx = request_context()?;
    cx.require_admin("audit log").await?;
    let filter = audit_filter(&cx, user_id, kind.as_deref(), from, to, before_id)?;
    let limit = limit.unwrap_or(AUDIT_PAGE_MAX).clamp(1, AUDIT_PAGE_MAX);
    let events = cx.engine().audit_events(&filter, limit).await.map_err(|e| cx.fail(e))?;
    let next_before_id = (events.len() == limit as usize).then(|| events.last().map(|e| e.id)).flatten();
    Ok(AuditEventsPage {
        events: events.iter().map(audit_event_view).collect(),
        next_before_id,
    })
}

/// The engine's filter for the audit page and export, refusing values that name nothing.
#[cfg(feature = "ssr")]
pub fn audit_filter(
    cx: &RequestContext,
    user_id: Option<UserId>,
    kind: Option<&str>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    before_id: Option<i64>,
) -> Result<AuditFilter, ApiError> {
    let invalid = |field: &'static str, message: &str| cx.fail(switchboard::Error::invalid(field, message));
    let kind = match kind.filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(AuditKind::parse(k).ok_or_else(|| invalid("kind", "is not an audit event kind (see docs/API.md)"))?),
    };
    Ok(AuditFilter {
        user: user_id.map(|id| self::user_id(cx, id)).transpose()?,
        kind,
        from: from.map(|t| switchboard::Timestamp(t.millis())),
        to: to.map(|t| switchboard::Timestamp(t.millis())),
        before_id: before_id.filter(|id| *id > 0),
    })
}
