//! What the benchmarks share: the release server as a process, and load from this process (a
//! small HTTP/1.1 client on keep-alive connections, one request in flight on each, with the
//! cookies real sessions have).

// Each benchmark uses its part of this.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::testing::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// A server process, killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// Peak resident memory in MiB (Linux /proc).
    pub fn peak_rss_mib(&self) -> f64 {
        self.memory_mib("VmHWM:")
    }

    /// Resident memory now, in MiB.
    pub fn rss_mib(&self) -> f64 {
        self.memory_mib("VmRSS:")
    }

    fn memory_mib(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

pub async fn until_up(addr: SocketAddr, path: &str) {
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

pub fn switchboard(addr: SocketAddr, database_url: &str, cache: bool) -> Process {
    switchboard_with(addr, database_url, cache, &[])
}

/// [`switchboard`] with more settings (`SWITCHBOARD_*` variables).
pub fn switchboard_with(addr: SocketAddr, database_url: &str, cache: bool, env: &[(&str, &str)]) -> Process {
    let child = switchboard_command(addr, database_url, cache, env)
        .spawn()
        .expect("the release binary");
    Process(child)
}

/// The command [`switchboard_with`] runs (its log, errors only, discarded; stderr passed
/// through), to change before spawning it.
pub fn switchboard_command(addr: SocketAddr, database_url: &str, cache: bool, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SWITCHBOARD_PROFILE", "test")
        .env("SWITCHBOARD_LOG", "error")
        .env("SWITCHBOARD_BIND", addr.to_string())
        .env("SWITCHBOARD_DATABASE_URL", database_url)
        .env("SWITCHBOARD_CACHE_ENABLED", cache.to_string())
        .env("SWITCHBOARD_POOL_MAX_CONNECTIONS", "16")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    command
}

/// A signed-in client of a Switchboard server.
pub struct Signed {
    /// `name=value` of the session cookie.
    pub cookie: String,
    pub csrf_token: String,
    /// The session's active platform.
    pub platform_id: i64,
}

/// Signs up on a Switchboard server with two platforms.
pub async fn sign_in(addr: SocketAddr) -> Signed {
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
pub fn cookie_set_by(res: &reqwest::Response, prefix: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .find(|c| c.starts_with(prefix))
}

pub fn get(path: &str, cookie: Option<&str>) -> Arc<Vec<u8>> {
    let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
    Arc::new(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}\r\n").into_bytes())
}

/// An unconditional `POST /api/switch_platform` to the signed-in client's active platform (a new
/// version and an audit row each time).
pub fn switch_request(signed: &Signed) -> Arc<Vec<u8>> {
    let body = format!("platform_id={}", signed.platform_id);
    Arc::new(
        format!(
            "POST /api/switch_platform HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {}\r\nX-CSRF-Token: {}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            signed.cookie,
            signed.csrf_token,
            body.len()
        )
        .into_bytes(),
    )
}

/// What one row measured.
pub struct Figures {
    pub ok: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Reads one response (head, then a body by `Content-Length` or chunked); returns its status.
pub async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
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

/// The requests a connection sends, in turn (one, or one per session of a crowd).
pub type Requests = Arc<Vec<Arc<Vec<u8>>>>;

pub fn one(request: Arc<Vec<u8>>) -> Requests {
    Arc::new(vec![request])
}

/// How long a connection sends, and how often.
#[derive(Clone, Copy)]
pub struct Plan {
    pub until: Instant,
    /// Stop once each request was sent once.
    pub once: bool,
    /// Send one request every this long (open loop; latency counts from when it was due), instead
    /// of the next as soon as the last is answered.
    pub every: Option<Duration>,
}

impl Plan {
    pub fn until(until: Instant) -> Self {
        Self {
            until,
            once: false,
            every: None,
        }
    }
}

/// Sends `requests` in turn from the `first`-th (wrapping) on one keep-alive connection, as
/// `plan` says.
pub async fn one_connection(addr: SocketAddr, requests: Requests, first: usize, plan: Plan) -> (Vec<u32>, u64) {
    let (mut latencies, mut errors) = (Vec::new(), 0);
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut stream: Option<TcpStream> = None;
    let mut next = first;
    let paced_from = Instant::now();
    while Instant::now() < plan.until && !(plan.once && next - first == requests.len()) {
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
        let request = &requests[next % requests.len()];
        let started = match plan.every {
            Some(every) => {
                let due = paced_from + every * (next - first) as u32;
                tokio::time::sleep_until(due.into()).await;
                due
            }
            None => Instant::now(),
        };
        next += 1;
        let answered = match s.write_all(request).await {
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

pub async fn drive(addr: SocketAddr, request: Arc<Vec<u8>>, connections: u64, seconds: f64) -> Figures {
    let requests = one(request);
    warm_up(addr, &requests, connections).await;
    measure(addr, requests, connections, seconds).await
}

/// A short warm-up: connections open, caches fill, statements prepared.
pub async fn warm_up(addr: SocketAddr, requests: &Requests, connections: u64) {
    let warm = Instant::now() + Duration::from_millis(300);
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(one_connection(addr, requests.clone(), 0, Plan::until(warm))))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// Each connection starts at its own share of `requests`, so together they go through all of
/// them in turn.
pub async fn measure(addr: SocketAddr, requests: Requests, connections: u64, seconds: f64) -> Figures {
    measure_paced(addr, requests, connections, seconds, None).await
}

/// [`measure`], each connection sending one request `every` so long if given.
pub async fn measure_paced(addr: SocketAddr, requests: Requests, connections: u64, seconds: f64, every: Option<Duration>) -> Figures {
    let started = Instant::now();
    let plan = Plan {
        every,
        ..Plan::until(started + Duration::from_secs_f64(seconds))
    };
    let share = requests.len() / connections as usize;
    let tasks = (0..connections as usize)
        .map(|c| tokio::spawn(one_connection(addr, requests.clone(), c * share, plan)))
        .collect();
    figures(started, tasks).await
}

/// Sends each of `requests` once, split between `connections`.
pub async fn each_once(addr: SocketAddr, requests: &[Arc<Vec<u8>>], connections: u64) -> Figures {
    let started = Instant::now();
    let plan = Plan {
        once: true,
        ..Plan::until(started + Duration::from_secs(600))
    };
    let tasks = requests
        .chunks(requests.len().div_ceil(connections as usize))
        .map(|chunk| tokio::spawn(one_connection(addr, Arc::new(chunk.to_vec()), 0, plan)))
        .collect();
    figures(started, tasks).await
}

pub async fn figures(started: Instant, tasks: Vec<tokio::task::JoinHandle<(Vec<u32>, u64)>>) -> Figures {
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

/// `count` users with one platform and one live session each, written straight into the database
/// (signing up that many through the API would spend minutes hashing passwords). Each was last
/// seen up to `seen_over` ago, evenly spread (zero: all just now). Returns each session's cookie
/// (`name=value`).
pub async fn crowd_of(database: &TestDatabase, count: u64, seen_over: Duration) -> Vec<String> {
    let db = database.connect(&switchboard::PoolSettings::default()).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut tx = db.writer().begin().await.unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO users (email, display_name, password_hash, created_at) \
         SELECT printf('crowd%d@example.org', i), printf('Crowd %d', i), 'never signs in', $2 FROM n",
    )
    .bind(count as i64)
    .bind(now)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO platforms (user_id, kind, label, instance_url, handle, created_at) \
         SELECT id, 'mastodon', 'Home', 'https://mastodon.social', '@crowd', $1 FROM users WHERE email LIKE 'crowd%'",
    )
    .bind(now)
    .execute(&mut *tx)
    .await
    .unwrap();
    let mut cookies = Vec::with_capacity(count as usize);
    for i in 1..=count {
        let token = switchboard::token::SessionToken::generate();
        sqlx::query(
            "INSERT INTO sessions (public_id, token_hash, user_id, active_platform_id, version, created_at, last_seen_at, absolute_expires_at) \
             SELECT $1, $2, u.id, p.id, 1, $3, $3, $4 FROM users u JOIN platforms p ON p.user_id = u.id WHERE u.email = $5",
        )
        .bind(switchboard::token::new_public_id().to_string())
        .bind(token.hash().as_str().to_owned())
        .bind(now - (seen_over.as_millis() as u64 * i / count) as i64)
        .bind(now + 12 * 3_600_000)
        .bind(format!("crowd{i}@example.org"))
        .execute(&mut *tx)
        .await
        .unwrap();
        cookies.push(format!("sb_session={}", token.expose()));
    }
    tx.commit().await.unwrap();
    db.close().await;
    cookies
}

/// The session's version, as `GET /api/session_state` answers it.
pub async fn version(addr: SocketAddr, cookie: &str) -> i64 {
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
