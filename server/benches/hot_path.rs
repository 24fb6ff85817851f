//! The hot path under load: authenticated `GET /api/session_state` against the release binary,
//! on SQLite and PostgreSQL, with the session cache on and off, next to the same server's bare
//! route (`/health/live`, the ceiling) and an axum + tower-sessions 0.14 baseline with its sqlx
//! SQLite store serving the same state (`bench/tower_baseline.rs`). Prints one table and the
//! ratios the goals are written in.
//!
//! Load comes from this process, a small HTTP/1.1 client on keep-alive connections (one request
//! in flight per connection), with the session cookie a real sign-in set.
//!
//! `make bench` (or `cargo bench -p server --features bench-baseline --bench hot_path`).
//! `SWITCHBOARD_BENCH_SECONDS` (per row, default 5), `SWITCHBOARD_BENCH_CONNECTIONS` (default 64),
//! `SWITCHBOARD_BENCH_SMOKE=1` (1 s, 8 connections, SQLite only, and it fails on any error: what
//! CI runs so the benchmark cannot rot). PostgreSQL rows need `SWITCHBOARD_TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`) to be reachable; else they are skipped.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::testing::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// A server process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// Peak resident memory in MiB (Linux /proc).
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

async fn until_up(addr: SocketAddr, path: &str) {
    let started = Instant::now();
    loop {
        if let Ok(res) = reqwest::get(format!("http://{addr}{path}")).await {
            if res.status().is_success() {
                return;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the server at {addr} never came up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn switchboard(addr: SocketAddr, database_url: &str, cache: bool) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SWITCHBOARD_PROFILE", "test")
        .env("SWITCHBOARD_LOG", "error")
        .env("SWITCHBOARD_BIND", addr.to_string())
        .env("SWITCHBOARD_DATABASE_URL", database_url)
        .env("SWITCHBOARD_CACHE_ENABLED", cache.to_string())
        .env("SWITCHBOARD_POOL_MAX_CONNECTIONS", "16")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the release binary");
    Process(child)
}

/// A signed-in client of a Switchboard server.
struct Signed {
    /// `name=value` of the session cookie.
    cookie: String,
    csrf_token: String,
    /// The session's active platform.
    platform_id: i64,
}

/// Signs up on a Switchboard server with two platforms.
async fn sign_in(addr: SocketAddr) -> Signed {
    #[derive(serde::Deserialize)]
    struct Token {
        csrf_token: String,
    }
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let url = |path: &str| format!("http://{addr}{path}");
    let csrf: Token = http.get(url("/api/csrf")).send().await.unwrap().json().await.unwrap();
    let res = http
        .post(url("/api/register"))
        .header("X-CSRF-Token", &csrf.csrf_token)
        .form(&[
            ("email", "bench@example.org"),
            ("password", "a bench password"),
            ("display_name", "Bench"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "register: {}", res.status());
    let cookie = cookie_set_by(&res, "sb_session=").expect("a session cookie");
    let registered: Token = res.json().await.unwrap();
    for label in ["One", "Two"] {
        let res = http
            .post(url("/api/add_platform"))
            .header("X-CSRF-Token", &registered.csrf_token)
            .form(&[
                ("kind", "mastodon"),
                ("label", label),
                ("instance_url", "https://mastodon.social"),
                ("handle", "@me"),
            ])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "add_platform: {}", res.status());
    }
    let state: serde_json::Value = http.get(url("/api/session_state")).send().await.unwrap().json().await.unwrap();
    Signed {
        cookie,
        csrf_token: state["csrf_token"].as_str().expect("a CSRF token").to_owned(),
        platform_id: state["platform"]["id"].as_i64().expect("an active platform"),
    }
}

/// The `name=value` of the first cookie the answer sets whose text starts with `prefix`.
fn cookie_set_by(res: &reqwest::Response, prefix: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .find(|c| c.starts_with(prefix))
}

fn get(path: &str, cookie: Option<&str>) -> Arc<Vec<u8>> {
    let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
    Arc::new(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}\r\n").into_bytes())
}

/// What one row measured.
struct Figures {
    ok: u64,
    errors: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Reads one response (head, then a body by `Content-Length` or chunked); returns its status.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    match length {
        Some(length) => {
            while buf.len() < head_end + length {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
        None => {
            while !buf.ends_with(b"0\r\n\r\n") {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
    Ok(status)
}

async fn one_connection(addr: SocketAddr, request: Arc<Vec<u8>>, until: Instant) -> (Vec<u32>, u64) {
    let (mut latencies, mut errors) = (Vec::new(), 0);
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut stream: Option<TcpStream> = None;
    while Instant::now() < until {
        if stream.is_none() {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(_) => {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let s = stream.as_mut().expect("connected above");
        let started = Instant::now();
        let answered = match s.write_all(&request).await {
            Ok(()) => read_response(s, &mut buf).await,
            Err(e) => Err(e),
        };
        match answered {
            Ok(200) => latencies.push(started.elapsed().as_micros() as u32),
            Ok(_) => errors += 1,
            Err(_) => {
                errors += 1;
                stream = None;
            }
        }
    }
    (latencies, errors)
}

async fn drive(addr: SocketAddr, request: Arc<Vec<u8>>, connections: u64, seconds: f64) -> Figures {
    warm_up(addr, &request, connections).await;
    measure(addr, request, connections, seconds).await
}

/// A short warm-up: connections open, caches fill, statements prepared.
async fn warm_up(addr: SocketAddr, request: &Arc<Vec<u8>>, connections: u64) {
    let warm = Instant::now() + Duration::from_millis(300);
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(one_connection(addr, request.clone(), warm)))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

async fn measure(addr: SocketAddr, request: Arc<Vec<u8>>, connections: u64, seconds: f64) -> Figures {
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(one_connection(addr, request.clone(), until)))
        .collect();
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (latencies, e) = t.await.unwrap();
        all.extend(latencies);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    Figures {
        ok: all.len() as u64,
        errors,
        per_second: all.len() as f64 / elapsed,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}

/// `connections` clients switching one session's platform at once (unconditional switches, each
/// a new version and an audit row), for `seconds`. Also counts lost updates: switches answered
/// `200` that the session's version does not show.
async fn switch_storm(addr: SocketAddr, signed: &Signed, connections: u64, seconds: f64) -> (Figures, i64) {
    let body = format!("platform_id={}", signed.platform_id);
    let request = Arc::new(
        format!(
            "POST /api/switch_platform HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {}\r\nX-CSRF-Token: {}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            signed.cookie,
            signed.csrf_token,
            body.len()
        )
        .into_bytes(),
    );
    warm_up(addr, &request, connections).await;
    let before = version(addr, &signed.cookie).await;
    let figures = measure(addr, request, connections, seconds).await;
    let after = version(addr, &signed.cookie).await;
    let lost = figures.ok as i64 - (after - before);
    (figures, lost)
}

/// The session's version, as `GET /api/session_state` answers it.
async fn version(addr: SocketAddr, cookie: &str) -> i64 {
    let state: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{addr}/api/session_state"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    state["session"]["version"].as_i64().expect("a session version")
}

fn postgres_reachable() -> Option<String> {
    let url = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let host = url.split('@').nth(1)?.split('/').next()?.to_owned();
    let addr = if host.contains(':') { host } else { format!("{host}:5432") };
    let addr: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(&addr).ok()?.next()?;
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .ok()
        .map(|_| url)
}

struct Row {
    name: String,
    figures: Figures,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let smoke = std::env::var("SWITCHBOARD_BENCH_SMOKE").is_ok_and(|v| v == "1");
    let (seconds, connections) = if smoke {
        (1.0, 8)
    } else {
        (
            env_number("SWITCHBOARD_BENCH_SECONDS", 5) as f64,
            env_number("SWITCHBOARD_BENCH_CONNECTIONS", 64),
        )
    };
    println!(
        "[hot_path] {connections} connections, {seconds} s a row, release builds, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut rows = Vec::new();
    let mut switches = Vec::new();
    let mut peak_rss = Vec::new();

    let mut backends = vec![("sqlite", TestDatabase::sqlite().await)];
    if !smoke {
        match postgres_reachable() {
            Some(url) => {
                std::env::set_var("SWITCHBOARD_TEST_POSTGRES_URL", url);
                backends.push(("postgres", TestDatabase::postgres_database().await));
            }
            None => println!("[hot_path] PostgreSQL is not reachable: its rows are skipped"),
        }
    }
    for (backend, database) in &backends {
        for cache in [true, false] {
            if smoke && !cache {
                continue;
            }
            let addr = free_addr();
            let server = switchboard(addr, database.url(), cache);
            until_up(addr, "/health/live").await;
            // Each server signs up its own user (a fresh sign-in each time).
            let signed = sign_in(addr).await;
            let name = format!("Switchboard, {backend}, cache {}", if cache { "on" } else { "off" });
            let figures = drive(addr, get("/api/session_state", Some(&signed.cookie)), connections, seconds).await;
            rows.push(Row { name, figures });
            if cache {
                let (figures, lost) = switch_storm(addr, &signed, connections, seconds).await;
                println!("[hot_path] {backend}: {connections} concurrent switches of one session: {lost} lost updates");
                assert_eq!(lost, 0, "every acknowledged switch is a version");
                switches.push(Row {
                    name: format!("`POST /api/switch_platform`, {backend}, {connections} at once on one session"),
                    figures,
                });
            }
            if *backend == "sqlite" && cache {
                let figures = drive(addr, get("/health/live", None), connections, seconds).await;
                rows.push(Row {
                    name: "Switchboard, bare route (/health/live)".into(),
                    figures,
                });
            }
            peak_rss.push((
                format!("{backend}, cache {}", if cache { "on" } else { "off" }),
                server.peak_rss_mib(),
            ));
            drop(server);
            // The next server on this database signs up the same email: start over.
            reset(database).await;
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let baseline = Process(
        Command::new(env!("CARGO_BIN_EXE_tower-baseline"))
            .arg(addr.to_string())
            .arg(dir.path().join("tower.db"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the baseline binary"),
    );
    until_up(addr, "/bare").await;
    let res = reqwest::Client::new().post(format!("http://{addr}/login")).send().await.unwrap();
    let cookie = cookie_set_by(&res, "").expect("tower-sessions sets its cookie");
    let figures = drive(addr, get("/api/session_state", Some(&cookie)), connections, seconds).await;
    rows.push(Row {
        name: "axum + tower-sessions 0.14, sqlx SQLite store".into(),
        figures,
    });
    let figures = drive(addr, get("/bare", None), connections, seconds).await;
    rows.push(Row {
        name: "axum + tower-sessions, bare route".into(),
        figures,
    });
    drop(baseline);

    print_table("authenticated `GET /api/session_state` | req/s", &rows);
    print_table("switching (goal: p99 ≤ 20 ms, no errors, no lost update) | switches/s", &switches);
    let rate = |name: &str| rows.iter().find(|r| r.name == name).map(|r| r.figures.per_second);
    let tower = rate("axum + tower-sessions 0.14, sqlx SQLite store");
    let bare = rate("Switchboard, bare route (/health/live)");
    println!();
    for (name, against, label) in [
        ("Switchboard, sqlite, cache on", tower, "× tower-sessions (goal ≥ 2)"),
        ("Switchboard, sqlite, cache on", bare, "× the bare route (goal ≥ 0.5)"),
        ("Switchboard, postgres, cache on", tower, "× tower-sessions (goal ≥ 1)"),
    ] {
        if let (Some(ours), Some(theirs)) = (rate(name), against) {
            println!("[hot_path] {name}: {:.2} {label}", ours / theirs);
        }
    }
    for (server, rss) in peak_rss {
        println!("[hot_path] peak RSS of the server ({server}): {rss:.1} MiB");
    }
    if smoke {
        for row in rows.iter().chain(&switches) {
            assert!(row.figures.ok > 0, "{}: no request succeeded", row.name);
            assert_eq!(row.figures.errors, 0, "{}: errors", row.name);
        }
    }
}

/// One Markdown table: `head` names the first two columns.
fn print_table(head: &str, rows: &[Row]) {
    println!();
    println!("| {head} | p50 ms | p99 ms | errors |");
    println!("| --- | --- | --- | --- | --- |");
    for row in rows {
        let f = &row.figures;
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {} |",
            row.name, f.per_second, f.p50_ms, f.p99_ms, f.errors
        );
    }
}

/// Empties the accounts a row created, so the next server can sign up again.
async fn reset(database: &TestDatabase) {
    let db = database.connect(&switchboard::PoolSettings::default()).await;
    for table in ["audit_events", "alerts", "drafts", "sessions", "platforms", "users"] {
        let _ = sqlx::query(&format!("DELETE FROM {table}")).execute(db.writer()).await;
    }
    db.close().await;
}
