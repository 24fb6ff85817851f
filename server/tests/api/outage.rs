//! The database goes away and comes back: every request that needs it answers `503
//! unavailable` (never a misleading error, never fail-open), and service resumes on its own.

use crate::support::{assert_error, spawn_app};
use app::error::ErrorCode;
use reqwest::StatusCode;
use switchboard::testing::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_down_answers_503_and_recovers() {
    let app = spawn_app(
        TestDatabase::postgres_database().await,
        &[("SWITCHBOARD_POOL_ACQUIRE_TIMEOUT", "500ms")],
    )
    .await;
    let database = app.database();
    let mut b = app.browser().await;
    b.register("down@example.org").await;
    b.add_platform("P").await;

    database.allow_connections(false).await;
    assert_error(
        b.get("/api/session_state").await,
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Unavailable,
    )
    .await;
    // A signed-in change: not a CSRF refusal, not accepted without its session checked.
    let res = b.post("/api/add_draft", &[("title", "t"), ("body", "b")]).await;
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable).await;
    let page = b.get("/").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE, "a page says so too");
    let mut stranger = app.browser().await;
    stranger.csrf = b.csrf.clone();
    let res = stranger
        .post(
            "/api/login",
            &[("email", "down@example.org"), ("password", crate::support::PASSWORD)],
        )
        .await;
    assert!(
        res.status().is_client_error() || res.status() == StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        res.status()
    );
    assert_ne!(res.status(), StatusCode::OK, "never signed in without the database");

    database.allow_connections(true).await;
    let mut recovered = false;
    for _ in 0..40 {
        if b.get("/api/session_state").await.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(recovered, "service resumes without a restart");
    assert_eq!(
        b.post("/api/add_draft", &[("title", "t"), ("body", "b")]).await.status(),
        StatusCode::OK
    );
}

/// A request stuck behind the database (a lock held elsewhere) or a render that never finishes is
/// answered `500` within `http.request_timeout`, its connection closed; the server goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_that_hangs_is_answered_within_the_request_timeout() {
    let app = spawn_app(
        TestDatabase::postgres_database().await,
        &[("SWITCHBOARD_HTTP_REQUEST_TIMEOUT", "1s")],
    )
    .await;
    let mut b = app.browser().await;
    b.register("stuck@example.org").await;

    let lock = app.database().lock_table("sessions").await;
    for path in ["/api/session_state", "/", "/sessions"] {
        let sent = std::time::Instant::now();
        let res = b.get(path).await;
        let took = sent.elapsed();
        assert_eq!(
            res.headers().get("connection").and_then(|v| v.to_str().ok()),
            Some("close"),
            "{path}: the connection ends"
        );
        assert_error(res, StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal).await;
        assert!(
            took >= std::time::Duration::from_millis(900) && took < std::time::Duration::from_secs(5),
            "{path}: answered after {took:?}"
        );
    }
    lock.release().await;
    assert_eq!(b.get("/api/session_state").await.status(), StatusCode::OK);
    assert_eq!(b.get("/sessions").await.status(), StatusCode::OK);
}

/// Another process keeps taking SQLite's write lock (a busy storm: `BEGIN IMMEDIATE`, 40 ms held,
/// over and over) while signed-in users switch platforms and read their state: they wait their
/// turn (the busy timeout), and no error reaches any of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_busy_storm_from_another_process_reaches_no_user() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::Duration;
    let app = spawn_app(TestDatabase::sqlite().await, &[]).await;
    let mut b = app.browser().await;
    b.register("storm@example.org").await;
    let platform = b.add_platform("P").await.to_string();

    // The storm: its own connections, as another process's would be.
    let stop = Arc::new(AtomicBool::new(false));
    let held = Arc::new(AtomicU64::new(0));
    let storm = {
        let (other, stop, held) = (
            app.database().connect(&switchboard::PoolSettings::default()).await,
            stop.clone(),
            held.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(SeqCst) {
                let mut tx = other.writer().begin_with("BEGIN IMMEDIATE").await.unwrap();
                sqlx::query("UPDATE users SET display_name = display_name WHERE id = 0")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(40)).await;
                tx.commit().await.unwrap();
                held.fetch_add(1, SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let (mut switches, mut reads) = (0, 0);
    let until = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < until {
        let switched = b.post("/api/switch_platform", &[("platform_id", platform.as_str())]).await;
        assert_eq!(
            switched.status(),
            200,
            "a switch during the storm: {}",
            switched.text().await.unwrap()
        );
        let read = b.get("/api/session_state").await;
        assert_eq!(read.status(), 200, "a read during the storm");
        (switches, reads) = (switches + 1, reads + 1);
    }
    stop.store(true, SeqCst);
    storm.await.unwrap();
    println!(
        "[figures] busy storm: the lock taken {} times by another process; {switches} switches, {reads} reads, 0 errors",
        held.load(SeqCst)
    );
    assert!(held.load(SeqCst) >= 10, "the storm really held the lock");
}
