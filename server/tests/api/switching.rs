//! Switching the active platform over HTTP: compare-and-set, and every way to be refused.

use crate::support::{assert_error, ok, spawn_app, Fields};
use app::error::ErrorCode;
use app::models::SessionState;
use reqwest::StatusCode;
use switchboard::testing::TestDatabase;

async fn switch_is_compare_and_set_over_http(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    let mut other = app.browser().await;
    b.register("eve@example.org").await;
    other.register("fox@example.org").await;
    let a = b.add_platform("A").await;
    let c = b.add_platform("C").await;
    let foreign = other.add_platform("F").await;
    let v = b.state().await.session.version;

    let switched: SessionState = ok(b
        .post(
            "/api/switch_platform",
            &[("platform_id", &c.to_string()), ("expected_version", &v.to_string())],
        )
        .await)
    .await;
    assert_eq!(switched.platform_id(), Some(c));
    assert_eq!(switched.session.version.0, v.0 + 1);

    let res = b
        .post(
            "/api/switch_platform",
            &[("platform_id", &a.to_string()), ("expected_version", &v.to_string())],
        )
        .await;
    let err = assert_error(res, StatusCode::CONFLICT, ErrorCode::VersionConflict).await;
    let current = err.error.current.expect("a conflict carries the current state");
    assert_eq!(current.platform_id(), Some(c));
    assert_eq!(current.session.version.0, v.0 + 1);
    // With a CSRF token for the session (different text in every answer): every request below
    // carries it, and is answered for its own reasons, never `csrf_failed`.
    assert_ne!(current.csrf_token, switched.csrf_token, "masked afresh in each answer");
    b.csrf = current.csrf_token.clone();

    let foreign = foreign.to_string();
    let refused: [(Fields, StatusCode, ErrorCode); 6] = [
        (&[("platform_id", &foreign)], StatusCode::NOT_FOUND, ErrorCode::NotFound),
        (&[("platform_id", "424242")], StatusCode::NOT_FOUND, ErrorCode::NotFound),
        (&[("platform_id", "abc")], StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
        (&[("platform_id", "0")], StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidInput),
        (
            &[("platform_id", "1"), ("expected_version", "-1")],
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidInput,
        ),
        (&[], StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
    ];
    for (fields, status, code) in refused {
        assert_error(b.post("/api/switch_platform", fields).await, status, code).await;
    }
    let res = b.post("/api/switch_platform", &[("platform_id", &a.to_string())]).await;
    assert_eq!(res.status(), StatusCode::OK, "without expected_version the switch is unconditional");
}

switchboard::on_both_backends!(switch_is_compare_and_set_over_http);
