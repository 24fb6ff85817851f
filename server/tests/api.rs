//! The HTTP contract (docs/API.md) against a real server on SQLite and on PostgreSQL.

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use support::{assert_error, cookie_header, spawn_app, TestApp, PASSWORD};
use switchboard::testing::TestDatabase;

async fn session_cookie(app: &TestApp, b: &support::Browser) -> String {
    let _ = app;
    // The cookie store does not expose values; read it back through a fresh login response.
    let res = b
        .post("/api/login", &[("email", "keeper@example.org"), ("password", PASSWORD)])
        .await;
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

async fn session_lifecycle(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    let (status, body) = b.state().await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");

    let registered = b.register("ann@example.org").await;
    assert_eq!(registered["user"]["email"], "ann@example.org");
    assert_eq!(registered["platform"], Value::Null, "no platform yet");

    let res = b.get("/api/session_state").await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let state: Value = res.json().await.unwrap();
    for key in ["user", "platform", "platforms", "session", "csrf_token", "server_time"] {
        assert!(state.get(key).is_some(), "session_state lacks {key}: {state}");
    }
    for key in [
        "id",
        "created_at",
        "last_seen_at",
        "idle_expires_at",
        "absolute_expires_at",
        "version",
    ] {
        assert!(state["session"].get(key).is_some(), "session lacks {key}");
    }
    assert_eq!(state["session"]["version"], 1);

    let p = b.add_platform("Main").await;
    let (_, state) = b.state().await;
    assert_eq!(state["platform"]["id"], p, "the first platform becomes active");

    let res = b.post("/api/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (status, body) = b.state().await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated", "the cookie was cleared");
}

async fn login_rotates_and_old_cookie_is_dead(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    b.register("keeper@example.org").await;
    let old = session_cookie(&app, &b).await;
    b.refresh_csrf().await;
    let new = session_cookie(&app, &b).await;
    assert_ne!(old, new, "every login issues a new token");
    let res = app
        .bare()
        .get(app.url("/api/session_state"))
        .headers(cookie_header(&old))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "session_revoked").await;
    let res = app
        .bare()
        .get(app.url("/api/session_state"))
        .headers(cookie_header(&new))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
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
    let wrong = assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unknown = b
        .post("/api/login", &[("email", "nobody@example.org"), ("password", PASSWORD)])
        .await;
    let unknown = assert_error(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(wrong, unknown);
}

async fn idle_and_absolute_expiry_over_http(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_IDLE_TIMEOUT", "10m"), ("SWITCHBOARD_ABSOLUTE_LIFETIME", "1h")]).await;
    let mut b = app.browser().await;
    b.register("cal@example.org").await;
    app.clock.advance(Duration::from_secs(9 * 60));
    assert_eq!(b.state().await.0, StatusCode::OK);
    app.clock.advance(Duration::from_secs(11 * 60));
    let res = b.get("/api/session_state").await;
    assert!(
        res.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().contains("Max-Age=0")),
        "the dead cookie is cleared"
    );
    assert_error(res, StatusCode::UNAUTHORIZED, "session_expired").await;

    let mut b = app.browser().await;
    b.register("cy@example.org").await;
    for _ in 0..6 {
        app.clock.advance(Duration::from_secs(9 * 60));
        assert_eq!(b.state().await.0, StatusCode::OK);
    }
    app.clock.advance(Duration::from_secs(7 * 60));
    assert_error(b.get("/api/session_state").await, StatusCode::UNAUTHORIZED, "session_expired").await;
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
        let res = app
            .bare()
            .get(app.url("/api/session_state"))
            .headers(cookie_header(cookie))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let oversized = format!("sb_session={}", "x".repeat(200_000));
    let res = app
        .bare()
        .get(app.url("/api/session_state"))
        .headers(cookie_header(&oversized))
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_client_error(),
        "an absurd header is refused as a client error, got {}",
        res.status()
    );
}

