//! `GET /metrics`: Switchboard's figures in Prometheus's text format (0.0.4), every name prefixed
//! `switchboard_`; docs/OPERATIONS.md says what each means and what to do when it moves. Counters
//! count from the start of the process.
//!
//! Who may read it (`metrics.*` settings): with `metrics.bind`, only that second listener serves
//! it and the main one answers 404; with `metrics.bearer_token`, a scraper that sends
//! `Authorization: Bearer <token>` (anyone else gets 401); with neither, a client on loopback in
//! the `dev` and `test` profiles (behind a trusted proxy, the client the proxy names), and nobody
//! in `prod` (404). It needs no session and sets no cookie.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderMap, Method, StatusCode};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// The path, on the main listener and on `metrics.bind`.
pub const PATH: &str = "/metrics";

/// Request latency buckets, in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    /// The route's pattern (`/api/switch_platform`, `/platforms`), or `unmatched`: never the
    /// path as sent, so a scanner cannot make a series per URL.
    route: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Answer {
    route: String,
    method: &'static str,
    status: u16,
}

/// Buckets of a tab's session checks a minute: one a minute is the default interval; many more
/// mean tabs fight over leading, or pushes arrive often.
const CHECKS_BUCKETS: [f64; 8] = [0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0];

/// Buckets of the notification lag, in seconds: a LISTEN on the same network hears in about a
/// millisecond; seconds mean the listener or the database is struggling.
const LAG_BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Every request's answer, counted and timed by route (the request layer calls
/// [`RequestMetrics::observe`]).
#[derive(Clone)]
pub struct RequestMetrics {
    latency: Family<Route, Histogram, fn() -> Histogram>,
    answers: Family<Answer, Counter>,
    /// Answers with a 5xx status, all routes together (the alert rule's rate).
    server_errors: Counter,
    /// PostgreSQL: how long each cache notification took from the write to this instance.
    notification_lag: Histogram,
    /// Leader tabs' sync figures (`check_session`'s reports).
    client_reports: Counter,
    client_propagation: Histogram,
    client_checks: Histogram,
    /// How long each switch took, in ms, since the dashboard last took them (at most
    /// [`SWITCH_TIMES_KEPT`]).
    switch_times: std::sync::Arc<std::sync::Mutex<Vec<f64>>>,
}

/// Switch times kept between two dashboard samples; beyond it, the rest are not kept (the
/// percentiles of 10,000 are close enough).
const SWITCH_TIMES_KEPT: usize = 10_000;

/// The route of a platform switch (the server function, and the plain form's post).
const SWITCH_ROUTE: &str = "/api/switch_platform";

impl Default for RequestMetrics {
    fn default() -> Self {
        Self {
            latency: Family::new_with_constructor(latency_histogram),
            answers: Family::default(),
            server_errors: Default::default(),
            notification_lag: Histogram::new(LAG_BUCKETS),
            switch_times: Default::default(),
            client_reports: Counter::default(),
            client_propagation: Histogram::new(LAG_BUCKETS),
            client_checks: Histogram::new(CHECKS_BUCKETS),
        }
    }
}

impl RequestMetrics {
    /// One answered request: its route (`None`: no route matched), method, status and how long
    /// the answer took.
    pub fn observe(&self, route: Option<&MatchedPath>, method: &Method, status: StatusCode, took: Duration) {
        let route = route.map_or("unmatched", MatchedPath::as_str).to_owned();
        let method = method_label(method);
        self.answers
            .get_or_create(&Answer {
                route: route.clone(),
                method,
                status: status.as_u16(),
            })
            .inc();
        let switch = route == SWITCH_ROUTE;
        self.latency.get_or_create(&Route { route, method }).observe(took.as_secs_f64());
        if status.is_server_error() {
            self.server_errors.inc();
        }
        if switch {
            let mut times = self.switch_times.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if times.len() < SWITCH_TIMES_KEPT {
                times.push(took.as_secs_f64() * 1000.0);
            }
        }
    }

    /// The switch times (ms) since the last call, and forgets them (the dashboard's sampler).
    pub fn take_switch_times(&self) -> Vec<f64> {
        std::mem::take(&mut *self.switch_times.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// What the session cache calls for each notification it hears
    /// (`SessionCache::on_notification_lag`).
    pub fn notification_lag_observer(&self) -> impl Fn(Duration) + Send + Sync + 'static {
        let lag = self.notification_lag.clone();
        move |took| lag.observe(took.as_secs_f64())
    }

    /// What the app calls with each leader tab's sync figures (`AppContext::on_client_report`).
    pub fn client_report_observer(&self) -> impl Fn(&app::client_report::ClientReport) + Send + Sync + 'static {
        let (reports, propagation, checks) = (
            self.client_reports.clone(),
            self.client_propagation.clone(),
            self.client_checks.clone(),
        );
        move |report| {
            reports.inc();
            for took in &report.propagation {
                propagation.observe(took.as_secs_f64());
            }
            checks.observe(f64::from(report.checks) * 60.0 / report.over.as_secs_f64());
        }
    }

