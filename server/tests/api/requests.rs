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

switchboard::on_both_backends!(
    malformed_requests_are_4xx_json,
    exhausted_pool_answers_503,
    health_reports_the_database,
);
