//! The benchmark's baseline (`make bench`, `benches/hot_path.rs`): the plain stack an axum app
//! would otherwise use, axum + tower-sessions 0.14 with its sqlx SQLite store, serving the same
//! state Switchboard's `GET /api/session_state` does (the user and their platforms, as JSON)
//! from the session. Not part of Switchboard: built only with the `bench-baseline` feature.
//!
//! `tower-baseline <bind address> <sqlite file>`. `POST /login` starts a session holding the
//! state; `GET /api/session_state` answers it (401 without a session); `GET /bare` answers
//! `{"status":"ok"}` without touching the session.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tower_sessions::{Session, SessionManagerLayer};
use tower_sessions_sqlx_store::{sqlx::SqlitePool, SqliteStore};

const STATE: &str = "state";

async fn login(session: Session) -> impl IntoResponse {
    let platform = |id: i64, label: &str| json!({"id": id, "kind": "mastodon", "label": label, "instance_url": "https://mastodon.social", "handle": "@me"});
    let state = json!({
        "user": {"id": 1, "email": "bench@example.org", "display_name": "Bench", "is_admin": false},
        "platform": platform(1, "One"),
        "platforms": [platform(1, "One"), platform(2, "Two")],
        "session": {"version": 1},
    });
    match session.insert(STATE, state).await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn session_state(session: Session) -> Result<Json<Value>, StatusCode> {
    match session.get::<Value>(STATE).await {
        Ok(Some(state)) => Ok(Json(state)),
        Ok(None) => Err(StatusCode::UNAUTHORIZED),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(bind), Some(file)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: tower-baseline <bind address> <sqlite file>");
        std::process::exit(2);
    };
    let pool = SqlitePool::connect(&format!("sqlite://{file}?mode=rwc")).await.expect("sqlite");
    let store = SqliteStore::new(pool);
    store.migrate().await.expect("migrate");
    let sessions = SessionManagerLayer::new(store).with_secure(false);
    let app = Router::new()
        .route("/login", post(login))
        .route("/api/session_state", get(session_state))
        .layer(sessions)
        .route("/bare", get(|| async { Json(json!({"status": "ok"})) }));
    let listener = tokio::net::TcpListener::bind(bind.as_str()).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
