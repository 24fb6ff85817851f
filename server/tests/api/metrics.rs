//! `GET /metrics` (docs/OPERATIONS.md): what it counts, who may read it, and the cleanup task
//! and readiness checks it reports on.

use crate::requests::readiness;
use crate::support::{assert_error, ok, session_cookie_set_by, spawn_app, spawn_app_as, Device, TestApp, PASSWORD};
use app::error::ErrorCode;
use app::models::SessionState;
use reqwest::StatusCode;
use std::time::Duration;
use switchboard::testing::TestDatabase;
use switchboard_server::config::Profile;

/// The metrics as an allowed scraper (loopback, test profile) reads them.
pub(crate) async fn scrape(app: &TestApp) -> String {
    let res = app.bare().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("set-cookie").is_none(), "a scrape gets no cookie");
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    res.text().await.unwrap()
}

/// The value of the series named exactly `series` (name and labels as printed), if present.
pub(crate) fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn event(metrics: &str, event: &str, outcome: &str) -> Option<f64> {
    value(
        metrics,
        &format!("switchboard_session_events_total{{event=\"{event}\",outcome=\"{outcome}\"}}"),
    )
}

async fn metrics_count_what_happened(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    b.register("nell@example.org").await;
    let a = b.add_platform("A").await;
    let c = b.add_platform("C").await;
    let wrong = b
        .post("/api/login", &[("email", "nell@example.org"), ("password", "not the password")])
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let login = b.post("/api/login", &[("email", "nell@example.org"), ("password", PASSWORD)]).await;
    let cookie = session_cookie_set_by(&login).expect("a login sets the session cookie");
    b.csrf = ok::<SessionState>(login).await.csrf_token;
    let v = b.state().await.session.version.to_string();
    ok::<SessionState>(
        b.post("/api/switch_platform", &[("platform_id", &c.to_string()), ("expected_version", &v)])
            .await,
    )
    .await;
    let stale = b
        .post("/api/switch_platform", &[("platform_id", &a.to_string()), ("expected_version", &v)])
        .await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    assert_eq!(b.get("/no/such/page/at/all").await.status(), StatusCode::NOT_FOUND);

    let metrics = scrape(&app).await;
    for (name, outcome, count) in [
        ("registered", "ok", 1.0),
        ("login_failed", "refused", 1.0),
        ("login_succeeded", "ok", 1.0),
        // The login replaced the registration's session in the same browser.
        ("session_rotated", "ok", 1.0),
        ("platform_switched", "ok", 1.0),
        ("session_revoked", "ok", 0.0),
    ] {
        assert_eq!(event(&metrics, name, outcome), Some(count), "{name}/{outcome} in\n{metrics}");
    }
    assert_eq!(value(&metrics, "switchboard_switch_conflicts_total"), Some(1.0), "{metrics}");
    assert_eq!(value(&metrics, "switchboard_sessions_active"), Some(1.0), "{metrics}");
    let answers = |route: &str, method: &str, status: u16| {
        value(
            &metrics,
            &format!("switchboard_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"),
        )
    };
    assert_eq!(answers("/api/switch_platform", "POST", 200), Some(1.0), "{metrics}");
    assert_eq!(answers("/api/switch_platform", "POST", 409), Some(1.0), "{metrics}");
    assert_eq!(answers("/api/login", "POST", 401), Some(1.0), "{metrics}");
    assert!(
        value(
            &metrics,
            "switchboard_http_request_duration_seconds_count{route=\"/api/switch_platform\",method=\"POST\"}"
        ) == Some(2.0),
        "{metrics}"
    );
    // A path no route has is counted, but never named: a scanner cannot make a series per URL.
    assert!(!metrics.contains("/no/such/page"), "{metrics}");
    assert!(metrics.contains("route=\"unmatched\""), "{metrics}");
    for name in [
        "switchboard_db_pool_connections",
        "switchboard_db_pool_acquire_seconds",
        "switchboard_cache_hits_total",
        "switchboard_cleanup_runs_total",
        "switchboard_alerts_total",
        "switchboard_uptime_seconds",
    ] {
        assert!(metrics.contains(&format!("# TYPE {name}")), "{name} missing from\n{metrics}");
    }
    // The session's secrets are nowhere in it.
    let token = cookie.split_once('=').unwrap().1;
    assert!(!metrics.contains(token), "the session token leaked into the metrics");
    assert!(!metrics.contains(PASSWORD));
}

