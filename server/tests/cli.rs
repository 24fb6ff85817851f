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

/// `switchboard serve` in the test profile on a SQLite file in `dir`, with this shutdown grace;
/// its output goes to `output` (both streams).
fn serve(port: u16, dir: &std::path::Path, grace: &str, output: fn() -> Stdio) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SWITCHBOARD_PROFILE", "test")
        .env("SWITCHBOARD_BIND", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_DATABASE_URL", format!("sqlite://{}/sb.db", dir.display()))
        .env("SWITCHBOARD_SHUTDOWN_GRACE", grace)
        .stdout(output())
        .stderr(output())
        .spawn()
        .unwrap()
}

/// [`serve`] (output dropped), once `/health` answers; returns the server and its base URL.
async fn serving(dir: &std::path::Path, grace: &str) -> (std::process::Child, String) {
    use std::time::{Duration, Instant};
    let port = free_port();
    let child = serve(port, dir, grace, Stdio::null);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !tokio::task::spawn_blocking(move || healthy(port)).await.unwrap() {
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (child, format!("http://127.0.0.1:{port}"))
}

/// Signs up `email` through `http` (which keeps the cookies); returns the session's CSRF token.
async fn sign_up(http: &reqwest::Client, base: &str, email: &str) -> String {
    let csrf: serde_json::Value = http.get(format!("{base}/api/csrf")).send().await.unwrap().json().await.unwrap();
    let registered = http
        .post(format!("{base}/api/register"))
        .header("X-CSRF-Token", csrf["csrf_token"].as_str().unwrap())
        .form(&[("email", email), ("password", "a long enough password"), ("display_name", "Tester")])
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success(), "register: {}", registered.status());
    let registered: serde_json::Value = registered.json().await.unwrap();
    registered["csrf_token"].as_str().unwrap().to_owned()
}

#[test]
fn sigterm_and_ctrl_c_stop_the_server_cleanly() {
    use std::time::{Duration, Instant};
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut child = serve(port, dir.path(), "3s", Stdio::piped);
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
    let (mut child, base) = serving(dir.path(), "60s").await;
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
    use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = serving(dir.path(), "3s").await;
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let token = sign_up(&http, &base, "kill@example.org").await;
    let added = http
        .post(format!("{base}/api/add_platform"))
        .header("X-CSRF-Token", &token)
        .form(&[
            ("kind", "mastodon"),
            ("label", "One"),
            ("instance_url", "https://mastodon.social"),
            ("handle", "@me"),
        ])
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success());
    let state: serde_json::Value = http
        .get(format!("{base}/api/session_state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let platform = state["platform"]["id"].as_i64().unwrap().to_string();

    // 16 clients switch as fast as they can; each remembers the highest version answered.
    let (acknowledged, highest) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicI64::new(0)));
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (http, base, token, platform) = (http.clone(), base.clone(), token.clone(), platform.clone());
            let (acknowledged, highest) = (acknowledged.clone(), highest.clone());
            tokio::spawn(async move {
                loop {
                    let answer = http
                        .post(format!("{base}/api/switch_platform"))
                        .header("X-CSRF-Token", &token)
                        .form(&[("platform_id", platform.as_str())])
                        .send()
                        .await;
                    let Ok(answer) = answer else { return };
                    if answer.status() != 200 {
                        return;
                    }
                    let Ok(state) = answer.json::<serde_json::Value>().await else {
                        return;
                    };
                    acknowledged.fetch_add(1, SeqCst);
                    highest.fetch_max(state["session"]["version"].as_i64().unwrap(), SeqCst);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for client in clients {
        client.await.unwrap();
    }
    let (acknowledged, highest) = (acknowledged.load(SeqCst), highest.load(SeqCst));
    assert!(acknowledged > 50, "the switches were under way: {acknowledged}");

    // What the file says after the crash (opening it recovers the WAL).
    let db = switchboard::Db::connect(
        &format!("sqlite://{}/sb.db", dir.path().display()),
        &switchboard::PoolSettings::default(),
    )
    .await
    .unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT MAX(version) FROM sessions")
        .fetch_one(db.reader())
        .await
        .unwrap();
    let recorded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'platform_switched'")
        .fetch_one(db.reader())
        .await
        .unwrap();
    println!("[figures] kill -9 after {acknowledged} acknowledged switches: version {stored} stored, {highest} answered");
    assert!(
        stored >= highest,
        "an answered version was lost: stored {stored}, answered {highest}"
    );
    assert!(
        recorded as u64 >= acknowledged,
        "an answered switch's audit row was lost: {recorded} < {acknowledged}"
    );
}
