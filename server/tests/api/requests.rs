//! What clients can get wrong, and what the server does when it is short of connections.

use crate::support::{assert_error, ok, spawn_app};
use app::error::ErrorCode;
use reqwest::StatusCode;
use std::time::Duration;
use switchboard::testing::TestDatabase;

async fn malformed_requests_are_4xx_json(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_MAX_BODY_BYTES", "4096")]).await;
    let mut b = app.browser().await;
    b.register("gil@example.org").await;
    let err = assert_error(
        b.post("/api/add_draft", &[("title", "t"), ("body", "b"), ("platform_id", "3")])
            .await,
        StatusCode::BAD_REQUEST,
        ErrorCode::BadRequest,
    )
    .await;
    assert_eq!(err.error.field.as_deref(), Some("platform_id"));
    let dup = b
        .http
        .post(b.url("/api/add_draft"))
        .header("X-CSRF-Token", &b.csrf)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("title=a&title=b&body=c")
        .send()
        .await
        .unwrap();
    assert_error(dup, StatusCode::BAD_REQUEST, ErrorCode::BadRequest).await;
    let json = b
        .http
        .post(b.url("/api/add_draft"))
        .header("X-CSRF-Token", &b.csrf)
        .json(&serde_json::json!({"title": "t", "body": "b"}))
        .send()
        .await
        .unwrap();
    assert_error(json, StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType).await;
    let big = "b".repeat(10_000);
    assert_error(
        b.post("/api/add_draft", &[("title", "t"), ("body", &big)]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
    )
    .await;
    let bad_utf8 = b
        .http
        .post(b.url("/api/add_draft"))
        .header("X-CSRF-Token", &b.csrf)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(vec![b't', b'=', 0xff, 0xfe])
        .send()
        .await
        .unwrap();
    assert_error(bad_utf8, StatusCode::BAD_REQUEST, ErrorCode::BadRequest).await;
    assert_error(
        b.post("/api/add_draft", &[("title", "only a title")]).await,
        StatusCode::BAD_REQUEST,
        ErrorCode::BadRequest,
    )
    .await;
    assert_error(
        b.post("/api/add_draft", &[("title", "t"), ("body", "b")]).await,
        StatusCode::CONFLICT,
        ErrorCode::NoActivePlatform,
    )
    .await;
    b.add_platform("P").await;
    let err = assert_error(
        b.post("/api/add_draft", &[("title", ""), ("body", "b")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidInput,
    )
    .await;
    assert_eq!(err.error.field.as_deref(), Some("title"));
    let err = assert_error(
        b.post(
            "/api/add_platform",
            &[
                ("kind", "myspace"),
                ("label", "x"),
                ("instance_url", "https://x.org"),
                ("handle", "x"),
            ],
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidInput,
    )
    .await;
    assert_eq!(err.error.field.as_deref(), Some("kind"));
    assert_error(
        b.post("/api/no_such_function", &[]).await,
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
    )
    .await;
    assert_error(b.get("/api/no_such_thing").await, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
    // A read is not a POST endpoint (and a change is not a GET one): 405, saying which method.
    let res = b.post("/api/session_state", &[]).await;
    assert_eq!(res.headers().get("allow").and_then(|v| v.to_str().ok()), Some("GET"));
    assert_error(res, StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed).await;
    assert_error(
        b.post("/api/delete_draft", &[("draft_id", "99999999999999999999999")]).await,
        StatusCode::BAD_REQUEST,
        ErrorCode::BadRequest,
    )
    .await;
    assert_error(
        b.post("/api/delete_draft", &[("draft_id", "-4")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidInput,
    )
    .await;
}

async fn exhausted_pool_answers_503(db: TestDatabase) {
    let app = spawn_app(
        db,
        &[
            ("SWITCHBOARD_POOL_MAX_CONNECTIONS", "1"),
            ("SWITCHBOARD_POOL_ACQUIRE_TIMEOUT", "200ms"),
        ],
    )
    .await;
    let mut b = app.browser().await;
    b.register("ivy@example.org").await;
    let held = app.state.ctx.engine.db().reader().acquire().await.unwrap();
    let started = std::time::Instant::now();
    // A read that needs the pool: on SQLite the session lookup itself reads on the request's
    // thread (store/local.rs), and counting the account's sessions goes through the pool.
    assert_error(
        b.get("/api/session_count").await,
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Unavailable,
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(3), "no hang");
    drop(held);
    b.state().await;
    ok::<u64>(b.get("/api/session_count").await).await;
}

async fn health_reports_the_database(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let res = app.bare().get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"]["status"], "ok");
    assert_eq!(body["cache"]["serving"], true, "the session cache is on and hears writes: {body}");

    let res = app.bare().get(app.url("/health/live")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("set-cookie").is_none(), "a probe gets no cookie");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

/// Every answer but the browser build's files names its request (`X-Request-Id`, the id on
/// the request's log lines): a new id each time, made here, unless a trusted proxy sent a plain
/// one. A client cannot choose the
/// id its request is logged under (to pass as another's), nor put text of its own in the log.
#[tokio::test]
async fn every_answer_names_its_request_and_only_a_trusted_proxy_may_name_it() {
    let app = spawn_app(TestDatabase::sqlite().await, &[("SWITCHBOARD_HTTP_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let id_of = |res: &reqwest::Response| {
        res.headers()
            .get("x-request-id")
            .expect("an X-Request-Id")
            .to_str()
            .unwrap()
            .to_owned()
    };
    let mut seen = std::collections::HashSet::new();
    for path in [
        "/api/session_state",
        "/health/live",
        "/favicon.svg",
        "/",
        "/api/nothing_here",
        "/no/such/page",
    ] {
        let res = app.bare().get(app.url(path)).send().await.unwrap();
        let id = id_of(&res);
        assert!(
            id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'),
            "{path}: {id}"
        );
        assert!(seen.insert(id), "{path}: every request gets an id of its own");
    }

    let direct = app.client_as(crate::support::Device {
        address: Some("127.0.0.2"),
        ..Default::default()
    });
    let through_proxy = app.bare();
    let sent_as = |client: &reqwest::Client, id: &str| client.get(app.url("/api/csrf")).header("X-Request-Id", id).send();
    // Through the trusted proxy (127.0.0.1), a plain id is kept.
    assert_eq!(id_of(&sent_as(&through_proxy, "edge-7f3a:42").await.unwrap()), "edge-7f3a:42");
    // Not plain: replaced.
    for bad in ["with space", "quote\"", &"x".repeat(65)] {
        assert_ne!(id_of(&sent_as(&through_proxy, bad).await.unwrap()), bad);
    }
    // Straight from a client: replaced, however plain.
    assert_ne!(id_of(&sent_as(&direct, "edge-7f3a:42").await.unwrap()), "edge-7f3a:42");
}

/// `GET /health/ready` says ready while every check passes, and names the one that fails: here
/// a database one migration behind this build.
async fn readiness_names_what_fails(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let status = readiness(&app).await;
    assert_eq!(
        status,
        (
            StatusCode::OK,
            serde_json::json!({"status": "ready", "checks": {"pool": "ok", "database": "ok", "migrations": "ok", "cache": "ok"}})
        )
    );

    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
        .execute(app.state.ctx.engine.db().writer())
        .await
        .unwrap();
    let (status, body) = readiness(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["failing"], serde_json::json!(["migrations"]), "{body}");
    assert!(
        body["checks"]["migrations"].as_str().unwrap().starts_with("1 not applied"),
        "{body}"
    );
    assert_eq!(body["checks"]["database"], "ok");
}

/// `GET /health/ready`: its status and body.
pub async fn readiness(app: &crate::support::TestApp) -> (StatusCode, serde_json::Value) {
    let res = app.bare().get(app.url("/health/ready")).send().await.unwrap();
    assert!(res.headers().get("set-cookie").is_none(), "a probe gets no cookie");
    (res.status(), res.json().await.unwrap())
}

switchboard::on_both_backends!(
    malformed_requests_are_4xx_json,
    exhausted_pool_answers_503,
    health_reports_the_database,
    readiness_names_what_fails,
);
