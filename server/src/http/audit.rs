//! `GET /api/admin/audit?format=csv|json&…`: the audit log as a file, for administrators. The
//! rows are streamed a page at a time, so a large export never sits in memory.

use super::error_response;
use crate::AppState;
use app::auth::ssr::{Caller, RequestContext};
use app::error::{ApiError, ErrorCode};
use app::functions::admin::audit_filter;
use app::models::{Timestamp, UserId};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::StreamExt;
use http::header;
use switchboard::audit::AuditEvent;

/// The query parameters the export takes.
const PARAMS: &[&str] = &["format", "user_id", "kind", "from", "to"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
}

pub async fn export(State(state): State<AppState>, Extension(caller): Extension<Caller>, RawQuery(query): RawQuery) -> Response {
    match prepare(&state, caller, query.as_deref().unwrap_or("")).await {
        Ok(response) => response,
        Err(e) => error_response(e),
    }
}

async fn prepare(state: &AppState, caller: Caller, query: &str) -> Result<Response, ApiError> {
    let cx = RequestContext {
        app: state.ctx.clone(),
        caller,
    };
    cx.require_admin("audit export").await?;
    let engine = cx.engine().clone();

    let mut params = std::collections::HashMap::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if !PARAMS.contains(&key.as_ref()) {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("unknown parameter `{key}`; this endpoint takes: {}", PARAMS.join(", ")),
            )
            .with_field(key.into_owned()));
        }
        params.insert(key.into_owned(), value.into_owned());
    }
    let invalid = |field: &'static str, message: &str| cx.fail(switchboard::Error::invalid(field, message));
    let format = match params.get("format").map(String::as_str) {
        Some("csv") => Format::Csv,
        Some("json") | None => Format::Json,
        Some(_) => return Err(invalid("format", "must be csv or json")),
    };
    let time = |field: &'static str| -> Result<Option<Timestamp>, ApiError> {
        params
            .get(field)
            .filter(|v| !v.is_empty())
            .map(|v| Timestamp::parse_rfc3339(v).ok_or_else(|| invalid(field, "must be an RFC 3339 time, like 2026-11-28T00:00:00Z")))
            .transpose()
    };
    let user = params
        .get("user_id")
        .filter(|v| !v.is_empty())
        .map(|v| v.parse::<i64>().map(UserId).map_err(|_| invalid("user_id", "must be a user id")))
        .transpose()?;
    let filter = audit_filter(&cx, user, params.get("kind").map(String::as_str), time("from")?, time("to")?, None)?;

    let (content_type, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Json => ("application/json", "json"),
    };
    let mut first = true;
    let rows = engine.audit_stream(filter).map(move |event| {
        let chunk = match event {
            Ok(event) => {
                let row = match format {
                    Format::Csv => csv_row(&event),
                    Format::Json => {
                        let json = serde_json::to_string(&app::auth::ssr::audit_event_view(&event)).unwrap_or_default();
                        format!("{}{json}", if first { "" } else { ",\n" })
                    }
                };
                first = false;
                Ok(row)
            }
            Err(e) => {
                tracing::error!(error = %e, "audit export failed part-way");
                Err(std::io::Error::other("the audit export failed part-way"))
            }
        };
        chunk
    });
    let (head, tail) = match format {
        Format::Csv => (format!("{CSV_HEADER}\n"), String::new()),
        Format::Json => ("[".to_owned(), "]\n".to_owned()),
    };
    let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) })
        .chain(rows)
        .chain(futures_util::stream::once(async move { Ok(tail) }));
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"switchboard-audit.{extension}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

const CSV_HEADER: &str = "id,at,kind,actor_user_id,subject_user_id,session_public_id,ip,user_agent,outcome,detail";

/// One CSV line (RFC 4180 quoting), ending in a newline.
fn csv_row(e: &AuditEvent) -> String {
    let cell = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let id = |u: Option<switchboard::UserId>| u.map(|u| u.to_string()).unwrap_or_default();
    let entry = &e.entry;
    format!(
        "{},{},{},{},{},{},{},{},{},{}\n",
        e.id,
        Timestamp(e.at.millis()),
        entry.kind.as_str(),
        id(entry.actor),
        id(entry.subject),
        entry.session.as_ref().map(|s| s.as_str()).unwrap_or_default(),
        cell(entry.ip.as_deref().unwrap_or_default()),
        cell(entry.user_agent.as_deref().unwrap_or_default()),
        entry.outcome.as_str(),
        cell(entry.detail.as_deref().unwrap_or_default()),
    )
}
