use crate::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use http::StatusCode;
use std::time::Duration;

/// `GET /health`: 200 when the database answers within a second, else 503. Never cached. Also
/// says whether the session cache is serving (a bypassed cache is slower, not wrong, so it does
/// not make the answer 503) and its counters.
pub async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.ctx.engine.db();
    let started = std::time::Instant::now();
    let probe = tokio::time::timeout(Duration::from_secs(1), db.ping()).await;
    let (status, db_status) = match probe {
        Ok(Ok(())) => (StatusCode::OK, "ok"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database error");
            (StatusCode::SERVICE_UNAVAILABLE, "error")
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
    };
    let body = serde_json::json!({
        "status": if status == StatusCode::OK { "ok" } else { "degraded" },
        "database": {
            "status": db_status,
            "backend": db.backend().name(),
            "latency_ms": started.elapsed().as_secs_f64() * 1000.0,
            "pool": db.pool_stats(),
        },
        "cache": db.cache().stats(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    (status, [(http::header::CACHE_CONTROL, "no-store")], Json(body))
}

/// `GET /health/live`: `200 {"status":"ok"}` while the process serves HTTP, touching nothing
/// else (a liveness probe; also the benchmark's bare route, the ceiling of this server).
pub async fn live() -> impl IntoResponse {
    (
        [(http::header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({"status": "ok"})),
    )
}
