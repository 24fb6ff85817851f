//! The server functions: Switchboard's HTTP API under `/api/`. Each takes form-encoded fields
//! (what an HTML form sends, so everything works without JavaScript and from curl) and answers
//! JSON, or a redirect for a plain form post. `docs/API.md` is the contract.

use crate::client::CsrfClient;
use crate::error::ApiError;
use crate::models::{DraftView, PlatformView, SessionSnapshot, SessionState};
use leptos::prelude::*;
use server_fn::codec::GetUrl;

#[cfg(feature = "ssr")]
use crate::ssr::{
    app_context, append_header, draft_view, fail, no_store, platform_view, request_auth, require_session, respond, signed_in, state_view,
};
#[cfg(feature = "ssr")]
use switchboard::domain as d;

/// The fields each POST endpoint accepts, besides `csrf_token`. The server's request layer
/// answers 400 to any other field, so a typo is an error instead of a silently ignored value.
pub const FORM_FIELDS: &[(&str, &[&str])] = &[
    ("/api/login", &["email", "password", "next"]),
    ("/api/extend_session", &[]),
    ("/api/register", &["email", "password", "display_name"]),
    ("/api/logout", &[]),
    ("/api/switch_platform", &["platform_id", "expected_version"]),
    ("/api/add_platform", &["kind", "label", "instance_url", "handle"]),
    ("/api/rename_platform", &["platform_id", "label"]),
    ("/api/remove_platform", &["platform_id"]),
    ("/api/add_draft", &["title", "body"]),
    ("/api/edit_draft", &["draft_id", "title", "body"]),
    ("/api/delete_draft", &["draft_id"]),
];

/// The caller's session: user, active platform, platforms, session metadata, CSRF token.
#[server(prefix = "/api", endpoint = "session_state", input = GetUrl, client = CsrfClient)]
pub async fn get_session_state() -> Result<SessionState, ApiError> {
    no_store();
    let (ctx, session) = require_session()?;
    let state = ctx.engine.state_of(&session).await.map_err(|e| fail(&ctx, e))?;
    Ok(state_view(&ctx, state, request_auth()?.csrf_token))
}

/// The app's own view of the session: 200 whether or not the caller is signed in. Loading it
/// counts as activity (it is what a page does when the user opens it).
#[server(prefix = "/api", endpoint = "session", input = GetUrl, client = CsrfClient)]
pub async fn current_session() -> Result<SessionSnapshot, ApiError> {
    no_store();
    crate::ssr::session_snapshot().await
}

/// The same answer as `GET /api/session`, for a tab's background check: it never counts as
/// activity, so an open tab does not keep an idle session alive. (The request layer resolves
/// this path without touching the session.)
#[server(prefix = "/api", endpoint = "session_check", input = GetUrl, client = CsrfClient)]
pub async fn check_session() -> Result<SessionSnapshot, ApiError> {
    no_store();
    crate::ssr::session_snapshot().await
}

/// The path of the background check, which the request layer resolves without touching.
pub const BACKGROUND_CHECK_PATH: &str = "/api/session_check";

/// "Stay signed in": restarts the idle deadline now. Answers the new state.
#[server(prefix = "/api", endpoint = "extend_session", client = CsrfClient)]
pub async fn extend_session() -> Result<SessionState, ApiError> {
    no_store();
    let (ctx, session) = require_session()?;
    let state = ctx.engine.extend(&session).await.map_err(|e| fail(&ctx, e))?;
    Ok(state_view(&ctx, state, request_auth()?.csrf_token))
}

/// Signs in. Always issues a new session token and ends the one the browser held. A plain form
/// post is sent on to `next` (a path on this site, e.g. the page a session expired on), else `/`.
#[server(prefix = "/api", endpoint = "login", client = CsrfClient)]
pub async fn login(email: String, password: String, #[server(default)] next: Option<String>) -> Result<SessionState, ApiError> {
    no_store();
    let ctx = app_context()?;
    let auth = request_auth()?;
    let password = d::Password::parse_attempt(&password).map_err(|e| fail(&ctx, e))?;
    let next = match next.as_deref().filter(|n| !n.is_empty()) {
        None => "/",
        Some(n) => crate::models::local_path(Some(n)).ok_or_else(|| {
            fail(
                &ctx,
                switchboard::Error::invalid("next", "must be a path on this site, like /platforms"),
            )
        })?,
    };
    let (token, state) = ctx
        .engine
        .login(&email, password, auth.meta.clone(), auth.token.as_ref())
        .await
        .map_err(|e| fail(&ctx, e))?;
    Ok(signed_in(&ctx, &token, state, next))
}

/// Creates an account and signs it in (when the `registration` feature is on).
#[server(prefix = "/api", endpoint = "register", client = CsrfClient)]
pub async fn register(email: String, password: String, display_name: String) -> Result<SessionState, ApiError> {
    no_store();
    let ctx = app_context()?;
    if !ctx.features.registration {
        return Err(respond(ApiError::new(
            "registration_closed",
            "this server does not accept new accounts",
        )));
    }
    let auth = request_auth()?;
    let parsed = (|| {
        Ok((
            d::Email::parse(&email)?,
            d::Password::parse_new(&password)?,
            d::DisplayName::parse(&display_name)?,
        ))
    })();
    let (email, password, name) = parsed.map_err(|e| fail(&ctx, e))?;
    let user = ctx
        .engine
        .register(&email, password, &name, false)
        .await
        .map_err(|e| fail(&ctx, e))?;
    let (token, session) = ctx
        .engine
        .start_session(user.id, auth.meta.clone(), auth.token.as_ref())
        .await
        .map_err(|e| fail(&ctx, e))?;
    let state = ctx.engine.state_of(&session).await.map_err(|e| fail(&ctx, e))?;
    Ok(signed_in(&ctx, &token, state, "/"))
}

