//! Guessing and flooding, played by an attacker: login throttles per (account, address), per
//! address and per account, the registration throttle, logins that answer alike for every kind
//! of failure, and bounded password hashing. A second client address is 127.0.0.2 on loopback.

use crate::support::{assert_error, ok, spawn_app, Browser, TestApp, PASSWORD};
use app::error::{ApiError, ErrorCode};
use app::models::{AdminUserView, SessionState};
use reqwest::{Response, StatusCode};
use std::time::{Duration, Instant};
use switchboard::testing::TestDatabase;

const ATTACKER: &str = "127.0.0.2";

async fn guess(b: &Browser, email: &str, password: &str) -> Response {
    b.post("/api/login", &[("email", email), ("password", password)]).await
}

/// A `429 too_many_attempts` with a `Retry-After` of at least a second and at most `window`.
async fn assert_throttled(res: Response, window: Duration) {
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(retry >= 1 && retry <= window.as_secs(), "Retry-After {retry}");
    let err: ApiError = res.json().await.unwrap();
    assert_eq!(err.code(), ErrorCode::TooManyAttempts);
    assert_eq!(err.error.retry_after, Some(retry), "the body says the same");
}

async fn guessing_one_account_from_one_address_is_refused_there_and_nowhere_else(db: TestDatabase) {
    let app = spawn_app(
        db,
        &[
            ("SWITCHBOARD_THROTTLE_PAIR_LIMIT", "3"),
            ("SWITCHBOARD_THROTTLE_WINDOW", "10m"),
            ("SWITCHBOARD_THROTTLE_DELAY", "1ms"),
            ("SWITCHBOARD_THROTTLE_MAX_DELAY", "1ms"),
        ],
    )
    .await;
    let mut owner = app.browser().await;
    owner.register("victim@example.org").await;
    let attacker = app.browser_from(ATTACKER).await;
    for _ in 0..3 {
        assert_error(
            guess(&attacker, "victim@example.org", "guess").await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidCredentials,
        )
        .await;
    }
    // Refused before the password is looked at: even the right one.
    assert_throttled(guess(&attacker, "victim@example.org", PASSWORD).await, Duration::from_secs(600)).await;
    assert_throttled(guess(&attacker, " VICTIM@example.org ", "guess").await, Duration::from_secs(600)).await;
    // The owner, elsewhere, is not locked out; the attacker may still try other accounts.
    owner.login("victim@example.org").await;
    assert_error(
        guess(&attacker, "someone-else@example.org", "guess").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidCredentials,
    )
    .await;
    let throttled = app.audit_of(switchboard::audit::AuditKind::LoginThrottled).await;
    assert_eq!(throttled.len(), 2, "each refusal is on the audit record");
    assert!(throttled.iter().all(|e| e.entry.ip.as_deref() == Some(ATTACKER)));

    // Once the failures leave the window, the pair may try again.
    app.clock.advance(Duration::from_secs(601));
    assert_error(
        guess(&attacker, "victim@example.org", "guess").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidCredentials,
    )
    .await;
}

async fn one_address_guessing_many_accounts_is_refused(db: TestDatabase) {
    let app = spawn_app(
        db,
        &[
            ("SWITCHBOARD_THROTTLE_ADDRESS_LIMIT", "4"),
            ("SWITCHBOARD_THROTTLE_ADDRESS_SLOW_AFTER", "4"),
            ("SWITCHBOARD_THROTTLE_WINDOW", "5m"),
        ],
    )
    .await;
    let attacker = app.browser_from(ATTACKER).await;
    for n in 0..4 {
        assert_error(
            guess(&attacker, &format!("user{n}@example.org"), "guess").await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidCredentials,
        )
        .await;
    }
    assert_throttled(guess(&attacker, "user9@example.org", "guess").await, Duration::from_secs(300)).await;
    // Another address is not affected.
    let other = app.browser().await;
    assert_error(
        guess(&other, "user9@example.org", "guess").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidCredentials,
    )
    .await;
}

async fn failures_for_an_account_slow_its_logins_and_never_refuse_them(db: TestDatabase) {
    let app = spawn_app(
        db,
        &[
            ("SWITCHBOARD_THROTTLE_ACCOUNT_SLOW_AFTER", "2"),
            ("SWITCHBOARD_THROTTLE_DELAY", "1500ms"),
            ("SWITCHBOARD_THROTTLE_MAX_DELAY", "1500ms"),
            ("SWITCHBOARD_THROTTLE_PAIR_LIMIT", "1000"),
            ("SWITCHBOARD_THROTTLE_ADDRESS_SLOW_AFTER", "1000"),
        ],
    )
    .await;
    let mut owner = app.browser().await;
    owner.register("slow@example.org").await;
    let attackers = [app.browser_from("127.0.0.2").await, app.browser_from("127.0.0.3").await];
    let started = Instant::now();
    for attacker in &attackers {
        assert_error(
            guess(attacker, "slow@example.org", "guess").await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidCredentials,
        )
        .await;
    }
    assert!(started.elapsed() < Duration::from_millis(1500), "not slowed below the threshold");
    let started = Instant::now();
    owner.login("slow@example.org").await;
    assert!(started.elapsed() >= Duration::from_millis(1500), "slowed: {:?}", started.elapsed());
    // However many guesses from however many addresses, the account stays open to its owner.
    for _ in 0..3 {
        assert_error(
            guess(&attackers[0], "slow@example.org", "guess").await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidCredentials,
        )
        .await;
    }
    owner.login("slow@example.org").await;
}

