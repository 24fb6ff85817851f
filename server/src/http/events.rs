//! `GET /api/session_events`: Server-Sent Events telling a signed-in browser that something
//! about its session changed on the server (a revocation, a sign-out elsewhere, a switch or a
//! platform change on another device, a password change, an administrator's action), whichever
//! instance or process made it. The events carry nothing: the browser's leader tab checks the
//! session at once (`GET /api/session_check`) and shares the answer with its other tabs.
//!
//! Each event is `event: changed` with an `id`; a browser that reconnects with `Last-Event-ID`
//! may have missed some, so it is told `changed` at once. A comment every 15 s keeps proxies from
//! closing an idle stream. Does not count as activity. `401` without a live session; `503`
//! `unavailable` when the session cache is off (nothing is heard to push; browsers keep checking
//! on their interval).

use crate::http::guard::error_response;
use crate::AppState;
use app::auth::ssr::{Caller, SessionLookup};
use app::error::{ApiError, ErrorCode};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use http::HeaderMap;
use std::convert::Infallible;
use std::time::Duration;
use switchboard::cache::Changed;
use tokio::sync::broadcast::error::RecvError;

pub async fn session_events(State(state): State<AppState>, Extension(caller): Extension<Caller>, headers: HeaderMap) -> Response {
    let user = match caller.lookup() {
        SessionLookup::Live(session) => session.user_id,
        _ => {
            return error_response(
                caller
                    .session()
                    .err()
                    .unwrap_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "not signed in")),
            )
        }
    };
    let Some(changes) = state.ctx.engine.db().cache().subscribe() else {
        return error_response(ApiError::new(
            ErrorCode::Unavailable,
            "push is off on this server (cache.enabled = false); check the session on an interval",
        ));
    };
    let resumed = headers.contains_key("last-event-id");
    let events = futures_util::stream::unfold((changes, resumed, 0u64), move |(mut changes, mut tell, mut id)| async move {
        while !tell {
            tell = match changes.recv().await {
                Ok(Changed::User(changed)) => changed == user,
                Ok(Changed::Anyone) | Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => return None,
            };
        }
        id += 1;
        let event = Event::default().event("changed").id(id.to_string()).data("{}");
        Some((Ok::<_, Infallible>(event), (changes, false, id)))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
