//! The session cache at the engine: what the database announces is forgotten, a rolled-back
//! write announces nothing, and a server that fell behind the trimmed change log starts over.

use crate::support::*;
use std::sync::Arc;
use std::time::Duration;
use switchboard::cache::{CacheSettings, CacheStats};
use switchboard::testing::TestDatabase;
use switchboard::token::SessionToken;
use switchboard::{Db, Engine, Error, ManualClock, PoolSettings, SessionPolicy, Timestamp, User, UserId};

/// The time every engine here starts at.
const STARTS_AT: Timestamp = Timestamp(1_800_000_000_000);

/// An engine on `db` with its own clock at [`STARTS_AT`].
fn engine_on(db: &Db) -> Engine {
    Engine::new(db.clone(), SessionPolicy::default(), Arc::new(ManualClock::new(STARTS_AT)))
}

async fn cached_engine(database: &TestDatabase) -> (Engine, Db) {
    let db = database
        .connect(&PoolSettings::default())
        .await
        .with_cache(CacheSettings::default())
        .await
        .unwrap();
    (engine_on(&db), db)
}

fn stats(db: &Db) -> CacheStats {
    db.cache().stats()
}

async fn signed_in(engine: &Engine, email: &str) -> SessionToken {
    engine
        .register(
            &switchboard::domain::Email::parse(email).unwrap(),
            switchboard::domain::Password::parse_new(PASSWORD).unwrap(),
            &switchboard::domain::DisplayName::parse("Cached").unwrap(),
        )
        .await
        .unwrap();
    engine.login(email, attempt(PASSWORD), meta(), None).await.unwrap().0
}

async fn lookup(engine: &Engine, token: &SessionToken) -> User {
    engine.authenticate_with_user(token, &meta(), false).await.unwrap().1
}