async fn registrations_from_one_address_are_throttled(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_THROTTLE_REGISTRATION_LIMIT", "2")]).await;
    let mut from_attacker = app.browser_from(ATTACKER).await;
    from_attacker.register("one@example.org").await;
    from_attacker.register("two@example.org").await;
    let res = from_attacker
        .post(
            "/api/register",
            &[("email", "three@example.org"), ("password", PASSWORD), ("display_name", "Three")],
        )
        .await;
    assert_throttled(res, Duration::from_secs(3600)).await;
    assert!(
        app.state.ctx.engine.user_by_email("three@example.org").await.unwrap().is_none(),
        "no account was made"
    );
    let mut elsewhere = app.browser().await;
    elsewhere.register("three@example.org").await;
}

/// Signs `email` up as an administrator (its login counts as a recent password).
async fn admin(app: &TestApp, email: &str) -> Browser {
    let mut b = app.browser().await;
    b.register(email).await;
    app.make_admin(email).await;
    b
}

/// Failed logins for each `(email, password)` in turn, `rounds` times (interleaved, so load on
/// the machine falls on all alike): the median time of each, and the answer it got (status and
/// body, which must be the same every time).
async fn failed_login_times(b: &Browser, cases: &[(&str, &str)], rounds: usize) -> Vec<(Duration, (StatusCode, String))> {
    let mut times = vec![Vec::new(); cases.len()];
    let mut answers: Vec<Option<(StatusCode, String)>> = vec![None; cases.len()];
    for _ in 0..rounds {
        for (i, (email, password)) in cases.iter().enumerate() {
            let started = Instant::now();
            let res = guess(b, email, password).await;
            times[i].push(started.elapsed());
            let got = (res.status(), res.text().await.unwrap());
            assert!(answers[i].as_ref().is_none_or(|a| a == &got), "{got:?}");
            answers[i] = Some(got);
        }
    }
    times
        .into_iter()
        .zip(answers)
        .map(|(mut t, answer)| {
            t.sort();
            (t[t.len() / 2], answer.unwrap())
        })
        .collect()
}

async fn every_failed_login_answers_alike_in_the_same_time(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_THROTTLE_ENABLED", "false")]).await;
    let mut known = app.browser().await;
    known.register("known@example.org").await;
    let mut gone = app.browser().await;
    gone.register("gone@example.org").await;
    let root = admin(&app, "root@example.org").await;
    let users: Vec<AdminUserView> = ok(root.get("/api/admin/users").await).await;
    let id = users.iter().find(|u| u.email == "gone@example.org").unwrap().id.to_string();
    let disabled: AdminUserView = ok(root.post("/api/admin/disable_user", &[("user_id", &id)]).await).await;
    assert!(disabled.disabled);

    let b = app.browser().await;
    let cases = [
        ("known@example.org", "not the password"),
        ("nobody@example.org", "not the password"),
        ("gone@example.org", PASSWORD),
    ];
    let got = failed_login_times(&b, &cases, 9).await;
    let [(wrong, wrong_answer), (unknown, unknown_answer), (off, off_answer)] = <[_; 3]>::try_from(got).unwrap();
    println!("failed login medians: wrong password {wrong:?}, unknown email {unknown:?}, disabled account {off:?}");
    assert_eq!(wrong_answer.0, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_answer, wrong_answer, "an unknown email answers like a wrong password");
    assert_eq!(off_answer, wrong_answer, "a disabled account answers like a wrong password");
    // Without the decoy hash an unknown email would answer in a small fraction of the time (no
    // argon2 at all): the medians stay within a factor of three of each other.
    for (what, t) in [("unknown email", unknown), ("disabled account", off)] {
        assert!(t * 3 >= wrong && t <= wrong * 3, "{what}: {t:?} against {wrong:?}");
    }
}

