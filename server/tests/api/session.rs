//! Signing in and out, rotation, expiry, cookies, and checks that are not activity.

use crate::support::{assert_error, cookie_header, ok, spawn_app, Browser, TestApp, PASSWORD};
use app::error::ErrorCode;
use app::models::{EndReason, SessionSnapshot, SessionState};
use reqwest::StatusCode;
use std::time::Duration;
use switchboard::testing::TestDatabase;

/// The `name=value` of the session cookie a fresh login sets.
async fn session_cookie(b: &Browser, email: &str) -> String {
    let res = b.post("/api/login", &[("email", email), ("password", PASSWORD)]).await;
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

async fn state_with_cookie(app: &TestApp, cookie: &str) -> reqwest::Response {
    app.bare()
        .get(app.url("/api/session_state"))
        .headers(cookie_header(cookie))
        .send()
        .await
        .unwrap()
}

async fn session_lifecycle(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    assert_error(
        b.get("/api/session_state").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    )
    .await;

    let registered = b.register("ann@example.org").await;
    assert_eq!(registered.user.email, "ann@example.org");
    assert_eq!(registered.platform, None, "no platform yet");

    let res = b.get("/api/session_state").await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    // Every documented key is there, with its type (decoding checks both).
    let state: SessionState = ok(res).await;
    assert_eq!(state.session.version.0, 1);
    assert_eq!(state.session.id, registered.session.id);

    let p = b.add_platform("Main").await;
    assert_eq!(b.state().await.platform_id(), Some(p), "the first platform becomes active");

    let res = b.post("/api/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_error(
        b.get("/api/session_state").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    )
    .await; // the cookie was cleared
}

async fn login_rotates_and_old_cookie_is_dead(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    b.register("keeper@example.org").await;
    let old = session_cookie(&b, "keeper@example.org").await;
    b.refresh_csrf().await;
    let new = session_cookie(&b, "keeper@example.org").await;
    assert_ne!(old, new, "every login issues a new token");
    let refused = state_with_cookie(&app, &old).await;
    // A request still carrying the rotated cookie was sent before the login answered (another
    // tab's check, say): its answer must not clear the cookie, which by now is the new one.
    assert!(
        !clears_cookie(&refused),
        "an answer to a rotated cookie leaves the browser's (newer) cookie alone"
    );
    assert_error(refused, StatusCode::UNAUTHORIZED, ErrorCode::SessionRevoked).await;
    let page = app.bare().get(app.url("/")).headers(cookie_header(&old)).send().await.unwrap();
    assert!(!clears_cookie(&page), "nor does a page loaded with it");
    assert_eq!(state_with_cookie(&app, &new).await.status(), StatusCode::OK);

    // A session ended any other way still has its cookie removed.
    let mut c = app.browser().await;
    c.register("ended@example.org").await;
    let ended = session_cookie(&c, "ended@example.org").await;
    c.refresh_csrf().await;
    c.post("/api/logout", &[]).await;
    assert!(
        clears_cookie(&state_with_cookie(&app, &ended).await),
        "a signed-out cookie is removed"
    );
}

/// Whether an answer removes the session cookie.
fn clears_cookie(res: &reqwest::Response) -> bool {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().is_ok_and(|c| c.starts_with("sb_session=") && c.contains("Max-Age=0")))
}

async fn wrong_password_and_unknown_email_answer_alike(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    b.register("bea@example.org").await;
    b.post("/api/logout", &[]).await;
    b.refresh_csrf().await;
    let wrong = b
        .post("/api/login", &[("email", "bea@example.org"), ("password", "not the password")])
        .await;
    let wrong = assert_error(wrong, StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials).await;
    let unknown = b
        .post("/api/login", &[("email", "nobody@example.org"), ("password", PASSWORD)])
        .await;
    let unknown = assert_error(unknown, StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials).await;
    assert_eq!(wrong, unknown);
    let absurd = "x".repeat(300);
    let too_long = b.post("/api/login", &[("email", "bea@example.org"), ("password", &absurd)]).await;
    assert_eq!(
        assert_error(too_long, StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials).await,
        wrong,
        "a password longer than any allowed is just a wrong one"
    );
}