async fn csrf_is_required_everywhere(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    b.register("dee@example.org").await;
    b.post("/api/logout", &[]).await;
    b.refresh_csrf().await;
    let login = [("email", "dee@example.org"), ("password", PASSWORD)];

    let attempt = |headers: &'static [(&'static str, &'static str)], token: Option<String>| {
        let mut req = b.http.post(b.url("/api/login")).form(&login);
        if let Some(token) = token {
            req = req.header("X-CSRF-Token", token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        async move { req.send().await.unwrap() }
    };
    let refused: [(&[(&str, &str)], Option<String>); 4] = [
        (&[], None),
        (&[], Some("forged".into())),
        (&[("Origin", "https://evil.example")], Some(b.csrf.clone())),
        (&[("Sec-Fetch-Site", "cross-site")], Some(b.csrf.clone())),
    ];
    for (headers, token) in refused {
        assert_error(attempt(headers, token).await, StatusCode::FORBIDDEN, "csrf_failed").await;
    }

    // The form field works as well as the header, and a same-origin Origin is accepted.
    let mut with_field = login.to_vec();
    with_field.push(("csrf_token", &b.csrf));
    let origin = app.base.clone();
    let res = b
        .http
        .post(b.url("/api/login"))
        .header("Origin", origin)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&with_field)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // After login the pre-session token no longer counts.
    let pre = b.csrf.clone();
    let p = b.add_platform_with(&pre).await;
    assert_eq!(p, StatusCode::FORBIDDEN);
}

impl support::Browser {
    async fn add_platform_with(&self, token: &str) -> StatusCode {
        self.http
            .post(self.url("/api/add_platform"))
            .header("X-CSRF-Token", token)
            .form(&[
                ("kind", "other"),
                ("label", "X"),
                ("instance_url", "https://x.org"),
                ("handle", "x"),
            ])
            .send()
            .await
            .unwrap()
            .status()
    }
}

