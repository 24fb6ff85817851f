//! `GET /api/admin/dashboard/events` (administrators): Server-Sent Events, one `sample` event
//! per dashboard sample, whose data is the dashboard's live part rendered as HTML (the page
//! replaces its own with it: `public/dashboard.js`). The first event comes at once. A comment
//! every 15 s keeps proxies from closing an idle stream; the stream ends when the server begins
//! to stop. `401` without a session, `403` for a user who is not an administrator.

use crate::http::guard::error_response;
use crate::AppState;
use app::auth::ssr::{Caller, RequestContext};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

pub async fn dashboard_events(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    let cx = RequestContext {
        app: state.ctx.clone(),
        caller,
    };
    if let Err(refused) = cx.require_admin("dashboard events").await {
        return error_response(refused);
    }
    let history = state.ctx.dashboard.clone();
    let arrived = history.subscribe();
    let stopping = state.stopping.clone();
    // `true`: the first event is owed at once.
    let events = futures_util::stream::unfold((arrived, stopping, true), move |(mut arrived, mut stopping, first)| {
        let history = history.clone();
        async move {
            if !first {
                tokio::select! {
                    heard = arrived.recv() => if let Err(RecvError::Closed) = heard { return None },
                    _ = stopping.wait_for(|stopping| *stopping) => return None,
                }
            }
            let event = Event::default()
                .event("sample")
                .data(app::pages::admin_dashboard::render_history(&history));
            Some((Ok::<_, Infallible>(event), (arrived, stopping, false)))
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
