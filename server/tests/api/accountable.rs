//! Accountable sessions over HTTP: the Sessions API, the password change, administrators,
//! limits, and the audit log and its export.

use crate::support::{assert_error, ok, spawn_app, Browser, TestApp, PASSWORD};
use app::error::ErrorCode;
use app::models::{
    AdminUserDetail, AdminUserView, AuditEventView, AuditEventsPage, EndReason, Reauthenticated, Revoked, SessionInfo, SessionSnapshot,
    SessionState,
};
use app::registry::endpoints;
use reqwest::StatusCode;
use std::time::Duration;
use switchboard::testing::TestDatabase;

const NEW_PASSWORD: &str = "an entirely new password";

/// A browser that says it is `user_agent`.
async fn browser_as(app: &TestApp, user_agent: &str) -> Browser {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut b = Browser {
        http,
        base: app.base.clone(),
        csrf: String::new(),
    };
    b.refresh_csrf().await;
    b
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

async fn sessions(b: &Browser) -> Vec<SessionInfo> {
    ok(b.get("/api/sessions").await).await
}

async fn sessions_are_listed_and_a_revoked_one_is_refused_at_once(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut laptop = browser_as(&app, FIREFOX).await;
    laptop.register("ann@example.org").await;
    laptop.add_platform("Main").await;
    let mut phone = browser_as(&app, CHROME).await;
    let on_phone = phone.login("ann@example.org").await;

    let listed = sessions(&laptop).await;
    assert_eq!(listed.len(), 2);
    let mine = listed.iter().find(|s| s.current).expect("the asking session is marked");
    assert_eq!(mine.device.browser, "Firefox 128");
    assert_eq!(mine.device.os, "Linux");
    assert_eq!(mine.user_agent.as_deref(), Some(FIREFOX), "the raw user agent is kept");
    assert_eq!(mine.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(mine.active_platform.as_deref(), Some("Main"));
    let theirs = listed.iter().find(|s| !s.current).unwrap();
    assert_eq!(theirs.public_id, on_phone.session.id);
    assert_eq!(theirs.device.browser, "Chrome 120");

    let ended = laptop.post("/api/revoke_session", &[("public_id", &theirs.public_id.0)]).await;
    assert_eq!(ended.status(), StatusCode::OK);
    // The very next request from the phone is refused, and says why.
    assert_error(
        phone.get("/api/session_state").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::SessionRevoked,
    )
    .await;
    assert_eq!(sessions(&laptop).await.len(), 1);
}

async fn another_users_session_cannot_be_seen_or_ended(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut ann = app.browser().await;
    ann.register("ann2@example.org").await;
    let mut bob = app.browser().await;
    let bobs = bob.register("bob2@example.org").await;
    assert!(sessions(&ann).await.iter().all(|s| s.public_id != bobs.session.id), "not listed");
    let res = ann.post("/api/revoke_session", &[("public_id", &bobs.session.id.0)]).await;
    let theirs = assert_error(res, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
    let res = ann.post("/api/revoke_session", &[("public_id", "AAAAAAAAAAAAAAAAAAAAAA")]).await;
    let unknown = assert_error(res, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
    assert_eq!(
        theirs, unknown,
        "another user's session answers exactly like one that does not exist"
    );
    let res = ann.post("/api/revoke_session", &[("public_id", "../../etc")]).await;
    let bad = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidInput).await;
    assert_eq!(bad.error.field.as_deref(), Some("public_id"));
    bob.state().await;
}

async fn ending_the_others_and_signing_out_everywhere(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut a = app.browser().await;
    a.register("cy@example.org").await;
    let mut b = app.browser().await;
    b.login("cy@example.org").await;
    let mut c = app.browser().await;
    c.login("cy@example.org").await;

    let revoked: Revoked = ok(a.post("/api/revoke_other_sessions", &[]).await).await;
    assert_eq!(revoked.ended, 2);
    assert_error(
        b.get("/api/session_state").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::SessionRevoked,
    )
    .await;
    a.state().await;

    b.refresh_csrf().await;
    b.login("cy@example.org").await;
    let res = a.post("/api/sign_out_everywhere", &[]).await;
    assert!(res
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().contains("Max-Age=0")));
    let out: SessionSnapshot = ok(res).await;
    assert_eq!(out.ended, Some(EndReason::LoggedOut));
    assert_error(
        a.get("/api/session_state").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    )
    .await;
    assert_eq!(b.check().await.ended, Some(EndReason::SessionRevoked));
}

async fn a_password_change_needs_a_recent_password_and_rotates(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut a = app.browser().await;
    let before = a.register("dee@example.org").await;
    let mut other = app.browser().await;
    other.login("dee@example.org").await;

    let change = |current: &'static str, end: Option<&'static str>| {
        let mut fields = vec![("current_password", current), ("new_password", NEW_PASSWORD)];
        if let Some(end) = end {
            fields.push(("end_other_sessions", end));
        }
        fields
    };
    let wrong = assert_error(
        a.post("/api/change_password", &change("not the password", Some("true"))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidInput,
    )
    .await;
    assert_eq!(wrong.error.field.as_deref(), Some("current_password"));
    let short = a
        .post("/api/change_password", &[("current_password", PASSWORD), ("new_password", "short")])
        .await;
    let short = assert_error(short, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidInput).await;
    assert_eq!(short.error.field.as_deref(), Some("new_password"));

    // Eleven minutes after signing in, the password is no longer recent.
    app.clock.advance(Duration::from_secs(11 * 60));
    assert_error(
        a.post("/api/change_password", &change(PASSWORD, Some("true"))).await,
        StatusCode::FORBIDDEN,
        ErrorCode::ReauthenticationRequired,
    )
    .await;
    assert_error(
        a.post("/api/reauthenticate", &[("password", "not the password")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidInput,
    )
    .await;
    let confirmed: Reauthenticated = ok(a.post("/api/reauthenticate", &[("password", PASSWORD)]).await).await;
    assert!(confirmed.until.millis() > before.session.created_at.millis() + 11 * 60_000);
    assert!(
        a.state().await.session.reauth_until >= confirmed.until,
        "the session state says until when"
    );

    let res = a.post("/api/change_password", &change(PASSWORD, Some("true"))).await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("sb_session="), "a new session cookie: {cookie}");
    let after: SessionState = ok(res).await;
    assert_ne!(after.session.id, before.session.id, "the session is rotated");
    a.csrf = after.csrf_token.clone();
    assert_eq!(a.state().await.session.id, after.session.id);
    assert_error(
        other.get("/api/session_state").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::SessionRevoked,
    )
    .await;

    let mut fresh = app.browser().await;
    let old = fresh
        .post("/api/login", &[("email", "dee@example.org"), ("password", PASSWORD)])
        .await;
    assert_error(old, StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials).await;
    let new: SessionState = ok(fresh
        .post("/api/login", &[("email", "dee@example.org"), ("password", NEW_PASSWORD)])
        .await)
    .await;
    fresh.csrf = new.csrf_token;

    // Left unticked (the field is absent), the other sessions stay.
    let res = a
        .post(
            "/api/change_password",
            &[("current_password", NEW_PASSWORD), ("new_password", "and another new one")],
        )
        .await;
    let _: SessionState = ok(res).await;
    fresh.state().await;

    // The owner is told, on their Sessions page: the password changes and the failed sign-in
    // with the old password are among its security events (ASVS 6.3.5, 6.3.7).
    let page = fresh.get("/sessions").await.text().await.unwrap();
    let events = page.split("Security events").nth(1).expect("the security events list");
    assert!(events.contains("password changed"), "{events}");
    assert!(events.contains("login failed"), "{events}");
}

async fn administrators_only(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut user = app.browser().await;
    user.register("eve@example.org").await;
    // Every admin endpoint in the registry, and the export, refuses a signed-in non-admin.
    let admin_paths: Vec<_> = endpoints()
        .iter()
        .filter(|e| e.path.starts_with("/api/admin/") || e.path.starts_with("/api/pages/a"))
        .collect();
    assert!(admin_paths.len() >= 6, "{admin_paths:?}");
    let mut refusals = 0;
    for endpoint in admin_paths {
        refusals += 1;
        let res = if endpoint.method == http::Method::GET {
            user.get(&format!("{}?user_id=1", endpoint.path)).await
        } else {
            let fields: Vec<(&str, &str)> = endpoint
                .fields
                .iter()
                .map(|f| (*f, if *f == "public_id" { "AAAAAAAAAAAAAAAAAAAAAA" } else { "1" }))
                .collect();
            user.post(endpoint.path, &fields).await
        };
        assert_error(res, StatusCode::FORBIDDEN, ErrorCode::Forbidden).await;
    }
    assert_error(
        user.get("/api/admin/audit?format=csv").await,
        StatusCode::FORBIDDEN,
        ErrorCode::Forbidden,
    )
    .await;
    for page in ["/admin", "/admin/audit", "/admin/alerts"] {
        let res = user.get(page).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{page} answers 403 to a non-admin");
        assert!(
            res.text().await.unwrap().contains("only administrators may do this"),
            "{page} says why"
        );
    }
    // Every refusal is on the audit record, as the user, refused, saying what was asked (ASVS
    // 16.3.2): once per request, so a page renders its content once, not once per server-side
    // render pass.
    refusals += 4; // the export and the three pages
    let denied = app.audit_of(switchboard::audit::AuditKind::AccessDenied).await;
    assert_eq!(denied.len(), refusals, "{denied:?}");
    for event in &denied {
        assert_eq!(event.entry.outcome, switchboard::audit::Outcome::Refused);
        assert!(event.entry.actor.is_some() && event.entry.session.is_some() && event.entry.ip.is_some());
        assert!(!event.entry.detail.clone().unwrap_or_default().is_empty());
    }
    let anonymous = app.browser().await;
    assert_error(
        anonymous.get("/api/admin/users").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    )
    .await;
}

async fn administrators_end_sessions_and_disable_accounts(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut gus = app.browser().await;
    let gus_state = gus.register("gus@example.org").await;
    let mut gus_phone = app.browser().await;
    gus_phone.login("gus@example.org").await;
    let mut root = app.browser().await;
    root.register("root@example.org").await;
    app.make_admin("root@example.org").await;

    let users: Vec<AdminUserView> = ok(root.get("/api/admin/users").await).await;
    let row = users.iter().find(|u| u.email == "gus@example.org").unwrap();
    assert_eq!(row.live_sessions, 2);
    assert!(users.iter().any(|u| u.email == "root@example.org" && u.is_admin));
    let detail: AdminUserDetail = ok(root.get(&format!("/api/admin/user_sessions?user_id={}", row.id)).await).await;
    assert_eq!(detail.sessions.len(), 2);
    assert_error(
        root.get("/api/admin/user_sessions?user_id=999999").await,
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
    )
    .await;

    let res = root
        .post("/api/admin/revoke_session", &[("public_id", &gus_state.session.id.0)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_error(
        gus.get("/api/session_state").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::SessionRevoked,
    )
    .await;

    let disabled: AdminUserView = ok(root.post("/api/admin/disable_user", &[("user_id", &row.id.to_string())]).await).await;
    assert!(disabled.disabled);
    assert_eq!(disabled.live_sessions, 0, "every session ended at once");
    assert_error(
        gus_phone.get("/api/session_state").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::SessionRevoked,
    )
    .await;
    let mut again = app.browser().await;
    let refused = again
        .post("/api/login", &[("email", "gus@example.org"), ("password", PASSWORD)])
        .await;
    let refused = assert_error(refused, StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials).await;
    let wrong = again
        .post("/api/login", &[("email", "gus@example.org"), ("password", "wrong password")])
        .await;
    assert_eq!(
        refused,
        assert_error(wrong, StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials).await
    );

    let enabled: AdminUserView = ok(root.post("/api/admin/enable_user", &[("user_id", &row.id.to_string())]).await).await;
    assert!(!enabled.disabled);
    again.login("gus@example.org").await;

    // Changes need a recent password; reading does not.
    app.clock.advance(Duration::from_secs(11 * 60));
    assert_error(
        root.post("/api/admin/disable_user", &[("user_id", &row.id.to_string())]).await,
        StatusCode::FORBIDDEN,
        ErrorCode::ReauthenticationRequired,
    )
    .await;
    let _: Vec<AdminUserView> = ok(root.get("/api/admin/users").await).await;
}

async fn logins_beyond_the_limit_evict_or_are_refused(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_SESSIONS_MAX_PER_USER", "2")]).await;
    let mut first = app.browser().await;
    first.register("hal@example.org").await;
    app.clock.advance(Duration::from_secs(5));
    let mut second = app.browser().await;
    second.login("hal@example.org").await;
    app.clock.advance(Duration::from_secs(5));
    let mut third = app.browser().await;
    third.login("hal@example.org").await;
    assert_error(
        first.get("/api/session_state").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::SessionRevoked,
    )
    .await;
    second.state().await;
    third.state().await;

    let refusing = spawn_app(
        TestDatabase::sqlite().await,
        &[
            ("SWITCHBOARD_SESSIONS_MAX_PER_USER", "1"),
            ("SWITCHBOARD_SESSIONS_WHEN_FULL", "refuse"),
        ],
    )
    .await;
    let mut one = refusing.browser().await;
    one.register("ida@example.org").await;
    let two = refusing.browser().await;
    let res = two
        .post("/api/login", &[("email", "ida@example.org"), ("password", PASSWORD)])
        .await;
    assert_error(res, StatusCode::CONFLICT, ErrorCode::TooManySessions).await;
    one.state().await;
}

async fn the_audit_log_is_read_filtered_and_exported(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut jo = app.browser().await;
    jo.register("jo@example.org").await;
    jo.post("/api/logout", &[]).await;
    jo.refresh_csrf().await;
    let bad = jo
        .post("/api/login", &[("email", "JO@example.org "), ("password", "wrong password")])
        .await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    jo.login("jo@example.org").await;
    // A forged token is refused and recorded.
    let forged = jo
        .http
        .post(jo.url("/api/add_draft"))
        .header("X-CSRF-Token", "forged")
        .form(&[("title", "t"), ("body", "b")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let own: Vec<AuditEventView> = ok(jo.get("/api/security_events").await).await;
    let kinds: Vec<&str> = own.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["csrf_refused", "login_succeeded", "login_failed", "logout", "registered"],
        "newest first"
    );
    let failed = own.iter().find(|e| e.kind == "login_failed").unwrap();
    assert_eq!(
        failed.detail.as_deref(),
        Some("jo@example.org"),
        "the attempted email, normalised; never the password"
    );
    assert_eq!(failed.outcome, "refused");

    let mut root = app.browser().await;
    root.register("root@example.org").await;
    app.make_admin("root@example.org").await;
    let page: AuditEventsPage = ok(root.get("/api/admin/audit_page?kind=login_failed").await).await;
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.next_before_id, None);
    let paged: AuditEventsPage = ok(root.get("/api/admin/audit_page?limit=2").await).await;
    assert_eq!(paged.events.len(), 2);
    let older: AuditEventsPage = ok(root
        .get(&format!(
            "/api/admin/audit_page?limit=2&before_id={}",
            paged.next_before_id.unwrap()
        ))
        .await)
    .await;
    assert!(older.events.iter().all(|e| e.id < paged.events[1].id));
    assert_error(
        root.get("/api/admin/audit_page?kind=nonsense").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidInput,
    )
    .await;

    let csv = root.get("/api/admin/audit?format=csv&kind=login_failed").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("switchboard-audit.csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "id,at,kind,actor_user_id,subject_user_id,session_public_id,ip,user_agent,outcome,detail"
    );
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[1].contains(",login_failed,") && lines[1].ends_with(",refused,jo@example.org"),
        "{text}"
    );

    let json: Vec<AuditEventView> = ok(root.get("/api/admin/audit?format=json").await).await;
    assert_eq!(json.len(), 7, "jo: 5 events; root: registered, admin granted");
    assert!(json.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let from = json[0].at.to_string();
    let since: Vec<AuditEventView> = ok(root.get(&format!("/api/admin/audit?format=json&from={from}")).await).await;
    assert!(since.iter().all(|e| e.at >= json[0].at) && !since.is_empty());
    for (query, field) in [("format=xml", "format"), ("from=yesterday", "from"), ("user_id=abc", "user_id")] {
        let err = assert_error(
            root.get(&format!("/api/admin/audit?{query}")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidInput,
        )
        .await;
        assert_eq!(err.error.field.as_deref(), Some(field));
    }
    assert_error(
        root.get("/api/admin/audit?page=2").await,
        StatusCode::BAD_REQUEST,
        ErrorCode::BadRequest,
    )
    .await;
}

switchboard::on_both_backends!(
    sessions_are_listed_and_a_revoked_one_is_refused_at_once,
    another_users_session_cannot_be_seen_or_ended,
    ending_the_others_and_signing_out_everywhere,
    a_password_change_needs_a_recent_password_and_rotates,
    administrators_only,
    administrators_end_sessions_and_disable_accounts,
    logins_beyond_the_limit_evict_or_are_refused,
    the_audit_log_is_read_filtered_and_exported,
);
