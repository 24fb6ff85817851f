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

/// `GET /health/ready`: whether this instance should be sent traffic (a readiness probe). `200
/// {"status":"ready","checks":{…}}` when every check passes, else `503
/// {"status":"not_ready","failing":[…],"checks":{…}}` naming the ones that fail; each check
/// says `ok` or what is wrong:
/// - `database`: answers a query within a second;
/// - `migrations`: every migration this build knows has been applied (`switchboard migrate`);
/// - `cache`: with the session cache on, it hears other writers (PostgreSQL's listener, SQLite's
///   change log). Without them every read goes to the database: right, but far slower.
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.ctx.engine.db();
    let second = Duration::from_secs(1);
    let database = match tokio::time::timeout(second, db.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "no answer within 1 s".to_owned(),
    };
    let migrations = match tokio::time::timeout(second, db.pending_migrations()).await {
        Ok(Ok(pending)) if pending.is_empty() => "ok".to_owned(),
        Ok(Ok(pending)) => format!("{} not applied (run switchboard migrate): {pending:?}", pending.len()),
        Ok(Err(e)) => format!("cannot read: {e}"),
        Err(_) => "no answer within 1 s".to_owned(),
    };
    let cache = db.cache();
    let cache = if !cache.enabled() || cache.serving() {
        "ok".to_owned()
    } else {
        "not hearing other writers: every read goes to the database".to_owned()
    };
    let checks = [("database", database), ("migrations", migrations), ("cache", cache)];
    let failing: Vec<&str> = checks.iter().filter(|(_, v)| v != "ok").map(|(k, _)| *k).collect();
    for (check, problem) in checks.iter().filter(|(_, v)| v != "ok") {
        tracing::warn!(check, problem = problem.as_str(), "not ready");
    }
    let checks: serde_json::Map<String, serde_json::Value> = checks.into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
    let (status, body) = if failing.is_empty() {
        (StatusCode::OK, serde_json::json!({"status": "ready", "checks": checks}))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "not_ready", "failing": failing, "checks": checks}),
        )
    };
    (status, [(http::header::CACHE_CONTROL, "no-store")], Json(body))
}