/// A scraper that is not allowed is refused: a stranger behind a trusted proxy in `test`,
/// anyone in `prod` without a token (404: not exposed), a wrong or missing token (401), and the
/// main listener when `metrics.bind` gives them a listener of their own.
async fn metrics_are_closed_to_strangers(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_HTTP_TRUSTED_PROXIES", "127.0.0.2")]).await;
    let from_proxy = app.client_as(Device {
        address: Some("127.0.0.2"),
        ..Default::default()
    });
    let res = from_proxy
        .get(app.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "a remote client behind the proxy");
    // The proxy speaking for a loopback client is let through.
    let res = from_proxy
        .get(app.url("/metrics"))
        .header("x-forwarded-for", "127.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let prod = spawn_app_as(Profile::Prod, app.database().another().await, &[]).await;
    let res = prod.bare().get(prod.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "prod without a token does not expose metrics");

    let token = "scraper-token-0123456789";
    let guarded = spawn_app_as(
        Profile::Prod,
        app.database().another().await,
        &[("SWITCHBOARD_METRICS_BEARER_TOKEN", token)],
    )
    .await;
    for sent in [None, Some("Bearer wrong-token-0123456789"), Some(token), Some("Basic c2NyYXBlcjp4")] {
        let mut req = guarded.bare().get(guarded.url("/metrics"));
        if let Some(sent) = sent {
            req = req.header("authorization", sent);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{sent:?}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"metrics\"");
    }
    let res = guarded
        .bare()
        .get(guarded.url("/metrics"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!res.text().await.unwrap().contains(token));

    let separate = spawn_app(app.database().another().await, &[("SWITCHBOARD_METRICS_BIND", "127.0.0.1:1")]).await;
    let res = separate.bare().get(separate.url("/metrics")).send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "with metrics.bind the main listener does not serve them"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let own = format!("http://{}/metrics", listener.local_addr().unwrap());
    let router = switchboard_server::http::metrics::listener_router(separate.state.clone());
    let limits = separate.state.settings.http.clone();
    tokio::spawn(async move {
        switchboard_server::http::serve(listener, router, &limits, std::future::pending(), Duration::ZERO).await;
    });
    let res = separate.bare().get(&own).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("switchboard_sessions_active"));
}

/// The cleanup task itself (not only the sweep): started as the server starts it, it ends a
/// session that went idle, and says so in the metrics and readiness.
async fn the_cleanup_task_ends_idle_sessions_and_reports(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_CLEANUP_INTERVAL", "1s")]).await;
    let mut b = app.browser().await;
    b.register("otto@example.org").await;
    let _task = switchboard_server::spawn_cleanup(&app.state);
    app.clock.advance(app.state.settings.idle_timeout.0 + Duration::from_secs(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.state.cleanup.report().expired == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the cleanup task did not end the idle session"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let expired = app.audit_of(switchboard::audit::AuditKind::SessionExpired).await;
    assert_eq!(expired.len(), 1);
    let metrics = scrape(&app).await;
    assert_eq!(
        value(&metrics, "switchboard_cleanup_rows_total{action=\"expired\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(event(&metrics, "session_expired", "ok"), Some(1.0), "{metrics}");
    assert_eq!(value(&metrics, "switchboard_sessions_active"), Some(0.0), "{metrics}");
    assert!(
        value(&metrics, "switchboard_cleanup_runs_total").is_some_and(|runs| runs >= 1.0),
        "{metrics}"
    );
    let (status, body) = readiness(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["cleanup"], "ok");
}

/// Readiness fails while the cleanup cannot complete (another connection holds the tables it
/// writes) and recovers once it can.
async fn readiness_fails_while_the_cleanup_is_stalled(db: TestDatabase) {
    let app = spawn_app(
        db,
        &[("SWITCHBOARD_CLEANUP_INTERVAL", "1s"), ("SWITCHBOARD_POOL_BUSY_TIMEOUT", "1s")],
    )
    .await;
    let _task = switchboard_server::spawn_cleanup(&app.state);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.state.cleanup.report().runs == 0 {
        assert!(std::time::Instant::now() < deadline, "no cleanup run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let blocker = app.database().hold_session_writes().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let body = loop {
        let (status, body) = readiness(&app).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "readiness never noticed the stalled cleanup: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(body["failing"], serde_json::json!(["cleanup"]), "{body}");
    assert!(body["checks"]["cleanup"].as_str().unwrap().starts_with("stalled"), "{body}");
    let metrics = scrape(&app).await;
    assert_eq!(value(&metrics, "switchboard_cleanup_stalled"), Some(1.0), "{metrics}");
    blocker.release().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = readiness(&app).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "readiness did not recover: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Readiness names a saturated pool, and does not blame the database it could not ask.
async fn readiness_names_a_saturated_pool(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_POOL_MAX_CONNECTIONS", "2")]).await;
    let pool = app.state.ctx.engine.db().reader();
    let held = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
    let (status, body) = readiness(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["failing"], serde_json::json!(["pool"]), "{body}");
    assert!(body["checks"]["pool"].as_str().unwrap().starts_with("saturated"), "{body}");
    assert_eq!(body["checks"]["database"], "not checked: no free connection");
    drop(held);
    assert_eq!(readiness(&app).await.0, StatusCode::OK);
}

/// A leader tab's sync figures, sent with a session check, are counted for a signed-in caller;
/// a stranger's are not, and figures out of range are refused.
async fn leader_tabs_report_their_sync_figures(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let stranger = app.browser().await;
    let report = "/api/session_check?checks=6&over_ms=120000&propagation_us=1500,2500,800000";
    assert_eq!(stranger.get(report).await.status(), StatusCode::OK);
    let metrics = scrape(&app).await;
    assert_eq!(value(&metrics, "switchboard_client_reports_total"), Some(0.0), "{metrics}");

    let mut b = app.browser().await;
    b.register("tabs@example.org").await;
    assert_eq!(b.get(report).await.status(), StatusCode::OK);
    assert_eq!(
        b.get("/api/session_check").await.status(),
        StatusCode::OK,
        "a check without figures"
    );
    let metrics = scrape(&app).await;
    assert_eq!(value(&metrics, "switchboard_client_reports_total"), Some(1.0), "{metrics}");
    assert_eq!(
        value(&metrics, "switchboard_client_propagation_seconds_count"),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        value(&metrics, "switchboard_client_propagation_seconds_bucket{le=\"0.0025\"}"),
        Some(2.0),
        "{metrics}"
    );
    // Six checks over two minutes: three a minute.
    assert_eq!(value(&metrics, "switchboard_client_checks_per_minute_sum"), Some(3.0), "{metrics}");

    for (query, field) in [
        ("checks=6", "checks"),
        ("checks=6&over_ms=10", "over_ms"),
        ("checks=1000000&over_ms=60000", "checks"),
        ("checks=1&over_ms=60000&propagation_us=1,x", "propagation_us"),
        ("checks=1&over_ms=60000&propagation_us=99999999999", "propagation_us"),
    ] {
        let res = b.get(&format!("/api/session_check?{query}")).await;
        let refused = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidInput).await;
        assert_eq!(refused.error.field.as_deref(), Some(field), "{query}: {refused:?}");
    }
    let many = vec!["1"; 65].join(",");
    let res = b
        .get(&format!("/api/session_check?checks=1&over_ms=60000&propagation_us={many}"))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidInput).await;
    let res = b.get("/api/session_check?checks=many&over_ms=60000").await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let metrics = scrape(&app).await;
    assert_eq!(
        value(&metrics, "switchboard_client_reports_total"),
        Some(1.0),
        "nothing refused was counted"
    );
}

switchboard::on_both_backends!(
    leader_tabs_report_their_sync_figures,
    metrics_count_what_happened,
    metrics_are_closed_to_strangers,
    the_cleanup_task_ends_idle_sessions_and_reports,
    readiness_fails_while_the_cleanup_is_stalled,
    readiness_names_a_saturated_pool,
);
