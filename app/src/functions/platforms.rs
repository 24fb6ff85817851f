//! Platform connections: switch the active one (compare-and-set), add, rename, remove.

use super::client::CsrfClient;
use crate::error::ApiError;
use crate::models::{PlatformId, PlatformView, SessionState, SessionVersion};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::auth::ssr::{platform_view, request_context};
#[cfg(feature = "ssr")]
use switchboard::domain as d;

/// Makes `platform_id` active. With `expected_version`, only if the session is still at that
/// version: otherwise 409 `version_conflict` with the current state in `error.current`.
#[server(prefix = "/api", endpoint = "switch_platform", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn switch_platform(
    platform_id: PlatformId,
    #[server(default)] expected_version: Option<SessionVersion>,
) -> Result<SessionState, ApiError> {
    let cx = request_context()?;
    let session = cx.session()?;
    let parsed = (|| {
        Ok::<_, d::ParseError>((
            switchboard::PlatformId::parse(platform_id.0)?,
            expected_version.map(|v| switchboard::SessionVersion::parse(v.0)).transpose()?,
        ))
    })();
    let (platform_id, expected_version) = parsed.map_err(|e| cx.fail(e.into()))?;
    let switched = cx
        .engine()
        .switch_platform_session(session, cx.caller.meta(), platform_id, expected_version)
        .await
        .map_err(|e| cx.fail(e))?;
    // The user was read with the session: only the platforms are read here.
    let state = cx.state_of_caller(&switched).await.map_err(|e| cx.fail(e))?;
    Ok(cx.state(state))
}

#[server(prefix = "/api", endpoint = "add_platform", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn add_platform(kind: String, label: String, instance_url: String, handle: String) -> Result<PlatformView, ApiError> {
    let cx = request_context()?;
    let session = cx.session()?;
    let parsed = (|| {
        Ok::<_, d::ParseError>(switchboard::platforms::NewPlatform {
            kind: d::PlatformKind::parse(&kind)?,
            label: d::PlatformLabel::parse(&label)?,
            instance_url: d::InstanceUrl::parse(&instance_url)?,
            handle: d::Handle::parse(&handle)?,
        })
    })();
    let new = parsed.map_err(|e| cx.fail(e.into()))?;
    let platform = cx.engine().add_platform(session, new).await.map_err(|e| cx.fail(e))?;
    Ok(platform_view(&platform))
}

#[server(prefix = "/api", endpoint = "rename_platform", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn rename_platform(platform_id: PlatformId, label: String) -> Result<PlatformView, ApiError> {
    let cx = request_context()?;
    let session = cx.session()?;
    let parsed = (|| Ok::<_, d::ParseError>((switchboard::PlatformId::parse(platform_id.0)?, d::PlatformLabel::parse(&label)?)))();
    let (platform_id, label) = parsed.map_err(|e| cx.fail(e.into()))?;
    let platform = cx
        .engine()
        .rename_platform(session, platform_id, label)
        .await
        .map_err(|e| cx.fail(e))?;
    Ok(platform_view(&platform))
}

/// Removes a platform and its drafts; sessions on it move to another platform or none.
#[server(prefix = "/api", endpoint = "remove_platform", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn remove_platform(platform_id: PlatformId) -> Result<(), ApiError> {
    let cx = request_context()?;
    let session = cx.session()?;
    let platform_id = switchboard::PlatformId::parse(platform_id.0).map_err(|e| cx.fail(e.into()))?;
    cx.engine().remove_platform(session, platform_id).await.map_err(|e| cx.fail(e))
}
