use crate::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use http::StatusCode;
use std::time::Duration;

/// How long a probe of the database may take.
const PROBE_WITHIN: Duration = Duration::from_secs(1);

/// A readiness check that could not run because another failed (it does not count as failing).
const NOT_CHECKED: &str = "not checked: no free connection";

/// How long readiness and `/metrics` wait for a free read connection before they call the pool
/// saturated.
pub(crate) const POOL_WITHIN: Duration = Duration::from_millis(500);

/// What waiting for a free read connection found (the connection goes back to the pool at once).
pub(crate) enum PoolProbe {
    Free,
    /// None came within [`POOL_WITHIN`].
    Saturated,
    /// The pool could not make one (the database is unreachable).
    Failed(String),
}

pub(crate) async fn pool_probe(db: &switchboard::Db) -> PoolProbe {
    match tokio::time::timeout(POOL_WITHIN, db.reader().acquire()).await {
        Ok(Ok(_free)) => PoolProbe::Free,
        Ok(Err(e)) => PoolProbe::Failed(e.to_string()),
        Err(_) => PoolProbe::Saturated,
    }
}

/// What a probe of the database found.
enum Probe<T> {
    Answered(T),
    Failed(switchboard::Error),
    Silent,
}

async fn probe<T>(work: impl std::future::Future<Output = switchboard::Result<T>>) -> Probe<T> {
    match tokio::time::timeout(PROBE_WITHIN, work).await {
        Ok(Ok(value)) => Probe::Answered(value),
        Ok(Err(e)) => Probe::Failed(e),
        Err(_) => Probe::Silent,
    }
}

impl<T> Probe<T> {
    /// Readiness's words for a probe that did not answer.
    fn problem(&self) -> Option<String> {
        match self {
            Probe::Answered(_) => None,
            Probe::Failed(e) => Some(format!("error: {e}")),
            Probe::Silent => Some(format!("no answer within {} s", PROBE_WITHIN.as_secs())),
        }
    }
}

/// `GET /health`: 200 when the database answers within a second, else 503. Never cached. Also
/// says whether the session cache is serving (a bypassed cache is slower, not wrong, so it does
/// not make the answer 503) and its counters.
pub async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.ctx.engine.db();
    let started = std::time::Instant::now();
    let (status, db_status) = match probe(db.ping()).await {
        Probe::Answered(()) => (StatusCode::OK, "ok"),
        Probe::Failed(e) => {
            tracing::warn!(error = %e, "health check: database error");
            (StatusCode::SERVICE_UNAVAILABLE, "error")
        }
        Probe::Silent => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
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
/// - `pool`: a read connection is free within half a second (else the pool is saturated, and
///   the next two say `not checked`);
/// - `database`: answers a query within a second;
/// - `migrations`: every migration this build knows has been applied (`switchboard migrate`);
/// - `cache`: with the session cache on, it hears other writers (PostgreSQL's listener, SQLite's
///   change log). Without them every read goes to the database: right, but far slower;
/// - `cleanup` (where this process runs the cleanup task): a run has completed within the last
///   three `cleanup_interval`s.
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.ctx.engine.db();
    let ok = || "ok".to_owned();
    let mut checks = Vec::new();
    match pool_probe(db).await {
        PoolProbe::Saturated => {
            let stats = db.pool_stats();
            let saturated = format!(
                "saturated: no read connection free within {} ms ({} open of {}, {} idle)",
                POOL_WITHIN.as_millis(),
                stats.read_size,
                state.settings.pool.max_connections,
                stats.read_idle
            );
            checks.push(("pool", saturated));
            // Without a connection the database cannot be asked: the pool's check says why.
            checks.push(("database", NOT_CHECKED.to_owned()));
            checks.push(("migrations", NOT_CHECKED.to_owned()));
        }
        free_or_failed => {
            let database = match free_or_failed {
                PoolProbe::Failed(e) => format!("error: {e}"),
                _ => probe(db.ping()).await.problem().unwrap_or_else(ok),
            };
            let migrations = match probe(db.pending_migrations()).await {
                Probe::Answered(pending) if pending.is_empty() => ok(),
                Probe::Answered(pending) => format!("{} not applied (run switchboard migrate): {pending:?}", pending.len()),
                other => format!("cannot read: {}", other.problem().unwrap_or_default()),
            };
            checks.push(("pool", ok()));
            checks.push(("database", database));
            checks.push(("migrations", migrations));
        }
    }
    let cache = db.cache();
    let cache = if !cache.enabled() || cache.serving() {
        ok()
    } else {
        "not hearing other writers: every read goes to the database".to_owned()
    };
    checks.push(("cache", cache));
    if state.cleanup.running() {
        let stalled = state.cleanup.stalled(state.settings.cleanup_interval.0);
        checks.push(("cleanup", stalled.unwrap_or_else(ok)));
    }
    let failed = |v: &String| v != "ok" && v != NOT_CHECKED;
    let failing: Vec<&str> = checks.iter().filter(|(_, v)| failed(v)).map(|(k, _)| *k).collect();
    for (check, problem) in checks.iter().filter(|(_, v)| failed(v)) {
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