async fn idle_and_absolute_expiry_over_http(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_IDLE_TIMEOUT", "10m"), ("SWITCHBOARD_ABSOLUTE_LIFETIME", "1h")]).await;
    let mut b = app.browser().await;
    b.register("cal@example.org").await;
    app.clock.advance(Duration::from_secs(9 * 60));
    b.state().await;
    app.clock.advance(Duration::from_secs(11 * 60));
    let res = b.get("/api/session_state").await;
    assert!(
        res.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().contains("Max-Age=0")),
        "the dead cookie is cleared"
    );
    assert_error(res, StatusCode::UNAUTHORIZED, ErrorCode::SessionExpired).await;

    let mut b = app.browser().await;
    b.register("cy@example.org").await;
    for _ in 0..6 {
        app.clock.advance(Duration::from_secs(9 * 60));
        b.state().await;
    }
    app.clock.advance(Duration::from_secs(7 * 60));
    assert_error(
        b.get("/api/session_state").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::SessionExpired,
    )
    .await;
}

async fn bad_cookies_are_401_not_500(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let well_formed_but_unknown = format!("sb_session={}", "A".repeat(43));
    let huge = format!("sb_session={}", "x".repeat(6000));
    for cookie in [
        "sb_session=garbage",
        "sb_session=",
        "sb_session=%00%ff",
        well_formed_but_unknown.as_str(),
        huge.as_str(),
        "sb_session",
    ] {
        assert_error(
            state_with_cookie(&app, cookie).await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
        )
        .await;
    }
    let oversized = format!("sb_session={}", "x".repeat(200_000));
    let res = state_with_cookie(&app, &oversized).await;
    assert!(
        res.status().is_client_error(),
        "an absurd header is refused as a client error, got {}",
        res.status()
    );
}

async fn the_token_never_reaches_a_page_or_body(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    b.register("keeper@example.org").await;
    b.refresh_csrf().await;
    let cookie = session_cookie(&b, "keeper@example.org").await;
    let token = cookie.split_once('=').unwrap().1.to_owned();
    assert_eq!(token.len(), 43, "256-bit token, base64url");
    let bare = app.bare();
    for path in ["/", "/platforms", "/api/session_state", "/api/session"] {
        let body = bare
            .get(app.url(path))
            .headers(cookie_header(&cookie))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!body.contains(&token), "{path} leaks the session token");
    }
    b.refresh_csrf().await;
    let set_cookie = b
        .post("/api/login", &[("email", "keeper@example.org"), ("password", PASSWORD)])
        .await;
    let header = set_cookie.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(header.contains(attr), "{header} lacks {attr}");
    }
}

async fn background_checks_are_not_activity_and_stay_signed_in_is(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_IDLE_TIMEOUT", "10m"), ("SWITCHBOARD_IDLE_WARNING", "2m")]).await;
    let mut b = app.browser().await;
    let state = b.register("tab@example.org").await;
    let deadline = state.session.idle_expires_at;

    // A tab checking every few minutes does not keep the session alive.
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(3 * 60));
        let check = b.check().await;
        let checked = check.state.expect("still signed in");
        assert_eq!(checked.session.idle_expires_at, deadline, "a check is not activity");
        assert_eq!(check.client.idle_warning_ms, 120_000);
        assert!(check.client.sync);
    }
    // 9 minutes idle: "Stay signed in" restarts the 10 minutes.
    let extended: SessionState = ok(b.post("/api/extend_session", &[]).await).await;
    assert_ne!(extended.session.idle_expires_at, deadline);
    assert_eq!(extended.session.version, state.session.version);
    app.clock.advance(Duration::from_secs(9 * 60));
    assert!(b.check().await.state.is_some(), "alive 9 minutes after extending");
    app.clock.advance(Duration::from_secs(2 * 60));
    let check = b.check().await;
    assert_eq!(check.state, None);
    assert_eq!(check.ended, Some(EndReason::SessionExpired), "the check itself reports the expiry");
    // The session's CSRF token died with it: the tab must reload its state first.
    assert_error(
        b.post("/api/extend_session", &[]).await,
        StatusCode::FORBIDDEN,
        ErrorCode::CsrfFailed,
    )
    .await;
    b.refresh_csrf().await;
    assert_error(
        b.post("/api/extend_session", &[]).await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    )
    .await;

    // A page view or an API call is activity.
    let mut b = app.browser().await;
    b.register("busy@example.org").await;
    for _ in 0..4 {
        app.clock.advance(Duration::from_secs(4 * 60));
        b.snapshot().await;
    }
    assert!(b.check().await.state.is_some(), "16 minutes of activity keep a 10-minute session");
}

