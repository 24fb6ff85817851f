//! `GET /api/session_events`: changes to a session made anywhere (another device, another
//! instance) are pushed to the browser's stream at once.

use crate::support::{assert_error, ok, spawn_app, Browser};
use app::error::ErrorCode;
use reqwest::{Response, StatusCode};
use std::time::{Duration, Instant};
use switchboard::testing::TestDatabase;

/// Opens the stream and returns it once its head arrived.
async fn open(b: &Browser, last_event_id: Option<&str>) -> Response {
    let mut req = b.http.get(b.url("/api/session_events"));
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id);
    }
    req.send().await.unwrap()
}

/// Reads the stream until an event named `changed` arrives (or `within` passes); its text.
async fn next_change(stream: &mut Response, within: Duration) -> Option<String> {
    let started = Instant::now();
    let mut text = String::new();
    while started.elapsed() < within {
        match tokio::time::timeout(within - started.elapsed(), stream.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                text.push_str(&String::from_utf8_lossy(&chunk));
                if let Some(end) = text.find("event: changed").and_then(|at| text[at..].find("\n\n").map(|e| at + e)) {
                    return Some(text[..end].to_owned());
                }
            }
            _ => return None,
        }
    }
    None
}

/// The laptop's stream is held by instance B; a phone on instance A signs the laptop out. The
/// stream says so at once, and nothing is said about another account's changes.
async fn a_revocation_on_another_instance_is_pushed(db: TestDatabase) {
    let a = spawn_app(db, &[]).await;
    let b = a.another_instance().await;
    let mut laptop = a.browser().await;
    laptop.register("pushed@example.org").await;
    let mut stranger = a.browser().await;
    stranger.register("stranger@example.org").await;
    let laptop_on_b = laptop.on(&b);
    let mut stream = open(&laptop_on_b, None).await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");

    // Someone else's change is not this browser's business.
    stranger.add_platform("Theirs").await;
    assert_eq!(next_change(&mut stream, Duration::from_millis(500)).await, None);

    let mut phone = a.browser().await;
    phone.login("pushed@example.org").await;
    let started = Instant::now();
    ok::<serde_json::Value>(phone.post("/api/revoke_other_sessions", &[]).await).await;
    let event = next_change(&mut stream, Duration::from_secs(5))
        .await
        .expect("the revocation is pushed");
    println!(
        "[figures] {}: a revocation on instance A pushed to a stream on instance B after {:.1} ms",
        a.state.ctx.engine.db().backend().name(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    assert!(event.contains("id: "), "{event}");
    // What the browser does next: its check says the session was revoked.
    assert!(laptop_on_b.check().await.state.is_none());
}

async fn the_stream_needs_a_live_session_and_the_cache(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let visitor = app.browser().await;
    assert_error(open(&visitor, None).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated).await;

    let mut b = app.browser().await;
    b.register("resume@example.org").await;
    // A browser that comes back may have missed something: it is told at once.
    let mut stream = open(&b, Some("41")).await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(next_change(&mut stream, Duration::from_secs(2)).await.is_some());
}

switchboard::on_both_backends!(
    a_revocation_on_another_instance_is_pushed,
    the_stream_needs_a_live_session_and_the_cache,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_the_cache_there_is_nothing_to_push() {
    let app = spawn_app(TestDatabase::sqlite().await, &[("SWITCHBOARD_CACHE_ENABLED", "false")]).await;
    let mut b = app.browser().await;
    b.register("off@example.org").await;
    assert_error(open(&b, None).await, StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable).await;
}