    /// Answers with a 5xx status since the process began.
    pub fn server_errors(&self) -> u64 {
        self.server_errors.get()
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The router of the `metrics.bind` listener: `/metrics` only.
pub fn listener_router(state: AppState) -> Router {
    Router::new()
        .route(
            PATH,
            get(|State(state): State<AppState>, headers: HeaderMap| async move { answer(&state, None, &headers, true).await }),
        )
        .with_state(state)
}

/// `GET /metrics` on the main listener.
pub async fn scrape(State(state): State<AppState>, req: Request) -> Response {
    answer(&state, super::client::client_ip(&state, &req), req.headers(), false).await
}

async fn answer(state: &AppState, client: Option<IpAddr>, headers: &HeaderMap, own_listener: bool) -> Response {
    if let Err(refusal) = may_read(state, client, headers, own_listener) {
        return refusal.into_response();
    }
    let body = render(state).await;
    (
        [
            (header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Why a scrape is refused.
enum Refusal {
    /// `404`: not exposed here.
    NotExposed,
    /// `401`: the bearer token is missing or wrong.
    NeedsToken,
    /// `403`: without a token, only loopback clients (dev, test).
    NotLoopback,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NotExposed => StatusCode::NOT_FOUND.into_response(),
            Refusal::NeedsToken => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
                "metrics need Authorization: Bearer <metrics.bearer_token>\n",
            )
                .into_response(),
            Refusal::NotLoopback => (
                StatusCode::FORBIDDEN,
                "metrics are open only to loopback clients without metrics.bearer_token\n",
            )
                .into_response(),
        }
    }
}

/// Whether this request may read the metrics (see the module documentation).
fn may_read(state: &AppState, client: Option<IpAddr>, headers: &HeaderMap, own_listener: bool) -> Result<(), Refusal> {
    let settings = &state.settings;
    let config = &settings.metrics;
    if !config.enabled || (config.bind.is_some() && !own_listener) {
        return Err(Refusal::NotExposed);
    }
    if let Some(token) = &config.bearer_token {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // Compared as digests, so the time taken says nothing about the token.
        let matches = sent.is_some_and(|sent| Sha256::digest(sent.as_bytes()) == Sha256::digest(token.expose().as_bytes()));
        return if matches { Ok(()) } else { Err(Refusal::NeedsToken) };
    }
    if own_listener {
        return Ok(());
    }
    if settings.profile() == crate::config::Profile::Prod {
        return Err(Refusal::NotExposed);
    }
    if client.is_some_and(|ip| ip.is_loopback()) {
        Ok(())
    } else {
        Err(Refusal::NotLoopback)
    }
}

/// The figures as they are now.
async fn render(state: &AppState) -> String {
    let engine = &state.ctx.engine;
    let db = engine.db();
    let mut r = Registry::with_prefix("switchboard");

    let info: Family<Vec<(&'static str, &'static str)>, Gauge> = Family::default();
    info.get_or_create(&vec![("version", env!("CARGO_PKG_VERSION")), ("backend", db.backend().name())])
        .set(1);
    r.register("build_info", "The running build: its version and database backend (always 1)", info);
    gauge_f64(
        &mut r,
        "uptime",
        "Time since this process started",
        Unit::Seconds,
        state.started.elapsed().as_secs_f64(),
    );

    match engine.live_session_count().await {
        Ok(live) => gauge(
            &mut r,
            "sessions_active",
            "Sessions live now (not ended, within both deadlines)",
            live as i64,
        ),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count live sessions"),
    }
    let events: Family<Vec<(&'static str, &'static str)>, Counter> = Family::default();
    for e in engine.event_counts() {
        events
            .get_or_create(&vec![("event", e.kind.as_str()), ("outcome", e.outcome.as_str())])
            .inc_by(e.count);
    }
    r.register(
        "session_events",
        "Session events recorded (the audit log's kinds: login_succeeded, login_failed, platform_switched, session_revoked, session_expired, ...), by outcome",
        events,
    );
    counter(
        &mut r,
        "switch_conflicts",
        "Switches refused because the session had moved on (version conflicts)",
        engine.switch_conflicts(),
    );
    let alerts: Family<Vec<(&'static str, &'static str)>, Counter> = Family::default();
    for (kind, count) in engine.alert_counts() {
        alerts.get_or_create(&vec![("kind", kind.as_str())]).inc_by(count);
    }
    r.register("alerts", "Suspicious-activity alerts raised, by kind", alerts);

    r.register(
        "http_requests",
        "Answers, by route pattern, method and status",
        state.requests.answers.clone(),
    );
    r.register_with_unit(
        "http_request_duration",
        "How long answers took, by route pattern and method",
        Unit::Seconds,
        state.requests.latency.clone(),
    );

    let pools: Family<Vec<(&'static str, &'static str)>, Gauge> = Family::default();
    let stats = db.pool_stats();
    for (pool, size, idle) in [
        ("read", stats.read_size, stats.read_idle),
        ("write", stats.write_size, stats.write_idle),
    ] {
        pools.get_or_create(&vec![("pool", pool), ("state", "idle")]).set(i64::from(idle));
        pools
            .get_or_create(&vec![("pool", pool), ("state", "busy")])
            .set(i64::from(size.saturating_sub(idle)));
    }
    r.register(
        "db_pool_connections",
        "Open database connections, by pool and whether in use",
        pools,
    );
    gauge(
        &mut r,
        "db_pool_max_connections",
        "The read pool's limit (pool.max_connections)",
        i64::from(state.settings.pool.max_connections),
    );
    let started = Instant::now();
    let probe = super::health::pool_probe(db).await;
    gauge_f64(
        &mut r,
        "db_pool_acquire",
        "How long this scrape waited for a read connection (the limit, 0.5, when none came)",
        Unit::Seconds,
        started.elapsed().as_secs_f64(),
    );
    gauge(
        &mut r,
        "db_pool_saturated",
        "1 when this scrape got no read connection within 0.5 s",
        i64::from(!matches!(probe, super::health::PoolProbe::Free)),
    );
    if let Some(writes) = db.writes_under_way() {
        gauge(
            &mut r,
            "db_writes_waiting",
            "SQLite: requests' writes running or queued for the one writer",
            writes as i64,
        );
    }

    let cache = db.cache().stats();
    gauge(
        &mut r,
        "cache_enabled",
        "1 when the session cache is on (cache.enabled)",
        i64::from(db.cache().enabled()),
    );
    gauge(
        &mut r,
        "cache_serving",
        "1 when the session cache serves (on, and hearing other writers)",
        i64::from(cache.serving),
    );
    gauge(&mut r, "cache_sessions", "Sessions held in the cache", cache.sessions as i64);
    counter(&mut r, "cache_hits", "Session reads answered from memory", cache.hits);
    counter(&mut r, "cache_misses", "Session reads that went to the database", cache.misses);
    counter(
        &mut r,
        "cache_invalidations",
        "Users forgotten by the cache because something of theirs changed",
        cache.invalidations,
    );
    r.register(
        "client_reports",
        "Sync figures reported by browsers' leader tabs",
        state.requests.client_reports.clone(),
    );
    r.register_with_unit(
        "client_propagation",
        "How long session knowledge took to reach a leader tab from the tab of the same browser that got it from the server (sampled, as reported)",
        Unit::Seconds,
        state.requests.client_propagation.clone(),
    );
    r.register(
        "client_checks_per_minute",
        "Session checks a minute of each reporting leader tab",
        state.requests.client_checks.clone(),
    );
    r.register_with_unit(
        "cache_notification_lag",
        "PostgreSQL: how long each change notification took from the write (the database's clock) to this instance (its clock)",
        Unit::Seconds,
        state.requests.notification_lag.clone(),
    );

    let cleanup = state.cleanup.report();
    counter(&mut r, "cleanup_runs", "Cleanup runs that completed", cleanup.runs);
    counter(
        &mut r,
        "cleanup_failures",
        "Cleanup runs that failed (each logged)",
        cleanup.failures,
    );
    let rows: Family<Vec<(&'static str, &'static str)>, Counter> = Family::default();
    for (action, n) in [
        ("expired", cleanup.expired),
        ("deleted", cleanup.deleted),
        ("audit_deleted", cleanup.audit_deleted),
    ] {
        rows.get_or_create(&vec![("action", action)]).inc_by(n);
    }
    r.register("cleanup_rows", "Rows the cleanup ended or deleted, by action", rows);
    gauge_f64(
        &mut r,
        "cleanup_last_duration",
        "How long the last completed cleanup run took",
        Unit::Seconds,
        cleanup.last_took.as_secs_f64(),
    );
    if let Some(at) = cleanup.last_completed_unix {
        gauge_f64(
            &mut r,
            "cleanup_last_completed",
            "When the last cleanup run completed (Unix time)",
            Unit::Seconds,
            at,
        );
    }
    gauge(
        &mut r,
        "cleanup_stalled",
        "1 when no cleanup run has completed for three cleanup intervals",
        i64::from(state.cleanup.stalled(state.settings.cleanup_interval.0).is_some()),
    );

    let mut body = String::new();
    if let Err(e) = prometheus_text::encode(&mut body, &r) {
        tracing::warn!(error = %e, "metrics: cannot encode");
    }
    body
}

fn gauge(r: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    r.register(name, help, g);
}

fn gauge_f64(r: &mut Registry, name: &str, help: &str, unit: Unit, value: f64) {
    let g: Gauge<f64, AtomicU64> = Gauge::default();
    g.set(value);
    r.register_with_unit(name, help, unit, g);
}

fn counter(r: &mut Registry, name: &str, help: &str, value: u64) {
    let c: Counter = Counter::default();
    c.inc_by(value);
    r.register(name, help, c);
}
