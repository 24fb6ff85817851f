//! Proof from the real thing: what the database stores, what a prod server's cookies say, what
//! the log says during a whole flow, and that every mutating endpoint of the registry refuses a
//! GET and a cross-site or tokenless request (a loop over the registry, not a sample).

use crate::support::{assert_error, ok, spawn_app, spawn_app_as, PASSWORD};
use app::error::{ApiError, ErrorCode};
use app::models::SessionState;
use app::registry::endpoints;
use http::Method;
use reqwest::{Response, StatusCode};
use std::collections::BTreeSet;
use switchboard::testing::TestDatabase;
use switchboard_server::config::Profile;

/// The `name=value` of each `Set-Cookie` of `res`, with its attributes.
fn set_cookies(res: &Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn cookie_value(set_cookie: &str) -> (&str, &str) {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap()
}

async fn the_token_column_holds_only_hashes(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut tokens = Vec::new();
    for n in 0..3 {
        let b = app.browser().await;
        let res = b
            .post(
                "/api/register",
                &[
                    ("email", &format!("hash{n}@example.org")),
                    ("password", PASSWORD),
                    ("display_name", "H"),
                ],
            )
            .await;
        let cookie = set_cookies(&res)
            .into_iter()
            .find(|c| c.starts_with("sb_session="))
            .expect("a session cookie");
        tokens.push(cookie_value(&cookie).1.to_owned());
        ok::<SessionState>(res).await;
    }
    let pool = app.state.ctx.engine.db().reader();
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM sessions").fetch_all(pool).await.unwrap();
    assert_eq!(stored.len(), 3);
    for token in &tokens {
        let hash = switchboard::token::SessionToken::parse(token).expect("a well-formed token").hash();
        assert!(stored.iter().any(|s| s == hash.as_str()), "the SHA-256 of each token is stored");
    }
    // No column of any session row holds a token, whole or in part.
    let rows: Vec<(String, String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT public_id, token_hash, ip, user_agent FROM sessions")
            .fetch_all(pool)
            .await
            .unwrap();
    for row in rows {
        let text = format!("{row:?}");
        for token in &tokens {
            assert!(!text.contains(&token[..16]), "a token in the sessions table: {text}");
        }
    }
    for hash in &stored {
        assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "{hash}");
    }
}

async fn a_prod_server_sets_host_prefixed_secure_httponly_samesite_cookies(db: TestDatabase) {
    let app = spawn_app_as(Profile::Prod, db, &[]).await;
    let engine = &app.state.ctx.engine;
    engine
        .register(
            &switchboard::domain::Email::parse("prod@example.org").unwrap(),
            switchboard::domain::Password::parse_new(PASSWORD).unwrap(),
            &switchboard::domain::DisplayName::parse("Prod").unwrap(),
        )
        .await
        .unwrap();
    // Secure cookies are not sent back over plain HTTP by a cookie store: carry them by hand.
    let http = app.bare();
    let res = http.get(app.url("/api/csrf")).send().await.unwrap();
    let pre = set_cookies(&res);
    let csrf: serde_json::Value = res.json().await.unwrap();
    assert_eq!(pre.len(), 1, "{pre:?}");
    let (pre_name, pre_value) = cookie_value(&pre[0]);
    let res = http
        .post(app.url("/api/login"))
        .header("Cookie", format!("{pre_name}={pre_value}"))
        .header("X-CSRF-Token", csrf["csrf_token"].as_str().unwrap())
        .form(&[("email", "prod@example.org"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get("strict-transport-security").is_some(),
        "HSTS where cookies are Secure"
    );
    let cookies = set_cookies(&res);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-sb_session="))
        .expect("the session cookie");
    for cookie in pre.iter().chain([session]) {
        let attributes: BTreeSet<String> = cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect();
        assert!(cookie.starts_with("__Host-"), "{cookie}");
        for wanted in ["secure", "httponly", "samesite=lax", "path=/"] {
            assert!(attributes.contains(wanted), "{wanted} missing: {cookie}");
        }
        assert!(
            !attributes.iter().any(|a| a.starts_with("domain")),
            "__Host- cookies have no Domain: {cookie}"
        );
    }
}

/// A signed-in browser with a platform, and the state it starts from.
async fn signed_in(app: &crate::support::TestApp) -> (crate::support::Browser, SessionState) {
    let mut b = app.browser().await;
    b.register("target@example.org").await;
    b.add_platform("Target").await;
    let state = b.state().await;
    (b, state)
}

/// Nothing about the session changed (still signed in, same version, same platforms).
async fn assert_unchanged(b: &crate::support::Browser, before: &SessionState) {
    let after = b.state().await;
    assert_eq!(after.session.id, before.session.id, "still the same session");
    assert_eq!(after.session.version, before.session.version, "nothing was switched");
    assert_eq!(after.platforms, before.platforms, "no platform changed");
}

async fn a_get_on_every_mutating_endpoint_is_refused(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let (b, before) = signed_in(&app).await;
    let mut refused = 0;
    for endpoint in endpoints().iter().filter(|e| e.method == Method::POST) {
        let query: Vec<(&str, &str)> = endpoint.fields.iter().map(|f| (*f, "1")).collect();
        let res = b
            .http
            .get(b.url(endpoint.path))
            .query(&query)
            .header("X-CSRF-Token", &b.csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "GET {}", endpoint.path);
        let err: ApiError = res.json().await.unwrap();
        assert_eq!(err.code(), ErrorCode::MethodNotAllowed, "GET {}", endpoint.path);
        refused += 1;
    }
    println!("GET refused on {refused} mutating endpoints");
    assert!(refused >= 15, "the registry lists the mutating endpoints ({refused})");
    assert_unchanged(&b, &before).await;
}

async fn csrf_is_refused_on_every_mutating_endpoint(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let (b, before) = signed_in(&app).await;
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for endpoint in endpoints().iter().filter(|e| e.method == Method::POST) {
        let fields: Vec<(&str, &str)> = endpoint.fields.iter().map(|f| (*f, "1")).collect();
        let url = b.url(endpoint.path);
        let with_token: Vec<(&str, &str)> = fields.iter().copied().chain([("csrf_token", b.csrf.as_str())]).collect();
        let form_body = serde_urlencoded(&with_token);
        let boundary = "sbboundary7MA4YWxkTrZu0gW";
        let multipart: String = with_token
            .iter()
            .map(|(k, v)| format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"))
            .chain([format!("--{boundary}--\r\n")])
            .collect();
        let attempts = [
            ("no token", b.http.post(&url).form(&fields)),
            ("a forged token", b.http.post(&url).header("X-CSRF-Token", "forged").form(&fields)),
            (
                "another site's Origin",
                b.http
                    .post(&url)
                    .header("X-CSRF-Token", &b.csrf)
                    .header("Origin", "https://evil.example")
                    .form(&fields),
            ),
            (
                "no Origin, cross-site Sec-Fetch-Site",
                b.http
                    .post(&url)
                    .header("X-CSRF-Token", &b.csrf)
                    .header("Sec-Fetch-Site", "cross-site")
                    .form(&fields),
            ),
            (
                "text/plain with the token inside",
                b.http.post(&url).header("Content-Type", "text/plain").body(form_body.clone()),
            ),
            (
                "multipart with the token inside",
                b.http
                    .post(&url)
                    .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
                    .body(multipart),
            ),
        ];
        for (what, req) in attempts {
            let res = req.send().await.unwrap();
            let status = res.status();
            let err: ApiError = res.json().await.unwrap_or_else(|e| panic!("{what} to {}: {e}", endpoint.path));
            assert!(
                matches!(
                    (status, err.code()),
                    (StatusCode::FORBIDDEN, ErrorCode::CsrfFailed) | (StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType)
                ),
                "{what} to {}: {status} {:?}",
                endpoint.path,
                err.code()
            );
            *counts.entry(what).or_default() += 1;
        }
    }
    println!("CSRF refusals per kind of attempt: {counts:?}");
    assert_unchanged(&b, &before).await;
    // And the same requests with the token in the header are what a real page sends: accepted.
    assert_eq!(b.post("/api/extend_session", &[]).await.status(), StatusCode::OK);
    assert_error(
        b.http.post(b.url("/api/extend_session")).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        ErrorCode::CsrfFailed,
    )
    .await;
}

/// The real binary, logging at `debug`, through a whole flow (sign up, add and switch
/// platforms, a wrong password, sign in again, extend, sign out everywhere): no session token,
/// pre-session id, CSRF token or password appears in any log line, while the log does name the
/// sessions by their public ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log_path = dir.path().join("server.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SWITCHBOARD_PROFILE", "test")
        .env("SWITCHBOARD_LOG", "debug")
        .env("SWITCHBOARD_BIND", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_DATABASE_URL", format!("sqlite://{}/sb.db", dir.path().display()))
        // A file, not a pipe: nobody reads a pipe during the flow, and a full one stops the server.
        .stdout(std::fs::File::create(&log_path).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut secrets = vec![PASSWORD.to_owned(), "a wrong password".to_owned()];
    let mut public_ids = Vec::new();
    let mut csrf = {
        let res = http.get(format!("{base}/api/csrf")).send().await.unwrap();
        secrets.extend(set_cookies(&res).iter().map(|c| cookie_value(c).1.to_owned()));
        let body: serde_json::Value = res.json().await.unwrap();
        body["csrf_token"].as_str().unwrap().to_owned()
    };
    secrets.push(csrf.clone());
    let post = |path: &'static str, fields: Vec<(&'static str, String)>, token: String| {
        let req = http.post(format!("{base}{path}")).header("X-CSRF-Token", token).form(&fields);
        async move { req.send().await.unwrap() }
    };
    let step = async |res: Response, secrets: &mut Vec<String>| -> Option<SessionState> {
        secrets.extend(
            set_cookies(&res)
                .iter()
                .map(|c| cookie_value(c).1.to_owned())
                .filter(|v| !v.is_empty()),
        );
        res.json::<SessionState>().await.ok()
    };
    let email = "logged@example.org".to_owned();
    let fields = vec![
        ("email", email.clone()),
        ("password", PASSWORD.to_owned()),
        ("display_name", "Log".to_owned()),
    ];
    let state = step(post("/api/register", fields, csrf.clone()).await, &mut secrets)
        .await
        .expect("signed up");
    public_ids.push(state.session.id.0.clone());
    csrf = state.csrf_token.clone();
    secrets.push(csrf.clone());
    for label in ["One", "Two"] {
        let fields = vec![
            ("kind", "mastodon".to_owned()),
            ("label", label.to_owned()),
            ("instance_url", "https://mastodon.example".to_owned()),
            ("handle", "@log".to_owned()),
        ];
        assert_eq!(post("/api/add_platform", fields, csrf.clone()).await.status(), StatusCode::OK);
    }
    let state: SessionState = http
        .get(format!("{base}/api/session_state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other = state
        .platforms
        .iter()
        .find(|p| Some(p.id) != state.platform.as_ref().map(|a| a.id))
        .unwrap();
    let fields = vec![("platform_id", other.id.0.to_string())];
    assert_eq!(post("/api/switch_platform", fields, csrf.clone()).await.status(), StatusCode::OK);
    let fields = vec![("email", email.clone()), ("password", "a wrong password".to_owned())];
    assert_eq!(post("/api/login", fields, csrf.clone()).await.status(), StatusCode::UNAUTHORIZED);
    let fields = vec![("email", email.clone()), ("password", PASSWORD.to_owned())];
    let state = step(post("/api/login", fields, csrf.clone()).await, &mut secrets)
        .await
        .expect("signed in");
    public_ids.push(state.session.id.0.clone());
    csrf = state.csrf_token.clone();
    secrets.push(csrf.clone());
    assert_eq!(post("/api/extend_session", vec![], csrf.clone()).await.status(), StatusCode::OK);
    assert_eq!(http.get(format!("{base}/")).send().await.unwrap().status(), StatusCode::OK);
    step(post("/api/sign_out_everywhere", vec![], csrf.clone()).await, &mut secrets).await;

    let stopped = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(stopped.success());
    assert!(child.wait().unwrap().success());
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines = log.lines().count();
    println!("{lines} log lines at debug, {} secrets looked for", secrets.len());
    assert!(lines > 20, "the flow was logged:\n{log}");
    for id in &public_ids {
        assert!(log.contains(id.as_str()), "sessions are named by public id ({id})");
    }
    secrets.sort();
    secrets.dedup();
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        let found: Vec<&str> = log.lines().filter(|l| l.contains(secret.as_str())).collect();
        assert!(found.is_empty(), "a secret in the log: {found:#?}");
    }
}

fn serde_urlencoded(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
}

switchboard::on_both_backends!(
    the_token_column_holds_only_hashes,
    a_prod_server_sets_host_prefixed_secure_httponly_samesite_cookies,
    a_get_on_every_mutating_endpoint_is_refused,
    csrf_is_refused_on_every_mutating_endpoint,
);