/// Ends the session (idempotent) and clears the cookie. Answers the signed-out state, whose CSRF
/// token is the one the next login needs.
#[server(prefix = "/api", endpoint = "logout", client = CsrfClient)]
pub async fn logout() -> Result<SessionSnapshot, ApiError> {
    no_store();
    let ctx = app_context()?;
    let auth = request_auth()?;
    if let Some(token) = &auth.token {
        ctx.engine.logout(token).await.map_err(|e| fail(&ctx, e))?;
    }
    append_header(http::header::SET_COOKIE, ctx.cookies.clear(ctx.cookies.session_name()));
    leptos_axum::redirect("/login?reason=logged_out");
    Ok(crate::ssr::signed_out_snapshot(&ctx, &auth, "logged_out"))
}

/// Makes `platform_id` active. With `expected_version`, only if the session is still at that
/// version: otherwise 409 `version_conflict` with the current state in `error.current`.
#[server(prefix = "/api", endpoint = "switch_platform", client = CsrfClient)]
pub async fn switch_platform(platform_id: i64, #[server(default)] expected_version: Option<i64>) -> Result<SessionState, ApiError> {
    no_store();
    let (ctx, session) = require_session()?;
    let state = ctx
        .engine
        .switch_platform(&session, platform_id, expected_version)
        .await
        .map_err(|e| fail(&ctx, e))?;
    Ok(state_view(&ctx, state, request_auth()?.csrf_token))
}

#[server(prefix = "/api", endpoint = "add_platform", client = CsrfClient)]
pub async fn add_platform(kind: String, label: String, instance_url: String, handle: String) -> Result<PlatformView, ApiError> {
    no_store();
    let (ctx, session) = require_session()?;
    let parsed = (|| {
        Ok(switchboard::platforms::NewPlatform {
            kind: d::PlatformKind::parse(&kind)?,
            label: d::PlatformLabel::parse(&label)?,
            instance_url: d::InstanceUrl::parse(&instance_url)?,
            handle: d::Handle::parse(&handle)?,
        })
    })();
    let new = parsed.map_err(|e| fail(&ctx, e))?;
    let platform = ctx.engine.add_platform(&session, new).await.map_err(|e| fail(&ctx, e))?;
    Ok(platform_view(&platform))
}

#[server(prefix = "/api", endpoint = "rename_platform", client = CsrfClient)]
pub async fn rename_platform(platform_id: i64, label: String) -> Result<PlatformView, ApiError> {
    no_store();
    let (ctx, session) = require_session()?;
    let label = d::PlatformLabel::parse(&label).map_err(|e| fail(&ctx, e))?;
    let platform = ctx
        .engine
        .rename_platform(&session, platform_id, label)
        .await
        .map_err(|e| fail(&ctx, e))?;
    Ok(platform_view(&platform))
}

/// Removes a platform and its drafts; sessions on it move to another platform or none.
#[server(prefix = "/api", endpoint = "remove_platform", client = CsrfClient)]
pub async fn remove_platform(platform_id: i64) -> Result<(), ApiError> {
    no_store();
    let (ctx, session) = require_session()?;
    ctx.engine.remove_platform(&session, platform_id).await.map_err(|e| fail(&ctx, e))
}

/// The active platform's drafts, newest first.
#[server(prefix = "/api", endpoint = "list_drafts", input = GetUrl, client = CsrfClient)]
pub async fn list_drafts() -> Result<Vec<DraftView>, ApiError> {
    no_store();
    let (ctx, session) = require_session()?;
    let drafts = ctx.engine.drafts(&session).await.map_err(|e| fail(&ctx, e))?;
    Ok(drafts.iter().map(draft_view).collect())
}

#[server(prefix = "/api", endpoint = "add_draft", client = CsrfClient)]
pub async fn add_draft(title: String, body: String) -> Result<DraftView, ApiError> {
    no_store();
    let (ctx, session) = require_session()?;
    let parsed = (|| Ok((d::DraftTitle::parse(&title)?, d::DraftBody::parse(&body)?)))();
    let (title, body) = parsed.map_err(|e| fail(&ctx, e))?;
    let draft = ctx.engine.add_draft(&session, title, body).await.map_err(|e| fail(&ctx, e))?;
    Ok(draft_view(&draft))
}

#[server(prefix = "/api", endpoint = "edit_draft", client = CsrfClient)]
pub async fn edit_draft(draft_id: i64, title: String, body: String) -> Result<DraftView, ApiError> {
    no_store();
    let (ctx, session) = require_session()?;
    let parsed = (|| Ok((d::DraftTitle::parse(&title)?, d::DraftBody::parse(&body)?)))();
    let (title, body) = parsed.map_err(|e| fail(&ctx, e))?;
    let draft = ctx
        .engine
        .edit_draft(&session, draft_id, title, body)
        .await
        .map_err(|e| fail(&ctx, e))?;
    Ok(draft_view(&draft))
}

#[server(prefix = "/api", endpoint = "delete_draft", client = CsrfClient)]
pub async fn delete_draft(draft_id: i64) -> Result<(), ApiError> {
    no_store();
    let (ctx, session) = require_session()?;
    ctx.engine.delete_draft(&session, draft_id).await.map_err(|e| fail(&ctx, e))
}
