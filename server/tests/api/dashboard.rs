//! The administrators' dashboard: its page shows the sampled figures, and its stream pushes
//! each new sample, rendered, to administrators only.

use crate::support::{assert_error, spawn_app, Browser, TestApp};
use app::error::ErrorCode;
use reqwest::{Response, StatusCode};
use std::time::{Duration, Instant};
use switchboard::testing::TestDatabase;

const EVENTS: &str = "/api/admin/dashboard/events";

async fn with_sampler(db: TestDatabase) -> (TestApp, tokio::task::JoinHandle<()>) {
    let app = spawn_app(db, &[("SWITCHBOARD_DASHBOARD_INTERVAL", "1s")]).await;
    let sampler = switchboard_server::spawn_dashboard(&app.state);
    (app, sampler)
}

async fn admin(app: &TestApp) -> Browser {
    let mut root = app.browser().await;
    root.register("root@example.org").await;
    app.make_admin("root@example.org").await;
    root
}

/// Reads the stream until a `sample` event whose data holds `wanted` arrives; that event.
async fn sample_with(stream: &mut Response, wanted: &str, within: Duration) -> String {
    let started = Instant::now();
    let mut text = String::new();
    loop {
        let left = within.saturating_sub(started.elapsed());
        let chunk = tokio::time::timeout(left, stream.chunk()).await;
        let Ok(Ok(Some(chunk))) = chunk else {
            panic!("no sample with {wanted:?} within {within:?}: {text}")
        };
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            if event.starts_with("event: sample") && event.contains(wanted) {
                return event;
            }
        }
    }
}

async fn the_stream_pushes_each_sample_to_administrators(db: TestDatabase) {
    let (app, _sampler) = with_sampler(db).await;
    let root = admin(&app).await;
    let mut stream = root.http.get(root.url(EVENTS)).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    // At once: what there is (here, the admin's own session, once sampled).
    let first = sample_with(&mut stream, "id=\"dashboard-live\"", Duration::from_secs(5)).await;
    assert!(first.contains("Live sessions"), "{first}");

    // Another user signs in: a later sample counts two live sessions and the logins.
    let mut user = app.browser().await;
    user.register("user@example.org").await;
    let later = sample_with(&mut stream, r#"<strong class="now">2</strong>"#, Duration::from_secs(5)).await;
    assert!(later.contains("Logins a minute"), "{later}");
    // The data is one HTML section, each of its lines an SSE `data:` line.
    assert!(later.lines().skip(1).all(|l| l.starts_with("data:") || l.is_empty()), "{later}");
}

async fn the_page_and_stream_are_for_administrators_only(db: TestDatabase) {
    let (app, _sampler) = with_sampler(db).await;
    assert_error(
        app.browser().await.get(EVENTS).await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    )
    .await;
    let mut user = app.browser().await;
    user.register("user@example.org").await;
    assert_error(user.get(EVENTS).await, StatusCode::FORBIDDEN, ErrorCode::Forbidden).await;
    let page = user.get("/admin/dashboard").await.text().await.unwrap();
    assert!(!page.contains("dashboard-live"), "a user is not shown the figures");

    let root = admin(&app).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let page = root.get("/admin/dashboard").await.text().await.unwrap();
    assert!(page.contains(r#"<section id="dashboard-live""#), "{page}");
    assert!(page.contains("Switch latency") && page.contains("Pool use"), "{page}");
    // The script that follows the stream (served from the built site: the browser tests).
    assert!(page.contains(r#"src="/dashboard.js""#), "{page}");
}

switchboard::on_both_backends!(
    the_stream_pushes_each_sample_to_administrators,
    the_page_and_stream_are_for_administrators_only,
);