async fn logout_answers_the_signed_out_state(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    let state = b.register("out@example.org").await;
    let out: SessionSnapshot = ok(b.post("/api/logout", &[]).await).await;
    assert_eq!(out.state, None);
    assert_eq!(out.ended, Some(EndReason::LoggedOut));
    assert_ne!(out.csrf_token, state.csrf_token, "the session's token died with it");
    // That token is the one the next login takes.
    b.csrf = out.csrf_token;
    b.login("out@example.org").await;
}

async fn login_goes_on_to_a_local_next_page_only(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    b.register("next@example.org").await;
    b.post("/api/logout", &[]).await;
    b.refresh_csrf().await;
    for bad in ["https://evil.example/", "//evil.example", "/\\evil.example"] {
        let res = b
            .post(
                "/api/login",
                &[("email", "next@example.org"), ("password", PASSWORD), ("next", bad)],
            )
            .await;
        let err = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidInput).await;
        assert_eq!(err.error.field.as_deref(), Some("next"));
    }
    let res = b
        .http
        .post(b.url("/api/login"))
        .header("Accept", "text/html")
        .header("Referer", app.url("/login"))
        .form(&[
            ("email", "next@example.org"),
            ("password", PASSWORD),
            ("next", "/platforms"),
            ("csrf_token", b.csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/platforms");
}

async fn a_refused_change_leaves_the_reason_for_the_next_check(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    b.register("why@example.org").await;
    b.add_platform("P").await;
    // Another client holding the same cookie signs out: this browser's session is over.
    let cookie = session_cookie(&b, "why@example.org").await;
    let state: SessionState = ok(app
        .bare()
        .get(app.url("/api/session_state"))
        .headers(cookie_header(&cookie))
        .send()
        .await
        .unwrap())
    .await;
    b.csrf = state.csrf_token.clone();
    let res = app
        .bare()
        .post(app.url("/api/logout"))
        .headers(cookie_header(&cookie))
        .header("X-CSRF-Token", &state.csrf_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The browser's next change is refused (its CSRF token was the dead session's) without
    // losing the cookie, so the check that follows can say why.
    let refused = b.post("/api/add_draft", &[("title", "late"), ("body", "")]).await;
    assert!(refused
        .headers()
        .get("set-cookie")
        .is_none_or(|c| !c.to_str().unwrap().contains("sb_session")));
    assert_error(refused, StatusCode::FORBIDDEN, ErrorCode::CsrfFailed).await;
    let check = b.check().await;
    assert_eq!(check.ended, Some(EndReason::SessionRevoked));
    assert_eq!(
        b.check().await.ended,
        Some(EndReason::Unauthenticated),
        "that answer removed the cookie"
    );
}

switchboard::on_both_backends!(
    a_refused_change_leaves_the_reason_for_the_next_check,
    background_checks_are_not_activity_and_stay_signed_in_is,
    logout_answers_the_signed_out_state,
    login_goes_on_to_a_local_next_page_only,
    session_lifecycle,
    login_rotates_and_old_cookie_is_dead,
    wrong_password_and_unknown_email_answer_alike,
    idle_and_absolute_expiry_over_http,
    bad_cookies_are_401_not_500,
    the_token_never_reaches_a_page_or_body,
);
