//! The cleanup under a backlog: a SQLite database with `SWITCHBOARD_BENCH_EXPIRED` (default
//! 1,000,000) expired sessions, swept in batches (`SWITCHBOARD_BENCH_BATCH`, default 1000, as
//! `cleanup_batch`) while a signed-in user
//! keeps reading their session. Prints how long the sweep took and the reads' latency (p50, p99,
//! max) idle and during the sweep: with the session cache on, as the server runs, and off (every
//! read from the database).
//!
//! `make bench` (or `cargo bench -p server --bench cleanup`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::domain::{DisplayName, Email, Password};
use switchboard::testing::TestDatabase;
use switchboard::{ClientMeta, Engine, ManualClock, PoolSettings, SessionPolicy, Timestamp};

/// The `q` quantile of `samples` (sorted).
fn quantile(samples: &[Duration], q: f64) -> Duration {
    samples[((samples.len() as f64 - 1.0) * q) as usize]
}

fn percentiles(samples: &[Duration]) -> String {
    let at = |q: f64| quantile(samples, q);
    format!(
        "p50 {:.3} ms, p99 {:.3} ms, max {:.2} ms ({} reads)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
        samples.len()
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let number = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let expired = number("SWITCHBOARD_BENCH_EXPIRED", 1_000_000);
    let batch = number("SWITCHBOARD_BENCH_BATCH", 1000) as u32;
    // As the server runs (the session cache on), then with every read from the database.
    for cache in [true, false] {
        println!("[cleanup] session cache {}", if cache { "on (as served)" } else { "off" });
        backlog_swept_while_reading(expired, batch, cache).await;
    }
}

/// A backlog of `expired` sessions swept in batches of `batch` while a signed-in user reads.
async fn backlog_swept_while_reading(expired: u64, batch: u32, cache: bool) {
    let database = TestDatabase::sqlite().await;
    let db = database.connect(&PoolSettings::default()).await;
    let db = if cache {
        db.with_cache(switchboard::cache::CacheSettings::default()).await.unwrap()
    } else {
        db
    };
    let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000)));
    let engine = Engine::new(db.clone(), SessionPolicy::default(), clock.clone());
    let user = engine
        .register(
            &Email::parse("bench@example.org").unwrap(),
            Password::parse_new("a bench password").unwrap(),
            &DisplayName::parse("Bench").unwrap(),
        )
        .await
        .unwrap();

    // The backlog: sessions that idled out a day ago.
    let started = Instant::now();
    let long_ago = 1_800_000_000_000i64 - 86_400_000;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO sessions (public_id, token_hash, user_id, version, created_at, last_seen_at, absolute_expires_at) \
         SELECT printf('b%021d', i), printf('%064d', i), $2, 1, $3, $3, $3 + 43200000 FROM n",
    )
    .bind(expired as i64)
    .bind(user.id)
    .bind(long_ago)
    .execute(db.writer())
    .await
    .unwrap();
    println!(
        "[cleanup] {expired} expired sessions written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let (token, _) = engine
        .login(
            "bench@example.org",
            Password::parse_attempt("a bench password").unwrap(),
            ClientMeta::default(),
            None,
        )
        .await
        .unwrap();
    let read = |engine: Engine, token: switchboard::token::SessionToken| async move {
        let t = Instant::now();
        engine
            .authenticate(&token, &ClientMeta::default())
            .await
            .expect("the live session stays live");
        t.elapsed()
    };
    // Idle and during the sweep alike, a read every millisecond: the same cadence, so the only
    // difference between the two is the sweep (back-to-back reads would run with warm caches and
    // never wait to be woken, and look faster than any served request does).
    let reading = |until: Arc<AtomicBool>| {
        let (engine, token) = (engine.clone(), token.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !until.load(Ordering::Relaxed) {
                latencies.push(read(engine.clone(), token.clone()).await);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            latencies
        })
    };
    let idle_over = Arc::new(AtomicBool::new(false));
    let idle = reading(idle_over.clone());
    tokio::time::sleep(Duration::from_secs(3)).await;
    idle_over.store(true, Ordering::Relaxed);
    let mut idle = idle.await.unwrap();
    idle.sort();
    println!("[cleanup] live reads, idle: {}", percentiles(&idle));

    let swept = Arc::new(AtomicBool::new(false));
    let reader = reading(swept.clone());
    let started = Instant::now();
    let report = engine.sweep_sessions(Duration::from_secs(7 * 86_400), batch).await.unwrap();
    let took = started.elapsed();
    swept.store(true, Ordering::Relaxed);
    let mut during = reader.await.unwrap();
    during.sort();
    println!(
        "[cleanup] swept {} expired sessions in {:.1} s ({:.0}/s), batches of {batch}",
        report.expired,
        took.as_secs_f64(),
        report.expired as f64 / took.as_secs_f64()
    );
    println!("[cleanup] live reads, during the sweep: {}", percentiles(&during));
    println!(
        "[cleanup] live p99 during the sweep / idle: {:.2} (goal ≤ 2)",
        quantile(&during, 0.99).as_secs_f64() / quantile(&idle, 0.99).as_secs_f64()
    );
    assert_eq!(report.expired, expired);
}
