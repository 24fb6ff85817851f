//! The session cache never lies: a write is heard by every instance before it serves that
//! session from memory again (PostgreSQL: LISTEN/NOTIFY; SQLite: the change log, read before
//! every hit, whoever wrote it), and an instance that cannot hear serves nothing from memory.

use crate::support::{assert_error, ok, spawn_app, TestApp};
use app::error::ErrorCode;
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use switchboard::cache::CacheStats;
use switchboard::testing::TestDatabase;

fn cache_of(app: &TestApp) -> CacheStats {
    app.state.ctx.engine.db().cache().stats()
}

/// Waits (up to 5 s) until the instance's cache is, or is not, serving.
async fn until_serving(app: &TestApp, serving: bool) {
    let started = Instant::now();
    while cache_of(app).serving != serving {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the cache never turned serving = {serving}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A laptop signed in through instance A, whose requests a proxy now sends to instance B, is
/// served from B's memory; a phone signs out the account's other sessions through A. The
/// laptop's next requests on B are refused as soon as B has heard (on SQLite: the very next).
async fn a_revocation_on_one_instance_reaches_the_cache_of_another(db: TestDatabase) {
    let a = spawn_app(db, &[]).await;
    let b = a.another_instance().await;
    let mut laptop = a.browser().await;
    laptop.register("many@example.org").await;
    let laptop_on_b = laptop.on(&b);
    laptop_on_b.state().await;
    let hits = cache_of(&b).hits;
    laptop_on_b.state().await;
    assert_eq!(cache_of(&b).hits, hits + 1, "B serves the laptop from memory");

    let mut phone = a.browser().await;
    phone.login("many@example.org").await;
    ok::<serde_json::Value>(phone.post("/api/revoke_other_sessions", &[]).await).await;
    let revoked = Instant::now();
    let mut served_stale = 0;
    loop {
        let res = laptop_on_b.get("/api/session_state").await;
        if res.status() == StatusCode::UNAUTHORIZED {
            assert_error(res, StatusCode::UNAUTHORIZED, ErrorCode::SessionRevoked).await;
            break;
        }
        assert_eq!(res.status(), StatusCode::OK);
        served_stale += 1;
        assert!(
            revoked.elapsed() < Duration::from_secs(5),
            "B still serves the revoked session from memory ({served_stale} requests)"
        );
    }
    let gap = revoked.elapsed();
    println!(
        "[figures] {}: a revocation on A refused on B after {:.2} ms ({served_stale} requests served before)",
        b.state.ctx.engine.db().backend().name(),
        gap.as_secs_f64() * 1000.0
    );
    let metrics = crate::metrics::scrape(&b).await;
    let heard = crate::metrics::value(&metrics, "switchboard_cache_notification_lag_seconds_count");
    if b.state.ctx.engine.db().backend() == switchboard::Backend::Sqlite {
        assert_eq!(served_stale, 0, "on SQLite the change log is read before every hit");
        assert_eq!(heard, Some(0.0), "SQLite has no notifications: {metrics}");
    } else {
        // B heard the revocation (and the phone's login before it), and timed each.
        assert!(heard.is_some_and(|n| n >= 1.0), "{metrics}");
        let lag = crate::metrics::value(&metrics, "switchboard_cache_notification_lag_seconds_sum").unwrap();
        assert!(lag >= 0.0 && lag < 5.0 * heard.unwrap(), "{lag} s over {heard:?} notifications");
    }
}

switchboard::on_both_backends!(a_revocation_on_one_instance_reaches_the_cache_of_another);

/// PostgreSQL: the listening connection is killed. Until it is back, nothing comes from memory:
/// a session ended meanwhile by another writer (whose notification nobody heard) is refused.
/// Once it listens again the cache serves again, empty at first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_lost_listener_bypasses_the_cache_until_it_is_back() {
    let app = spawn_app(TestDatabase::postgres().await, &[]).await;
    let mut laptop = app.browser().await;
    let registered = laptop.register("deaf@example.org").await;
    laptop.state().await;
    let hits = cache_of(&app).hits;
    laptop.state().await;
    assert_eq!(cache_of(&app).hits, hits + 1);

    let db = app.state.ctx.engine.db();
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(db.reader())
        .await
        .unwrap();
    let killed: Vec<bool> =
        sqlx::query_scalar("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()")
            .bind(format!("LISTEN %switchboard_changes_{schema}%"))
            .fetch_all(db.reader())
            .await
            .unwrap();
    assert_eq!(killed, [true], "one listener per instance");
    until_serving(&app, false).await;
    let (status, body) = crate::requests::readiness(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["failing"], serde_json::json!(["cache"]), "not ready while deaf: {body}");

    // Another writer ends the session while nobody listens: its notification is lost.
    let ended =
        sqlx::query("UPDATE sessions SET ended_at = 1, end_reason = 'revoked_by_admin', version = version + 1 WHERE public_id = $1")
            .bind(registered.session.id.0.as_str())
            .execute(db.writer())
            .await
            .unwrap();
    assert_eq!(ended.rows_affected(), 1);
    let res = laptop.get("/api/session_state").await;
    assert!(
        !cache_of(&app).serving,
        "the listener came back too soon for this test to mean anything"
    );
    assert_error(res, StatusCode::UNAUTHORIZED, ErrorCode::SessionRevoked).await;

    until_serving(&app, true).await;
    assert_eq!(
        crate::requests::readiness(&app).await.0,
        StatusCode::OK,
        "ready once it hears again"
    );
    laptop.refresh_csrf().await;
    laptop.login("deaf@example.org").await;
    laptop.state().await;
    let hits = cache_of(&app).hits;
    laptop.state().await;
    assert_eq!(cache_of(&app).hits, hits + 1, "serving from memory again");
}

/// SQLite: the CLI (another process) makes the account an administrator while the server holds
/// its session in memory; the server's next answer says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_change_by_the_cli_is_seen_by_the_running_server() {
    let database = TestDatabase::sqlite().await;
    let url = database.url().to_owned();
    let app = spawn_app(database, &[]).await;
    let mut b = app.browser().await;
    b.register("cli@example.org").await;
    b.state().await;
    let hits = cache_of(&app).hits;
    assert!(!b.state().await.user.is_admin);
    assert_eq!(cache_of(&app).hits, hits + 1, "served from memory");

    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["--profile", "test", "user", "admin", "cli@example.org", "--grant"])
            .env("SWITCHBOARD_DATABASE_URL", &url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(b.state().await.user.is_admin, "the very next answer has the CLI's change");
}