async fn beyond_the_hashing_queue_logins_are_refused_busy_at_once(db: TestDatabase) {
    let app = spawn_app(
        db,
        &[
            ("SWITCHBOARD_THROTTLE_ENABLED", "false"),
            ("SWITCHBOARD_SECURITY_HASH_CONCURRENCY", "1"),
            ("SWITCHBOARD_SECURITY_HASH_QUEUE", "1"),
        ],
    )
    .await;
    let mut signed_in = app.browser().await;
    signed_in.register("busy@example.org").await;
    let attacker = app.browser().await;
    let mut flood = tokio::task::JoinSet::new();
    for n in 0..24 {
        let (http, url, csrf) = (attacker.http.clone(), app.url("/api/login"), attacker.csrf.clone());
        flood.spawn(async move {
            let started = Instant::now();
            let res = http
                .post(url)
                .header("X-CSRF-Token", csrf)
                .form(&[("email", format!("nobody{n}@example.org")), ("password", "guess".into())])
                .send()
                .await
                .unwrap();
            let status = res.status();
            let retry = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            let err: ApiError = res.json().await.unwrap();
            (status, err.code(), retry, started.elapsed())
        });
    }
    // Meanwhile a signed-in user is served.
    let state: SessionState = ok(signed_in.get("/api/session_state").await).await;
    assert_eq!(state.user.email, "busy@example.org");
    let (mut busy, mut checked) = (0, 0);
    while let Some(answer) = flood.join_next().await {
        match answer.unwrap() {
            (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Busy, Some(retry), took) => {
                assert_eq!(retry, "1");
                assert!(took < Duration::from_secs(5), "refused at once, not after a wait: {took:?}");
                busy += 1;
            }
            (StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials, None, _) => checked += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    println!("24 concurrent logins, 1 hasher and a queue of 1: {checked} checked, {busy} refused busy");
    assert!(busy > 0, "some are refused");
    assert!(checked >= 2, "the hasher and its queue are used");
    // Once the flood is over, logins work again.
    signed_in.login("busy@example.org").await;
}

/// A login attempt claiming, through `X-Forwarded-For`, to come from `forwarded_for`.
async fn guess_as(b: &Browser, forwarded_for: &str, password: &str) -> Response {
    b.http
        .post(b.url("/api/login"))
        .header("X-CSRF-Token", &b.csrf)
        .header("X-Forwarded-For", forwarded_for)
        .form(&[("email", "victim@example.org"), ("password", password)])
        .send()
        .await
        .unwrap()
}

async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy(db: TestDatabase) {
    let app = spawn_app(
        db,
        &[
            ("SWITCHBOARD_THROTTLE_PAIR_LIMIT", "2"),
            ("SWITCHBOARD_THROTTLE_DELAY", "1ms"),
            ("SWITCHBOARD_THROTTLE_MAX_DELAY", "1ms"),
            ("SWITCHBOARD_HTTP_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await;
    app.browser().await.register("victim@example.org").await;
    let window = Duration::from_secs(15 * 60);

    // Reaching the server directly, an attacker cannot pick a fresh address per guess: the header
    // is ignored and every guess counts against 127.0.0.2.
    let direct = app.browser_from(ATTACKER).await;
    for n in 0..2 {
        let res = guess_as(&direct, &format!("198.51.100.{n}"), "guess").await;
        assert_error(res, StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials).await;
    }
    assert_throttled(guess_as(&direct, "198.51.100.9", "guess").await, window).await;

    // Through the trusted proxy (127.0.0.1) each client is its forwarded address: the guesser is
    // refused, the owner behind the same proxy is not. A value the client put in the header
    // itself is left of the one the proxy appended, and does not count.
    let proxy = app.browser().await;
    for _ in 0..2 {
        let res = guess_as(&proxy, "203.0.113.1", "guess").await;
        assert_error(res, StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials).await;
    }
    assert_throttled(guess_as(&proxy, "10.9.9.9, 203.0.113.1", "guess").await, window).await;
    ok::<SessionState>(guess_as(&proxy, "203.0.113.2", PASSWORD).await).await;

    let failed = app.audit_of(switchboard::audit::AuditKind::LoginFailed).await;
    let mut addresses: Vec<String> = failed.iter().filter_map(|e| e.entry.ip.clone()).collect();
    addresses.sort();
    assert_eq!(addresses, ["127.0.0.2", "127.0.0.2", "203.0.113.1", "203.0.113.1"]);
}

switchboard::on_both_backends!(
    forwarded_for_names_the_client_only_behind_a_trusted_proxy,
    guessing_one_account_from_one_address_is_refused_there_and_nowhere_else,
    one_address_guessing_many_accounts_is_refused,
    failures_for_an_account_slow_its_logins_and_never_refuse_them,
    registrations_from_one_address_are_throttled,
    every_failed_login_answers_alike_in_the_same_time,
    beyond_the_hashing_queue_logins_are_refused_busy_at_once,
);