async fn switch_is_compare_and_set_over_http(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    let mut other = app.browser().await;
    b.register("eve@example.org").await;
    other.register("fox@example.org").await;
    let a = b.add_platform("A").await;
    let c = b.add_platform("C").await;
    let foreign = other.add_platform("F").await;
    let (_, s) = b.state().await;
    let v = s["session"]["version"].as_i64().unwrap();

    let res = b
        .post(
            "/api/switch_platform",
            &[("platform_id", &c.to_string()), ("expected_version", &v.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let switched: Value = res.json().await.unwrap();
    assert_eq!(switched["platform"]["id"], c);
    assert_eq!(switched["session"]["version"], v + 1);

    let res = b
        .post(
            "/api/switch_platform",
            &[("platform_id", &a.to_string()), ("expected_version", &v.to_string())],
        )
        .await;
    let body = assert_error(res, StatusCode::CONFLICT, "version_conflict").await;
    assert_eq!(
        body["error"]["current"]["platform"]["id"], c,
        "a conflict carries the current state"
    );
    assert_eq!(body["error"]["current"]["session"]["version"], v + 1);

    let foreign = foreign.to_string();
    let refused: [(&[(&str, &str)], StatusCode, &str); 5] = [
        (&[("platform_id", &foreign)], StatusCode::NOT_FOUND, "not_found"),
        (&[("platform_id", "424242")], StatusCode::NOT_FOUND, "not_found"),
        (&[("platform_id", "abc")], StatusCode::BAD_REQUEST, "bad_request"),
        (&[("platform_id", "0")], StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        (&[], StatusCode::BAD_REQUEST, "bad_request"),
    ];
    for (fields, status, code) in refused {
        assert_error(b.post("/api/switch_platform", fields).await, status, code).await;
    }
    let res = b.post("/api/switch_platform", &[("platform_id", &a.to_string())]).await;
    assert_eq!(res.status(), StatusCode::OK, "without expected_version the switch is unconditional");
}

async fn malformed_requests_are_4xx_json(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_MAX_BODY_BYTES", "4096")]).await;
    let mut b = app.browser().await;
    b.register("gil@example.org").await;
    let body = assert_error(
        b.post("/api/add_draft", &[("title", "t"), ("body", "b"), ("platform_id", "3")])
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_eq!(body["error"]["field"], "platform_id");
    let dup = b
        .http
        .post(b.url("/api/add_draft"))
        .header("X-CSRF-Token", &b.csrf)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("title=a&title=b&body=c")
        .send()
        .await
        .unwrap();
    assert_error(dup, StatusCode::BAD_REQUEST, "bad_request").await;
    let json = b
        .http
        .post(b.url("/api/add_draft"))
        .header("X-CSRF-Token", &b.csrf)
        .json(&serde_json::json!({"title": "t", "body": "b"}))
        .send()
        .await
        .unwrap();
    assert_error(json, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let big = "b".repeat(10_000);
    assert_error(
        b.post("/api/add_draft", &[("title", "t"), ("body", &big)]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    let bad_utf8 = b
        .http
        .post(b.url("/api/add_draft"))
        .header("X-CSRF-Token", &b.csrf)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(vec![b't', b'=', 0xff, 0xfe])
        .send()
        .await
        .unwrap();
    assert_error(bad_utf8, StatusCode::BAD_REQUEST, "bad_request").await;
    assert_error(
        b.post("/api/add_draft", &[("title", "only a title")]).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        b.post("/api/add_draft", &[("title", "t"), ("body", "b")]).await,
        StatusCode::CONFLICT,
        "no_active_platform",
    )
    .await;
    b.add_platform("P").await;
    let body = assert_error(
        b.post("/api/add_draft", &[("title", ""), ("body", "b")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    )
    .await;
    assert_eq!(body["error"]["field"], "title");
    let body = assert_error(
        b.post(
            "/api/add_platform",
            &[
                ("kind", "myspace"),
                ("label", "x"),
                ("instance_url", "https://x.org"),
                ("handle", "x"),
            ],
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    )
    .await;
    assert_eq!(body["error"]["field"], "kind");
    assert_error(b.post("/api/no_such_function", &[]).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(b.get("/api/no_such_thing").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(
        b.post("/api/delete_draft", &[("draft_id", "99999999999999999999999")]).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}

async fn plain_forms_redirect(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    b.register("hal@example.org").await;
    b.post("/api/logout", &[]).await;
    b.refresh_csrf().await;
    let referer = app.url("/login");
    let form = |password: &'static str| [("email", "hal@example.org"), ("password", password)];
    let res = b
        .http
        .post(b.url("/api/login"))
        .header("Accept", "text/html")
        .header("Referer", &referer)
        .form(&{
            let mut f = form("wrong password!").to_vec();
            f.push(("csrf_token", &b.csrf));
            f
        })
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&referer) && location.contains("__err="),
        "errors go back to the form: {location}"
    );
    let page = b.get(&location[app.base.len()..]).await.text().await.unwrap();
    assert!(
        page.contains("the email or password is not correct"),
        "the form shows the error without JavaScript"
    );
    let res = b
        .http
        .post(b.url("/api/login"))
        .header("Accept", "text/html")
        .header("Referer", &referer)
        .form(&{
            let mut f = form(PASSWORD).to_vec();
            f.push(("csrf_token", &b.csrf));
            f
        })
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/");
    let page = b.get("/").await.text().await.unwrap();
    assert!(page.contains("<h1>Dashboard</h1>"), "signed in, the dashboard renders");
    assert!(page.contains(r#"<meta name="csrf-token" content=""#));
}

async fn pages_redirect_when_signed_out(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let res = app.bare().get(app.url("/")).header("Accept", "text/html").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/login");
    let res = app
        .bare()
        .get(app.url("/platforms"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["location"],
        "/login?next=%2Fplatforms",
        "the page to come back to is kept"
    );
    let res = app
        .bare()
        .get(app.url("/login"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("sb_pre=")));
    assert!(res.text().await.unwrap().contains(r#"name="csrf_token""#));
}

async fn exhausted_pool_answers_503(db: TestDatabase) {
    let app = spawn_app(
        db,
        &[
            ("SWITCHBOARD_POOL_MAX_CONNECTIONS", "1"),
            ("SWITCHBOARD_POOL_ACQUIRE_TIMEOUT", "200ms"),
        ],
    )
    .await;
    let mut b = app.browser().await;
    b.register("ivy@example.org").await;
    let held = app.state.ctx.engine.db().reader().acquire().await.unwrap();
    let started = std::time::Instant::now();
    assert_error(b.get("/api/session_state").await, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(started.elapsed() < Duration::from_secs(3), "no hang");
    drop(held);
    assert_eq!(b.state().await.0, StatusCode::OK);
}

async fn drafts_follow_the_active_platform(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    b.register("jo@example.org").await;
    let p1 = b.add_platform("One").await;
    let p2 = b.add_platform("Two").await;
    assert_eq!(
        b.post("/api/add_draft", &[("title", "for one"), ("body", "")]).await.status(),
        StatusCode::OK
    );
    b.post("/api/switch_platform", &[("platform_id", &p2.to_string())]).await;
    let drafts: Value = b.get("/api/list_drafts").await.json().await.unwrap();
    assert_eq!(drafts, serde_json::json!([]));
    b.post("/api/switch_platform", &[("platform_id", &p1.to_string())]).await;
    let drafts: Value = b.get("/api/list_drafts").await.json().await.unwrap();
    assert_eq!(drafts[0]["title"], "for one");
}

async fn health_reports_the_database(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let res = app.bare().get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"]["status"], "ok");
}

async fn the_token_never_reaches_a_page_or_body(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    b.register("keeper@example.org").await;
    b.refresh_csrf().await;
    let cookie = session_cookie(&app, &b).await;
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
    let deadline = state["session"]["idle_expires_at"].as_str().unwrap().to_owned();

    // A tab checking every few minutes does not keep the session alive.
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(3 * 60));
        let check: Value = b.get("/api/session_check").await.json().await.unwrap();
        assert_eq!(
            check["state"]["session"]["idle_expires_at"],
            deadline.as_str(),
            "a check is not activity"
        );
        assert_eq!(check["client"]["idle_warning_ms"], 120_000);
        assert_eq!(check["client"]["sync"], true);
    }
    // 9 minutes idle: "Stay signed in" restarts the 10 minutes.
    let res = b.post("/api/extend_session", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let extended: Value = res.json().await.unwrap();
    assert_ne!(extended["session"]["idle_expires_at"], deadline.as_str());
    assert_eq!(extended["session"]["version"], state["session"]["version"]);
    app.clock.advance(Duration::from_secs(9 * 60));
    let check: Value = b.get("/api/session_check").await.json().await.unwrap();
    assert!(check["state"].is_object(), "alive 9 minutes after extending: {check}");
    app.clock.advance(Duration::from_secs(2 * 60));
    let check: Value = b.get("/api/session_check").await.json().await.unwrap();
    assert_eq!(check["state"], Value::Null);
    assert_eq!(check["ended"], "session_expired", "the check itself reports the expiry");
    // The session's CSRF token died with it: the tab must reload its state first.
    assert_error(b.post("/api/extend_session", &[]).await, StatusCode::FORBIDDEN, "csrf_failed").await;
    b.refresh_csrf().await;
    assert_error(
        b.post("/api/extend_session", &[]).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    // A page view or an API call is activity.
    let mut b = app.browser().await;
    b.register("busy@example.org").await;
    for _ in 0..4 {
        app.clock.advance(Duration::from_secs(4 * 60));
        assert_eq!(b.get("/api/session").await.status(), StatusCode::OK);
    }
    let check: Value = b.get("/api/session_check").await.json().await.unwrap();
    assert!(
        check["state"].is_object(),
        "16 minutes of activity keep a 10-minute session: {check}"
    );
}

async fn logout_answers_the_signed_out_state(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    let state = b.register("out@example.org").await;
    let res = b.post("/api/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["state"], Value::Null);
    assert_eq!(out["ended"], "logged_out");
    let token = out["csrf_token"].as_str().unwrap().to_owned();
    assert_ne!(token, state["csrf_token"].as_str().unwrap(), "the session's token died with it");
    // That token is the one the next login takes.
    b.csrf = token;
    let res = b.post("/api/login", &[("email", "out@example.org"), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn login_goes_on_to_a_local_next_page_only(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    b.register("next@example.org").await;
    b.post("/api/logout", &[]).await;
    b.refresh_csrf().await;
    let login = |next: &'static str| {
        b.http
            .post(b.url("/api/login"))
            .header("Accept", "text/html")
            .header("Referer", app.url("/login"))
            .form(&[
                ("email", "next@example.org"),
                ("password", PASSWORD),
                ("next", next),
                ("csrf_token", b.csrf.as_str()),
            ])
            .send()
    };
    for bad in ["https://evil.example/", "//evil.example", "/\\evil.example"] {
        let res = b
            .post(
                "/api/login",
                &[("email", "next@example.org"), ("password", PASSWORD), ("next", bad)],
            )
            .await;
        let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        assert_eq!(body["error"]["field"], "next");
    }
    let res = login("/platforms").await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/platforms");
}

switchboard::on_both_backends!(
    background_checks_are_not_activity_and_stay_signed_in_is,
    logout_answers_the_signed_out_state,
    login_goes_on_to_a_local_next_page_only,
    session_lifecycle,
    login_rotates_and_old_cookie_is_dead,
    wrong_password_and_unknown_email_answer_alike,
    idle_and_absolute_expiry_over_http,
    bad_cookies_are_401_not_500,
    csrf_is_required_everywhere,
    switch_is_compare_and_set_over_http,
    malformed_requests_are_4xx_json,
    plain_forms_redirect,
    pages_redirect_when_signed_out,
    exhausted_pool_answers_503,
    drafts_follow_the_active_platform,
    health_reports_the_database,
    the_token_never_reaches_a_page_or_body,
);
