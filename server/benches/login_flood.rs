//! A login flood against the release binary: 300 concurrent bad logins, again and again, while
//! signed-in users read `GET /api/session_state`. Prints the answers the flood got, the
//! session_state latency (p50, p99, max) before and during the flood, and the server's peak RSS;
//! once with the default password-hashing bound and once with it lifted, to show what it buys.
//!
//! `make bench` (or `cargo bench -p server --bench login_flood`). Settings for the run:
//! `SWITCHBOARD_BENCH_FLOOD` (concurrent logins, default 300) and `SWITCHBOARD_BENCH_SECONDS`
//! (flood length, default 10).

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const READERS: usize = 8;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(hash_concurrency: Option<&str>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SWITCHBOARD_PROFILE", "test")
            .env("SWITCHBOARD_LOG", "error")
            .env("SWITCHBOARD_BIND", format!("127.0.0.1:{port}"))
            .env("SWITCHBOARD_DATABASE_URL", format!("sqlite://{}/bench.db", dir.path().display()))
            // Every bad login reaches the hasher: the throttles would refuse most of them first.
            .env("SWITCHBOARD_THROTTLE_ENABLED", "false")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(n) = hash_concurrency {
            cmd.env("SWITCHBOARD_SECURITY_HASH_CONCURRENCY", n)
                .env("SWITCHBOARD_SECURITY_HASH_QUEUE", "0");
        }
        let child = cmd.spawn().expect("the release binary");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// Resident memory now and at its peak, in MiB (Linux /proc).
    fn rss_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(0.0, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn csrf(http: &reqwest::Client, base: &str) -> String {
    let v: serde_json::Value = http.get(format!("{base}/api/csrf")).send().await.unwrap().json().await.unwrap();
    v["csrf_token"].as_str().unwrap().to_owned()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    format!(
        "{} reads, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        times.len(),
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    )
}

/// Signed-in readers loop on session_state until `stop`; their latencies.
async fn read_until(base: &str, readers: &[reqwest::Client], stop: Arc<AtomicBool>) -> (Vec<Duration>, usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for http in readers {
        let (http, url, stop) = (http.clone(), format!("{base}/api/session_state"), stop.clone());
        tasks.spawn(async move {
            let (mut times, mut failed) = (Vec::new(), 0);
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                match http.get(&url).send().await {
                    Ok(res) if res.status().is_success() => {
                        let _ = res.bytes().await;
                        times.push(started.elapsed());
                    }
                    _ => failed += 1,
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (times, failed)
        });
    }
    let (mut all, mut failed) = (Vec::new(), 0);
    while let Some(done) = tasks.join_next().await {
        let (times, f) = done.unwrap();
        all.extend(times);
        failed += f;
    }
    (all, failed)
}

async fn run(label: &str, hash_concurrency: Option<&str>, flood: usize, seconds: u64) {
    let server = Server::start(hash_concurrency);
    let base = server.base.clone();
    let probe = client();
    let deadline = Instant::now() + Duration::from_secs(30);
    while probe.get(format!("{base}/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut readers = Vec::new();
    for n in 0..READERS {
        let http = client();
        let token = csrf(&http, &base).await;
        let res = http
            .post(format!("{base}/api/register"))
            .header("X-CSRF-Token", token)
            .form(&[
                ("email", format!("reader{n}@example.org")),
                ("password", "correct horse battery".into()),
                ("display_name", "Reader".into()),
            ])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "sign-up: {}", res.status());
        readers.push(http);
    }

    // Idle baseline.
    let stop = Arc::new(AtomicBool::new(false));
    let idle = tokio::spawn({
        let (base, readers, stop) = (base.clone(), readers.clone(), stop.clone());
        async move { read_until(&base, &readers, stop).await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let (idle_times, _) = idle.await.unwrap();

    let (idle_rss, _) = server.rss_mib();
    // The flood: `flood` attackers, each posting bad logins back to back.
    let attacker = client();
    let token = csrf(&attacker, &base).await;
    let stop = Arc::new(AtomicBool::new(false));
    let reading = tokio::spawn({
        let (base, readers, stop) = (base.clone(), readers.clone(), stop.clone());
        async move { read_until(&base, &readers, stop).await }
    });
    let mut floods = tokio::task::JoinSet::new();
    for n in 0..flood {
        let (http, url, token, stop) = (attacker.clone(), format!("{base}/api/login"), token.clone(), stop.clone());
        floods.spawn(async move {
            let mut counts = std::collections::BTreeMap::<u16, usize>::new();
            while !stop.load(Ordering::Relaxed) {
                let status = match http
                    .post(&url)
                    .header("X-CSRF-Token", &token)
                    .form(&[("email", format!("nobody{n}@example.org")), ("password", "guess".into())])
                    .send()
                    .await
                {
                    Ok(res) => res.status().as_u16(),
                    Err(_) => 0,
                };
                *counts.entry(status).or_default() += 1;
            }
            counts
        });
    }
    let mut peak_rss = 0.0f64;
    let flood_started = Instant::now();
    while flood_started.elapsed() < Duration::from_secs(seconds) {
        peak_rss = peak_rss.max(server.rss_mib().0);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut answers = std::collections::BTreeMap::<u16, usize>::new();
    while let Some(done) = floods.join_next().await {
        for (status, n) in done.unwrap() {
            *answers.entry(status).or_default() += n;
        }
    }
    let (flood_times, failed_reads) = reading.await.unwrap();
    let (_, hwm) = server.rss_mib();
    let total: usize = answers.values().sum();
    println!("\n== {label} ==");
    println!("flood: {flood} concurrent bad logins for {seconds} s: {total} answered, by status {answers:?} (0 = no answer)");
    println!(
        "logins per second: {:.0} checked (401), {:.0} refused busy (503)",
        answers.get(&401).copied().unwrap_or(0) as f64 / seconds as f64,
        answers.get(&503).copied().unwrap_or(0) as f64 / seconds as f64
    );
    println!("session_state idle:   {}", summary(idle_times));
    println!("session_state flood:  {} ({failed_reads} failed)", summary(flood_times));
    println!("server RSS: {idle_rss:.1} MiB before the flood; peak sampled {peak_rss:.1} MiB, high-water mark {hwm:.1} MiB");
}

fn main() {
    let flood = env_number("SWITCHBOARD_BENCH_FLOOD", 300) as usize;
    let seconds = env_number("SWITCHBOARD_BENCH_SECONDS", 10);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        run(
            &format!("bounded hashing (default: {cores} at once, queue {})", 4 * cores),
            None,
            flood,
            seconds,
        )
        .await;
        run("unbounded hashing (1024 at once, for comparison)", Some("1024"), flood, seconds).await;
    });
}
