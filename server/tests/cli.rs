//! The `switchboard` binary's subcommands, run as a user would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn switchboard(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn config_check_prints_settings_with_secrets_masked() {
    let out = switchboard(
        &["config", "check"],
        &[
            ("SWITCHBOARD_DATABASE_URL", "postgres://app:hunter2@db/sb"),
            ("SWITCHBOARD_IDLE_TIMEOUT", "20m"),
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("idle_timeout = \"20m\""), "{stdout}");
    assert!(stdout.contains("postgres://app:****@db/sb"), "{stdout}");
    assert!(!stdout.contains("hunter2"));
}

#[test]
fn bad_settings_stop_with_the_key_named() {
    let out = switchboard(&["config", "check"], &[("SWITCHBOARD_ABSOLUTE_LIFETIME", "forever")], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("absolute_lifetime"), "{}", text(&out.stderr));
    let out = switchboard(
        &["config", "check"],
        &[("SWITCHBOARD_PROFILE", "prod"), ("SWITCHBOARD_COOKIE_SECURE", "false")],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cookie_secure"), "{}", text(&out.stderr));
    let out = switchboard(&["serve"], &[("SWITCHBOARD_PROFILE", "staging")], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("profile"));
}

#[test]
fn migrate_and_add_users() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/nested/sb.db", dir.path().display());
    let env = [("SWITCHBOARD_DATABASE_URL", url.as_str()), ("SWITCHBOARD_PROFILE", "test")];
    let out = switchboard(&["migrate"], &env, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("nested/sb.db").exists());

    let out = switchboard(
        &["user", "add", "--email", "Root@Example.org", "--admin"],
        &env,
        "a long admin password\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("created root@example.org"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("as administrator"), "{}", text(&out.stdout));

    let out = switchboard(&["user", "add", "--email", "ann@example.org"], &env, "a long user password\n");
    assert!(
        out.status.success() && !text(&out.stdout).contains("administrator"),
        "{}",
        text(&out.stdout)
    );
    let out = switchboard(&["user", "admin", "ann@example.org", "--grant"], &env, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("is now an administrator"), "{}", text(&out.stdout));
    let out = switchboard(&["user", "admin", "ANN@example.org", "--revoke"], &env, "");
    assert!(text(&out.stdout).contains("is no longer an administrator"), "{}", text(&out.stdout));
    let out = switchboard(&["user", "admin", "nobody@example.org", "--grant"], &env, "");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no account with the email nobody@example.org"),
        "{}",
        text(&out.stderr)
    );
    let out = switchboard(&["user", "admin", "ann@example.org"], &env, "");
    assert_eq!(out.status.code(), Some(2), "--grant or --revoke is required");

    let again = switchboard(&["user", "add", "--email", "root@example.org"], &env, "another long password\n");
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already exists"), "{}", text(&again.stderr));

    let short = switchboard(&["user", "add", "--email", "x@example.org"], &env, "short\n");
    assert!(!short.status.success());
    assert!(text(&short.stderr).contains("password"), "{}", text(&short.stderr));
}

/// A free port on loopback (bound, read, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether `GET /health` answers 200 on `port`.
fn healthy(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    if stream.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")
}

/// The URL of a SQLite file in `dir`.
fn sqlite_in(dir: &std::path::Path) -> String {
    format!("sqlite://{}/sb.db", dir.display())
}

/// `switchboard serve` in the test profile on `database`, with this shutdown grace; its output
/// goes to `output` (both streams).
fn serve(port: u16, database: &str, grace: &str, output: fn() -> Stdio) -> std::process::Child {
    serve_with(port, database, grace, output, &[])
}