/// `UPDATE users SET <set> WHERE id = user` on `c`.
async fn set_on_user(c: &mut sqlx::AnyConnection, set: &'static str, user: UserId) -> Result<(), Error> {
    sqlx::query(&format!("UPDATE users SET {set} WHERE id = $1"))
        .bind(user)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// [`set_on_user`] in a transaction of its own.
async fn update_user(db: &Db, set: &'static str, user: UserId) -> Result<(), Error> {
    db.transaction(move |c| Box::pin(async move { set_on_user(c, set, user).await }))
        .await
}

/// Looks the session up twice, the second time from memory.
async fn warm(engine: &Engine, db: &Db, token: &SessionToken) {
    lookup(engine, token).await;
    let hits = stats(db).hits;
    lookup(engine, token).await;
    assert_eq!(stats(db).hits, hits + 1, "served from memory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_rolled_back_write_forgets_nothing_and_a_committed_one_at_once() {
    let database = TestDatabase::postgres().await;
    let (engine, db) = cached_engine(&database).await;
    let token = signed_in(&engine, "rollback@example.org").await;
    warm(&engine, &db, &token).await;
    let user = lookup(&engine, &token).await.id;

    let before = stats(&db).invalidations;
    let rolled_back = db
        .transaction(move |c| {
            Box::pin(async move {
                set_on_user(c, "is_admin = 1", user).await?;
                Err::<(), _>(Error::invalid("test", "a domain error after the write"))
            })
        })
        .await;
    assert!(rolled_back.is_err());
    // Whatever a NOTIFY outside the transaction would have said, it would have arrived by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stats(&db).invalidations, before, "a rolled-back write announces nothing");
    let hits = stats(&db).hits;
    assert!(!lookup(&engine, &token).await.is_admin);
    assert_eq!(stats(&db).hits, hits + 1, "still served from memory");

    update_user(&db, "is_admin = 1", user).await.unwrap();
    // No waiting: the writer forgets as it commits.
    let s1 = stats(&db);
    let admin = lookup(&engine, &token).await.is_admin;
    assert!(admin, "the committed change, at once: {s1:?} then {:?}", stats(&db));
}

/// `count` rows in SQLite's change log, for a user no cache holds.
async fn log_changes(db: &Db, count: i64) {
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO cache_changes (user_id) SELECT 999999 FROM n",
    )
    .bind(count)
    .execute(db.writer())
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_cache_behind_the_trimmed_change_log_forgets_everything() {
    let database = TestDatabase::sqlite().await;
    let (engine, db) = cached_engine(&database).await;
    let token = signed_in(&engine, "behind@example.org").await;
    warm(&engine, &db, &token).await;
    let user = lookup(&engine, &token).await.id;

    // Another process changes the account, then so much else that the cleanup trims the change
    // log past the account's row before this server looks.
    let other = database.connect(&PoolSettings::default()).await;
    sqlx::query("UPDATE users SET is_admin = 1 WHERE id = $1")
        .bind(user)
        .execute(other.writer())
        .await
        .unwrap();
    log_changes(&other, 10_005).await;
    // The cleanup of another process on the same file (this server's own reads the log after
    // each of its commits, and would read the account's row before trimming it).
    engine_on(&other).sweep_sessions(Duration::from_secs(3600), 1000).await.unwrap();
    let first: i64 = sqlx::query_scalar("SELECT MIN(seq) FROM cache_changes")
        .fetch_one(other.reader())
        .await
        .unwrap();
    assert!(first > 2, "the account's row was trimmed");

    assert!(lookup(&engine, &token).await.is_admin, "a gap in the log empties the cache");
}

/// The cleanup reads the change log itself right after each of its commits, so the reads that
/// follow find nothing new to read: left to them, about a third of the live reads during a
/// sweep (a commit every few milliseconds) paid for reading it (docs/BENCHMARKS.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_cleanup_reads_the_change_log_after_its_commits_so_requests_need_not() {
    let database = TestDatabase::sqlite().await;
    let (engine, db) = cached_engine(&database).await;
    let token = signed_in(&engine, "swept@example.org").await;
    let user = lookup(&engine, &token).await.id;
    // Two sessions of this user's that idled out a day ago, for the sweep to end.
    sqlx::query(
        "INSERT INTO sessions (public_id, token_hash, user_id, version, created_at, last_seen_at, absolute_expires_at) \
         VALUES ('idled-out-1', printf('%064d', 1), $1, 1, $2, $2, $2 + 43200000), \
                ('idled-out-2', printf('%064d', 2), $1, 1, $2, $2, $2 + 43200000)",
    )
    .bind(user)
    .bind(STARTS_AT.millis() - 86_400_000)
    .execute(db.writer())
    .await
    .unwrap();
    warm(&engine, &db, &token).await;

    let report = engine.sweep_sessions(Duration::from_secs(3600), 1000).await.unwrap();
    assert_eq!(report.expired, 2);
    let (log_reads, hits) = (stats(&db).log_reads, stats(&db).hits);
    lookup(&engine, &token).await;
    assert_eq!(stats(&db).hits, hits + 1, "still served from memory");
    assert_eq!(stats(&db).log_reads, log_reads, "the sweep's commits were already read");

    // A commit the server did not look after (another process's) is read by the next request.
    let other = database.connect(&PoolSettings::default()).await;
    sqlx::query("UPDATE users SET display_name = 'Elsewhere' WHERE id = $1")
        .bind(user)
        .execute(other.writer())
        .await
        .unwrap();
    assert_eq!(lookup(&engine, &token).await.display_name.as_str(), "Elsewhere");
    assert_eq!(stats(&db).log_reads, log_reads + 1);
}

/// A server with the cache on trims the change log to its newest rows by itself, a little every
/// few seconds: left to the cleanup (every 10 minutes), a busy server's trim deleted 280,000 rows
/// in one statement, and its memory stayed 7 MiB higher after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_change_log_is_trimmed_as_it_grows() {
    let database = TestDatabase::sqlite().await;
    let (_engine, db) = cached_engine(&database).await;
    log_changes(&db, 15_000).await;
    let started = std::time::Instant::now();
    loop {
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cache_changes")
            .fetch_one(db.reader())
            .await
            .unwrap();
        if rows <= 10_000 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still {rows} rows after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_one_request_reads_the_change_log_once_and_again_after_its_own_write() {
    let database = TestDatabase::sqlite().await;
    let (engine, db) = cached_engine(&database).await;
    let token = signed_in(&engine, "once@example.org").await;
    warm(&engine, &db, &token).await;
    let user = lookup(&engine, &token).await.id;
    let other = database.connect(&PoolSettings::default()).await;

    switchboard::store::one_look(async {
        assert!(!lookup(&engine, &token).await.is_admin);
        // Another process writes after this request's look: the request goes on reading as of
        // that one moment.
        sqlx::query("UPDATE users SET is_admin = 1 WHERE id = $1")
            .bind(user)
            .execute(other.writer())
            .await
            .unwrap();
        assert!(!lookup(&engine, &token).await.is_admin, "one request, one moment");
        // The request's own write: what it reads next is read again.
        update_user(&db, "display_name = 'Again'", user).await.unwrap();
        let again = lookup(&engine, &token).await;
        assert!(
            again.is_admin,
            "the other process's change, read again after the request's own write"
        );
        assert_eq!(again.display_name.as_str(), "Again");
    })
    .await;
}
