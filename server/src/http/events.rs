//! `GET /api/session_events`: Server-Sent Events telling a signed-in browser that something
//! about its session changed on the server (a revocation, a sign-out elsewhere, a switch or a
//! platform change on another device, a password change, an administrator's action), whichever
//! instance or process made it. The events carry nothing: the browser's leader tab checks the
//! session at once (`GET /api/session_check`) and shares the answer with its other tabs.
//!
//! Each event is `event: changed` with an `id`; a browser that reconnects with `Last-Event-ID`
//! may have missed some, so it is told `changed` at once. A comment every 15 s keeps proxies from
//! closing an idle stream; the stream ends when the server begins to stop. Does not count as
//! activity. `401` without a live session; `503 unavailable` when the session cache is off
//! (nothing is heard to push; browsers keep checking on their interval).

use crate::http::guard::error_response;
use crate::AppState;
use app::auth::ssr::Caller;
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

/// One browser's stream: what it listens to, and whether it is owed a `changed`.
struct Stream {
    changes: tokio::sync::broadcast::Receiver<Changed>,
    stopping: tokio::sync::watch::Receiver<bool>,
    tell: bool,
    id: u64,
}

pub async fn session_events(State(state): State<AppState>, Extension(caller): Extension<Caller>, headers: HeaderMap) -> Response {
    let user = match caller.session() {
        Ok(session) => session.user_id,
        Err(refused) => return error_response(refused),
    };
    let Some(changes) = state.ctx.engine.db().cache().subscribe() else {
        return error_response(ApiError::new(
            ErrorCode::Unavailable,
            "push is off on this server (cache.enabled = false); check the session on an interval",
        ));
    };
    let resumed = headers.contains_key("last-event-id");
    let stream = Stream {
        changes,
        stopping: state.stopping.clone(),
        tell: resumed,
        id: 0,
    };
    let events = futures_util::stream::unfold(stream, move |mut s| async move {
        while !s.tell {
            s.tell = tokio::select! {
                heard = s.changes.recv() => match heard {
                    Ok(Changed::User(changed)) => changed == user,
                    Ok(Changed::Anyone) | Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return None,
                },
                // The server is stopping: end the stream (the browser reconnects, to this
                // server once it is back or to another instance).
                _ = s.stopping.wait_for(|stopping| *stopping) => return None,
            };
        }
        s.id += 1;
        s.tell = false;
        let event = Event::default().event("changed").id(s.id.to_string()).data("{}");
        Some((Ok::<_, Infallible>(event), s))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