/// [`serve`] with more settings (`SWITCHBOARD_*` variables).
fn serve_with(port: u16, database: &str, grace: &str, output: fn() -> Stdio, env: &[(&str, &str)]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SWITCHBOARD_PROFILE", "test")
        .env("SWITCHBOARD_BIND", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_DATABASE_URL", database)
        .env("SWITCHBOARD_SHUTDOWN_GRACE", grace)
        .envs(env.iter().copied())
        .stdout(output())
        .stderr(output())
        .spawn()
        .unwrap()
}

/// [`serve`] (output dropped), once `/health` answers; returns the server and its base URL.
async fn serving(database: &str, grace: &str) -> (std::process::Child, String) {
    serving_with(database, grace, &[]).await
}

/// [`serving`] with more settings (`SWITCHBOARD_*` variables).
async fn serving_with(database: &str, grace: &str, env: &[(&str, &str)]) -> (std::process::Child, String) {
    use std::time::{Duration, Instant};
    let port = free_port();
    let child = serve_with(port, database, grace, Stdio::null, env);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !tokio::task::spawn_blocking(move || healthy(port)).await.unwrap() {
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (child, format!("http://127.0.0.1:{port}"))
}

/// Signs up `email` through `http` (which keeps the cookies); returns the session's CSRF token.
async fn sign_up(http: &reqwest::Client, base: &str, email: &str) -> String {
    let registered: serde_json::Value = register(http, base, email).await.json().await.unwrap();
    registered["csrf_token"].as_str().unwrap().to_owned()
}

/// The answer to signing up `email` through `http` (which keeps the cookies).
async fn register(http: &reqwest::Client, base: &str, email: &str) -> reqwest::Response {
    let csrf: serde_json::Value = http.get(format!("{base}/api/csrf")).send().await.unwrap().json().await.unwrap();
    let registered = http
        .post(format!("{base}/api/register"))
        .header("X-CSRF-Token", csrf["csrf_token"].as_str().unwrap())
        .form(&[("email", email), ("password", "a long enough password"), ("display_name", "Tester")])
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success(), "register: {}", registered.status());
    registered
}

/// `log_format = "json"`: one JSON object a line, and a session operation's line names its
/// request (the id its answer carried in `X-Request-Id`, the method and path) and the session
/// by its public id; no line holds the session's token.
#[tokio::test]
async fn json_logs_name_the_request_and_never_the_token() {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve_with(
        port,
        &sqlite_in(dir.path()),
        "1s",
        Stdio::piped,
        &[("SWITCHBOARD_LOG_FORMAT", "json")],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !tokio::task::spawn_blocking(move || healthy(port)).await.unwrap() {
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let registered = register(&http, &base, "logged@example.org").await;
    let token_of = |res: &reqwest::Response| {
        res.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|c| c.to_str().ok()?.split(';').next()?.strip_prefix("sb_session=").map(str::to_owned))
            .next()
            .expect("a session cookie")
    };
    let id_of = |res: &reqwest::Response| res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (registered_id, token) = (id_of(&registered), token_of(&registered));
    let registered: serde_json::Value = registered.json().await.unwrap();
    let registered_session = current_session(&http, &base).await;
    // Signing in again from that session: the request's span names the session it came from.
    let login = http
        .post(format!("{base}/api/login"))
        .header("X-CSRF-Token", registered["csrf_token"].as_str().unwrap())
        .form(&[("email", "logged@example.org"), ("password", "a long enough password")])
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success(), "login: {}", login.status());
    let (login_id, new_token) = (id_of(&login), token_of(&login));
    let new_session = current_session(&http, &base).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut log = String::new();
    child.stdout.take().unwrap().read_to_string(&mut log).unwrap();

    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect();
    let line = |message: &str| {
        lines
            .iter()
            .find(|l| l["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} line in {log}"))
    };
    // The spans a line happened in, outermost first: the request's.
    let request = |line: &serde_json::Value| line["spans"][0].clone();
    let created = line("account created");
    assert_eq!(request(created)["name"], "request", "{created}");
    assert_eq!(request(created)["id"], registered_id.as_str(), "{created}");
    assert_eq!(request(created)["method"], "POST");
    assert_eq!(request(created)["path"], "/api/register");
    let login_line = line("signed in");
    assert_eq!(request(login_line)["id"], login_id.as_str(), "{login_line}");
    assert_eq!(request(login_line)["session"], registered_session, "{login_line}");
    assert_eq!(login_line["fields"]["session"], new_session, "{login_line}");
    assert!(!log.contains(&token), "the first session's token is in the log");
    assert!(!log.contains(&new_token), "the new session's token is in the log");
}

/// The public id of the session `http` is signed in to (`GET /api/sessions`, the current one).
async fn current_session(http: &reqwest::Client, base: &str) -> serde_json::Value {
    let sessions: Vec<serde_json::Value> = http.get(format!("{base}/api/sessions")).send().await.unwrap().json().await.unwrap();
    let current = sessions.into_iter().find(|s| s["current"] == true).expect("the current session");
    current["public_id"].clone()
}

#[test]
fn sigterm_and_ctrl_c_stop_the_server_cleanly() {
    use std::time::{Duration, Instant};
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut child = serve(port, &sqlite_in(dir.path()), "3s", Stdio::piped);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !healthy(port) {
            assert!(Instant::now() < deadline, "the server did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        // A client holding an idle connection does not keep the server from stopping.
        let _idle = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let sent = Instant::now();
        let killed = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break (status, child.wait_with_output().unwrap());
            }
            assert!(sent.elapsed() < Duration::from_secs(15), "SIG{signal}: the server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        };
        let (status, output) = out;
        let log = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(status.success(), "SIG{signal}: exit {status}: {log}");
        assert!(sent.elapsed() < Duration::from_secs(8), "SIG{signal}: within the grace period");
        assert!(log.contains("shutting down") && log.contains("stopped"), "SIG{signal}: {log}");
        assert!(!healthy(port), "no longer listening");
    }
}

/// A browser holding the push stream (`GET /api/session_events`) does not hold up a stop: the
/// stream ends when the server begins to stop, well within a long grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_stream_does_not_hold_up_a_stop() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = serving(&sqlite_in(dir.path()), "60s").await;
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    sign_up(&http, &base, "stop@example.org").await;
    let mut stream = http.get(format!("{base}/api/session_events")).send().await.unwrap();
    assert_eq!(stream.status(), 200);

    let sent = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    // The stream ends (the server closed it), and the process exits.
    let ended = tokio::time::timeout(Duration::from_secs(10), async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(ended.is_ok(), "the stream is still open {:?} after SIGTERM", sent.elapsed());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(sent.elapsed() < Duration::from_secs(10), "the server waits out its grace period");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success());
    println!("[figures] stopped with a push stream open after {:?}", sent.elapsed());
}

/// kill -9 in the middle of concurrent platform switches (SQLite, group commit): every switch the
/// server answered `200` is in the database afterwards. Group commit answers a batch only after
/// its `COMMIT`; answering before it would lose the switches acknowledged in the last batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_under_concurrent_switches_loses_no_acknowledged_switch() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = serving(&sqlite_in(dir.path()), "3s").await;
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let token = sign_up(&http, &base, "kill@example.org").await;
    let platform = add_platform(&http, &base, &token).await;
    let switching = Switching::start(&http, &base, &token, &platform, 16);
    tokio::time::sleep(Duration::from_millis(700)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (acknowledged, highest, errors) = switching.finish().await;
    assert!(acknowledged > 50, "the switches were under way: {acknowledged}");
    assert!(errors > 0, "the clients saw the server go");

    // What the file says after the crash (opening it recovers the WAL).
    let db = switchboard::Db::connect(&sqlite_in(dir.path()), &switchboard::PoolSettings::default())
        .await
        .unwrap();
    let (stored, recorded) = stored_switches(&db, "kill@example.org").await;
    println!("[figures] kill -9 after {acknowledged} acknowledged switches: version {stored} stored, {highest} answered");
    assert!(
        stored >= highest,
        "an answered version was lost: stored {stored}, answered {highest}"
    );
    assert!(
        recorded >= acknowledged,
        "an answered switch's audit row was lost: {recorded} < {acknowledged}"
    );
}

/// Two instances on one PostgreSQL database, each serving its own clients' platform switches;
/// one is killed (SIGKILL). The other's clients see nothing of it (every answer `200`), every
/// switch the killed instance answered is in the database, and its users go on at the other
/// instance with the cookie they have (no sticky sessions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_kill_9_of_one_instance_reaches_no_client_of_the_other() {
    use std::time::Duration;
    let database = switchboard::testing::TestDatabase::postgres_database().await;
    let (mut killed, base_a) = serving(database.url(), "3s").await;
    let (mut other, base_b) = serving(database.url(), "3s").await;
    let (at_a, at_b) = (
        reqwest::Client::builder().cookie_store(true).build().unwrap(),
        reqwest::Client::builder().cookie_store(true).build().unwrap(),
    );
    let token_a = sign_up(&at_a, &base_a, "at-a@example.org").await;
    let platform_a = add_platform(&at_a, &base_a, &token_a).await;
    let token_b = sign_up(&at_b, &base_b, "at-b@example.org").await;
    let platform_b = add_platform(&at_b, &base_b, &token_b).await;
    let on_a = Switching::start(&at_a, &base_a, &token_a, &platform_a, 6);
    let on_b = Switching::start(&at_b, &base_b, &token_b, &platform_b, 6);

    tokio::time::sleep(Duration::from_millis(700)).await;
    killed.kill().unwrap(); // SIGKILL
    killed.wait().unwrap();
    let (acknowledged_a, highest_a, _) = on_a.finish().await;
    // The other instance keeps serving its clients for a while after the crash.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (acknowledged_b, _, errors_b) = on_b.finish().await;
    assert_eq!(errors_b, 0, "a client of the other instance saw the crash");
    assert!(
        acknowledged_a > 20 && acknowledged_b > 20,
        "both were busy: {acknowledged_a}, {acknowledged_b}"
    );

    let db = switchboard::Db::connect(database.url(), &switchboard::PoolSettings::default())
        .await
        .unwrap();
    let (stored, recorded) = stored_switches(&db, "at-a@example.org").await;
    println!(
        "[figures] kill -9 of one of two instances: {acknowledged_a} switches answered by it (version {highest_a}), \
         version {stored} stored; {acknowledged_b} answered by the other, 0 errors"
    );
    assert!(
        stored >= highest_a,
        "an answered version was lost: stored {stored}, answered {highest_a}"
    );
    assert!(recorded >= acknowledged_a, "an answered switch's audit row was lost");

    // The killed instance's user, with the cookie it had, at the other instance.
    let moved = at_a
        .post(format!("{base_b}/api/switch_platform"))
        .header("X-CSRF-Token", &token_a)
        .form(&[("platform_id", platform_a.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200, "the other instance serves the same session");
    let moved: serde_json::Value = moved.json().await.unwrap();
    assert_eq!(moved["session"]["version"].as_i64(), Some(stored + 1));
    other.kill().unwrap();
    other.wait().unwrap();
}

/// Adds a platform for the signed-in client; returns its id.
async fn add_platform(http: &reqwest::Client, base: &str, token: &str) -> String {
    let added = http
        .post(format!("{base}/api/add_platform"))
        .header("X-CSRF-Token", token)
        .form(&[
            ("kind", "mastodon"),
            ("label", "One"),
            ("instance_url", "https://mastodon.social"),
            ("handle", "@me"),
        ])
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success(), "add_platform: {}", added.status());
    let state: serde_json::Value = http
        .get(format!("{base}/api/session_state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    state["platform"]["id"].as_i64().unwrap().to_string()
}

/// Clients switching one session's platform as fast as they can, counting what was answered.
struct Switching {
    acknowledged: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The highest session version an answer carried.
    highest: std::sync::Arc<std::sync::atomic::AtomicI64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<u64>>,
}

impl Switching {
    /// `count` clients sharing `http`'s session; each stops at its first failed answer.
    fn start(http: &reqwest::Client, base: &str, token: &str, platform: &str, count: usize) -> Self {
        use std::sync::atomic::Ordering::SeqCst;
        let mut this = Self {
            acknowledged: Default::default(),
            highest: Default::default(),
            stop: Default::default(),
            clients: Vec::new(),
        };
        this.clients = (0..count)
            .map(|_| {
                let (http, url, token, platform) = (
                    http.clone(),
                    format!("{base}/api/switch_platform"),
                    token.to_owned(),
                    platform.to_owned(),
                );
                let (acknowledged, highest, stop) = (this.acknowledged.clone(), this.highest.clone(), this.stop.clone());
                tokio::spawn(async move {
                    while !stop.load(SeqCst) {
                        let answer = http
                            .post(&url)
                            .header("X-CSRF-Token", &token)
                            .form(&[("platform_id", platform.as_str())])
                            .send()
                            .await;
                        let Ok(answer) = answer.and_then(|a| a.error_for_status()) else {
                            return 1;
                        };
                        let Ok(state) = answer.json::<serde_json::Value>().await else {
                            return 1;
                        };
                        acknowledged.fetch_add(1, SeqCst);
                        highest.fetch_max(state["session"]["version"].as_i64().unwrap(), SeqCst);
                    }
                    0
                })
            })
            .collect();
        this
    }

    /// Stops the clients; returns the switches answered, the highest version answered, and how
    /// many clients stopped at a failure.
    async fn finish(self) -> (u64, i64, u64) {
        use std::sync::atomic::Ordering::SeqCst;
        self.stop.store(true, SeqCst);
        let mut errors = 0;
        for client in self.clients {
            errors += client.await.unwrap();
        }
        (self.acknowledged.load(SeqCst), self.highest.load(SeqCst), errors)
    }
}

/// The stored version of `email`'s newest session, and how many switches its audit log holds.
async fn stored_switches(db: &switchboard::Db, email: &str) -> (i64, u64) {
    let stored: i64 = sqlx::query_scalar("SELECT MAX(s.version) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1")
        .bind(email)
        .fetch_one(db.reader())
        .await
        .unwrap();
    let recorded: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events a JOIN users u ON u.id = a.subject_user_id \
         WHERE u.email = $1 AND a.kind = 'platform_switched'",
    )
    .bind(email)
    .fetch_one(db.reader())
    .await
    .unwrap();
    (stored, recorded as u64)
}

/// `switchboard maintenance`, beside a running server: `stats` counts the live sessions,
/// `cleanup` ends the ones that went idle, `optimize` runs, and a database that cannot be reached
/// is a clear error with a non-zero exit.
#[tokio::test]
async fn maintenance_counts_cleans_up_and_optimizes() {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite_in(dir.path());
    // Sessions that go idle after two seconds, for the server and the command alike.
    let short = [
        ("SWITCHBOARD_PROFILE", "test"),
        ("SWITCHBOARD_DATABASE_URL", database.as_str()),
        ("SWITCHBOARD_IDLE_TIMEOUT", "2s"),
        ("SWITCHBOARD_TOUCH_INTERVAL", "1s"),
        ("SWITCHBOARD_IDLE_WARNING", "1s"),
    ];
    let (mut server, base) = serving_with(&database, "1s", &short[2..]).await;
    for email in ["mae@example.org", "ned@example.org"] {
        let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
        register(&http, &base, email).await;
    }
    let maintenance = |args: &[&str]| {
        let mut all = vec!["maintenance"];
        all.extend_from_slice(args);
        let out = switchboard(&all, &short, "");
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let stats: serde_json::Value = serde_json::from_str(&maintenance(&["stats", "--json"])).unwrap();
    assert_eq!(stats["live"], 2, "{stats}");
    assert_eq!(stats["by_platform"], serde_json::json!([["none", 2]]));
    assert_eq!(stats["top_users"].as_array().unwrap().len(), 2, "{stats}");
    assert!(maintenance(&["stats"]).contains("live sessions: 2"));

    std::thread::sleep(std::time::Duration::from_millis(2500));
    let cleaned = maintenance(&["cleanup"]);
    assert!(
        cleaned.starts_with("2 sessions ended as expired, 0 ended sessions deleted"),
        "{cleaned}"
    );
    let stats: serde_json::Value = serde_json::from_str(&maintenance(&["stats", "--json"])).unwrap();
    assert_eq!((stats["live"].as_u64(), stats["ended"].as_u64()), (Some(0), Some(2)), "{stats}");
    assert_eq!(stats["lengths"][0], serde_json::json!(["under 5 minutes", 2]));
    let optimized = maintenance(&["optimize", "--vacuum"]);
    assert!(
        optimized.contains("ran PRAGMA optimize") && optimized.contains("ran VACUUM"),
        "{optimized}"
    );
    // The server went on serving through all of it.
    assert!(
        tokio::task::spawn_blocking(move || healthy(base.trim_start_matches("http://127.0.0.1:").parse().unwrap()))
            .await
            .unwrap()
    );
    server.kill().unwrap();
    server.wait().unwrap();

    let out = switchboard(
        &["maintenance", "stats"],
        &[("SWITCHBOARD_DATABASE_URL", "postgres://postgres@127.0.0.1:1/nowhere")],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot reach the database postgres://postgres@127.0.0.1:1/nowhere"),
        "{}",
        text(&out.stderr)
    );
    let out = switchboard(&["maintenance", "stats", "--top", "0"], &short, "");
    assert_eq!(out.status.code(), Some(2), "a bad argument is a usage error");
}
