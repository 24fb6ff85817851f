//! Drafts of the active platform: list, add, edit, delete.

use super::client::CsrfClient;
use crate::error::ApiError;
use crate::models::{DraftId, DraftView};
use leptos::prelude::*;
use server_fn::codec::GetUrl;

#[cfg(feature = "ssr")]
use crate::auth::ssr::{draft_view, request_context};
#[cfg(feature = "ssr")]
use switchboard::domain as d;

/// The active platform's drafts, newest first.
#[server(prefix = "/api", endpoint = "list_drafts", input = GetUrl, client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn list_drafts() -> Result<Vec<DraftView>, ApiError> {
    let cx = request_context()?;
    let drafts = cx.engine().drafts(cx.session()?).await.map_err(|e| cx.fail(e))?;
    Ok(drafts.iter().map(draft_view).collect())
}

#[server(prefix = "/api", endpoint = "add_draft", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn add_draft(title: String, body: String) -> Result<DraftView, ApiError> {
    let cx = request_context()?;
    let session = cx.session()?;
    let parsed = (|| Ok::<_, d::ParseError>((d::DraftTitle::parse(&title)?, d::DraftBody::parse(&body)?)))();
    let (title, body) = parsed.map_err(|e| cx.fail(e.into()))?;
    let draft = cx.engine().add_draft(session, title, body).await.map_err(|e| cx.fail(e))?;
    Ok(draft_view(&draft))
}

#[server(prefix = "/api", endpoint = "edit_draft", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn edit_draft(draft_id: DraftId, title: String, body: String) -> Result<DraftView, ApiError> {
    let cx = request_context()?;
    let session = cx.session()?;
    let parsed = (|| {
        Ok::<_, d::ParseError>((
            switchboard::DraftId::parse(draft_id.0)?,
            d::DraftTitle::parse(&title)?,
            d::DraftBody::parse(&body)?,
        ))
    })();
    let (draft_id, title, body) = parsed.map_err(|e| cx.fail(e.into()))?;
    let draft = cx
        .engine()
        .edit_draft(session, draft_id, title, body)
        .await
        .map_err(|e| cx.fail(e))?;
    Ok(draft_view(&draft))
}

#[server(prefix = "/api", endpoint = "delete_draft", client = CsrfClient)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn delete_draft(draft_id: DraftId) -> Result<(), ApiError> {
    let cx = request_context()?;
    let session = cx.session()?;
    let draft_id = switchboard::DraftId::parse(draft_id.0).map_err(|e| cx.fail(e.into()))?;
    cx.engine().delete_draft(session, draft_id).await.map_err(|e| cx.fail(e))
}
