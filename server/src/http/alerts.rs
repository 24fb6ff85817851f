//! `GET /api/admin/alerts?before_id=&limit=`: the newest alerts first, for administrators.

use super::error_response;
use crate::AppState;
use app::auth::ssr::{Caller, RequestContext};
use app::error::{ApiError, ErrorCode};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

pub async fn list(State(state): State<AppState>, Extension(caller): Extension<Caller>, RawQuery(query): RawQuery) -> Response {
    let cx = RequestContext {
        app: state.ctx.clone(),
        caller,
    };
    let answer = async {
        cx.require_admin("alerts").await?;
        let (mut before_id, mut limit) = (None, 100u32);
        for (key, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
            let number =
                |field: &str| {
                    value.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        ApiError::new(ErrorCode::InvalidInput, format!("{field} must be a positive number")).with_field(field)
                    })
                };
            match key.as_ref() {
                "before_id" => before_id = Some(number("before_id")?),
                "limit" => limit = number("limit")?.min(1000) as u32,
                other => {
                    return Err(ApiError::new(
                        ErrorCode::BadRequest,
                        format!("unknown parameter `{other}`; this endpoint takes: before_id, limit"),
                    )
                    .with_field(other))
                }
            }
        }
        let alerts = cx.engine().alerts(limit, before_id).await.map_err(|e| cx.fail(e))?;
        Ok::<_, ApiError>(alerts.iter().map(crate::alerts::alert_json).collect::<Vec<_>>())
    };
    match answer.await {
        Ok(list) => Json(list).into_response(),
        Err(e) => error_response(e),
    }
}
