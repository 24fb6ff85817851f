//! Feature flags, each tested off.

use crate::support::{assert_error, spawn_app, PASSWORD};
use app::error::ErrorCode;
use reqwest::StatusCode;
use switchboard::testing::TestDatabase;

async fn registration_off_hides_the_links_and_refuses_the_endpoint(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_FEATURE_REGISTRATION", "false")]).await;
    let b = app.browser().await;
    let res = b
        .post(
            "/api/register",
            &[("email", "new@example.org"), ("password", PASSWORD), ("display_name", "New")],
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, ErrorCode::RegistrationClosed).await;
    assert!(!b.snapshot().await.client.registration, "the browser is told");
    for path in ["/login", "/register"] {
        let page = b.get(path).await.text().await.unwrap();
        assert!(!page.contains(r#"href="/register""#), "{path} links to registration");
    }
    let page = b.get("/register").await.text().await.unwrap();
    assert!(page.contains("does not accept new accounts"), "the page says why there is no form");
    assert!(!page.contains(r#"name="display_name""#));
}

async fn cross_tab_sync_off_is_passed_to_the_browser(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_FEATURE_CROSS_TAB_SYNC", "false")]).await;
    let b = app.browser().await;
    assert!(!b.snapshot().await.client.sync);
    let on = spawn_app(TestDatabase::sqlite().await, &[]).await;
    assert!(on.browser().await.snapshot().await.client.sync, "on by default");
}

/// `alerts.enabled = false`: failed logins past the threshold raise no alert (on, the same raise
/// one).
async fn alerts_off_raise_nothing(db: TestDatabase) {
    let limits = [
        ("SWITCHBOARD_ALERTS_FAILED_LOGINS_PER_ACCOUNT", "2"),
        ("SWITCHBOARD_THROTTLE_PAIR_LIMIT", "1000"),
    ];
    let off = spawn_app(db, &[limits[0], limits[1], ("SWITCHBOARD_ALERTS_ENABLED", "false")]).await;
    let on = spawn_app(off.database().another().await, &limits).await;
    for app in [&off, &on] {
        let mut b = app.browser().await;
        b.register("una@example.org").await;
        for _ in 0..3 {
            let res = b
                .post("/api/login", &[("email", "una@example.org"), ("password", "not the password")])
                .await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
    }
    assert!(off.state.ctx.engine.alerts(10, None).await.unwrap().is_empty(), "alerts off");
    assert_eq!(on.state.ctx.engine.alerts(10, None).await.unwrap().len(), 1, "alerts on");
}

/// `metrics.enabled = false`: `/metrics` is not there, even for a client that could read it.
async fn metrics_off_are_not_served(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_METRICS_ENABLED", "false")]).await;
    assert_eq!(
        app.bare().get(app.url("/metrics")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let on = spawn_app(app.database().another().await, &[]).await;
    assert_eq!(
        on.bare().get(on.url("/metrics")).send().await.unwrap().status(),
        StatusCode::OK,
        "on by default"
    );
}

switchboard::on_both_backends!(
    registration_off_hides_the_links_and_refuses_the_endpoint,
    cross_tab_sync_off_is_passed_to_the_browser,
    alerts_off_raise_nothing,
    metrics_off_are_not_served,
);
