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

switchboard::on_both_backends!(
    registration_off_hides_the_links_and_refuses_the_endpoint,
    cross_tab_sync_off_is_passed_to_the_browser,
);
