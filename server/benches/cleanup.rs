//! The cleanup under a backlog: a SQLite database with `SWITCHBOARD_BENCH_EXPIRED` (default
//! 1,000,000) expired sessions, swept in batches (`SWITCHBOARD_BENCH_BATCH`, default the
//! setting `cleanup_batch`'s) while a signed-in user
//! keeps reading their session. Prints how long the sweep took and the reads' latency (p50, p99,
//! max) idle and during the sweep: with the session cache on, as the server runs, and off (every
//! read from the database).
//!
//! Then the same backlog as served: the release server's own cleanup task sweeps it while a
//! client reads its session state (one request a millisecond) and switches its platform (one
//! every 10 ms) over HTTP, open loop; each request's latency, idle and during the sweep.
//!
//! `make bench` (or `cargo bench -p server --bench cleanup`; `SWITCHBOARD_BENCH_ONLY=served` for
//! the served run alone).

mod load;

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
    let batch = number(
        "SWITCHBOARD_BENCH_BATCH",
        u64::from(switchboard_server::config::Settings::default().cleanup_batch),
    ) as u32;
    let only_served = std::env::var("SWITCHBOARD_BENCH_ONLY").is_ok_and(|v| v == "served");
    // As the server runs (the session cache on), then with every read from the database.
    for cache in [true, false].into_iter().filter(|_| !only_served) {
        println!("[cleanup] session cache {}", if cache { "on (as served)" } else { "off" });
        backlog_swept_while_reading(expired, batch, cache).await;
    }
    println!("[cleanup] as served: the release server's cleanup task, requests over HTTP");
    backlog_swept_while_served(expired, batch).await;
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
    write_backlog(&db, expired, user.id.get(), 1_800_000_000_000).await;
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

/// `expired` sessions of user `user` that idled out a day before `now` (ms).
async fn write_backlog(db: &switchboard::Db, expired: u64, user: i64, now: i64) {
    let long_ago = now - 86_400_000;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO sessions (public_id, token_hash, user_id, version, created_at, last_seen_at, absolute_expires_at) \
         SELECT printf('b%021d', i), printf('%064d', i), $2, 1, $3, $3, $3 + 43200000 FROM n",
    )
    .bind(expired as i64)
    .bind(user)
    .bind(long_ago)
    .execute(db.writer())
    .await
    .unwrap();
}

/// How often the served run's cleanup task sweeps: its first sweep is at the server's start (an
/// empty database), the second finds the backlog written meanwhile.
const SERVED_INTERVAL: Duration = Duration::from_secs(25);

/// The backlog swept by the release server's cleanup task while a client reads and switches
/// over HTTP. The sweep's end and length come from the server's log line (`took_ms`).
async fn backlog_swept_while_served(expired: u64, batch: u32) {
    use std::io::BufRead;
    let database = TestDatabase::sqlite().await;
    let addr = load::free_addr();
    let (interval, batch) = (format!("{}s", SERVED_INTERVAL.as_secs()), batch.to_string());
    let mut command = load::switchboard_command(
        addr,
        database.url(),
        true,
        &[
            ("SWITCHBOARD_CLEANUP_INTERVAL", &interval),
            ("SWITCHBOARD_CLEANUP_BATCH", &batch),
            ("SWITCHBOARD_LOG", "error,switchboard_server=info"),
            ("NO_COLOR", "1"),
        ],
    );
    let server_started = Instant::now();
    let mut server = load::Process(command.stdout(std::process::Stdio::piped()).spawn().expect("the release binary"));
    let log = server.0.stdout.take().expect("piped above");
    let (swept_tx, swept) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut swept_tx = Some(swept_tx);
        for line in std::io::BufReader::new(log).lines().map_while(Result::ok) {
            let took = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("took_ms=")?.parse::<u64>().ok());
            if let (Some(took), true) = (took, line.contains("session cleanup")) {
                if let Some(tx) = swept_tx.take() {
                    let _ = tx.send((Instant::now(), Duration::from_millis(took), line));
                }
            }
        }
    });
    load::until_up(addr, "/health/live").await;
    let signed = load::sign_in(addr).await;

    let db = database.connect(&switchboard::PoolSettings::default()).await;
    let user: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = 'bench@example.org'")
        .fetch_one(db.reader())
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    write_backlog(&db, expired, user, now).await;
    db.close().await;
    let idle_from = Instant::now() + Duration::from_secs(1);
    assert!(
        idle_from + Duration::from_secs(3) < server_started + SERVED_INTERVAL,
        "the backlog took too long to write for an idle measure before the sweep: lower SWITCHBOARD_BENCH_EXPIRED"
    );

    let over = Arc::new(AtomicBool::new(false));
    let reads = tokio::spawn(paced(
        addr,
        load::get("/api/session_state", Some(&signed.cookie)),
        Duration::from_millis(1),
        over.clone(),
    ));
    let switches = tokio::spawn(paced(addr, load::switch_request(&signed), Duration::from_millis(10), over.clone()));
    let (ended, took, line) = tokio::time::timeout(SERVED_INTERVAL + Duration::from_secs(300), swept)
        .await
        .expect("the cleanup task swept within its interval and 5 minutes")
        .expect("the server's log");
    over.store(true, Ordering::Relaxed);
    let began = ended - took;
    println!("[cleanup] the server logged: {}", line.trim());
    for (what, samples) in [("reads", reads.await.unwrap()), ("switches", switches.await.unwrap())] {
        let window = |from: Instant, to: Instant| {
            let mut within: Vec<Duration> = samples
                .iter()
                .filter(|(due, _)| (from..to).contains(due))
                .map(|&(_, took)| took)
                .collect();
            within.sort();
            within
        };
        let (idle, during) = (window(idle_from, began), window(began, ended));
        println!("[cleanup] served {what}, idle: {}", percentiles(&idle));
        println!("[cleanup] served {what}, during the sweep: {}", percentiles(&during));
        println!(
            "[cleanup] served {what}: p99 during the sweep / idle: {:.2} (goal ≤ 2)",
            quantile(&during, 0.99).as_secs_f64() / quantile(&idle, 0.99).as_secs_f64()
        );
    }
    drop(server);
}

/// Sends `request` on one keep-alive connection every `every` until `over`; each request's due
/// time and latency. Open loop: a request sent late because the one before was answered late
/// counts from when it was due. One that was waited for counts from when it was sent: the wait's
/// timer fires up to a millisecond late, which is the client's doing, not the server's.
async fn paced(addr: std::net::SocketAddr, request: Arc<Vec<u8>>, every: Duration, over: Arc<AtomicBool>) -> Vec<(Instant, Duration)> {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut buf, mut samples, mut due) = (Vec::new(), Vec::new(), Instant::now());
    while !over.load(Ordering::Relaxed) {
        let sent = if Instant::now() < due {
            tokio::time::sleep_until(due.into()).await;
            Instant::now()
        } else {
            due
        };
        stream.write_all(&request).await.unwrap();
        let status = load::read_response(&mut stream, &mut buf).await.unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&buf));
        samples.push((due, sent.elapsed()));
        due += every;
    }
    samples
}
