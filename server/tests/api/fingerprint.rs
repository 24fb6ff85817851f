//! Stolen cookies: each test plays someone using a victim's session cookie from their own
//! browser and network, and shows what the fingerprint's drift does (src/fingerprint.rs): a
//! browser update is only recorded; a new network is recorded, alerted and needs the password
//! again; another browser on another network ends the session, flags the owner's other
//! sessions and raises a critical alert. Without fingerprints every one of these requests would
//! be served as the victim.

use crate::support::{assert_error, cookie_header, ok, session_cookie_set_by, spawn_app, Device, TestApp, PASSWORD};
use app::error::ErrorCode;
use app::models::{SessionInfo, SessionState};
use reqwest::{Client, Response, StatusCode};
use switchboard::audit::AuditKind;
use switchboard::testing::TestDatabase;

const CHROME_156: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.8078.73 Safari/537.36";
const CHROME_157: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/157.0.1.2 Safari/537.36";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// The victim's laptop.
const HOME: Device = Device {
    address: Some("127.0.0.1"),
    user_agent: Some(CHROME_156),
    accept_language: Some("en-GB,en;q=0.9"),
};
/// The same laptop after a browser update.
const UPDATED: Device = Device {
    user_agent: Some(CHROME_157),
    ..HOME
};
/// The same laptop on another network (another /24).
const CAFE: Device = Device {
    address: Some("127.0.1.1"),
    ..HOME
};
/// Someone else's browser on someone else's network.
const THIEF: Device = Device {
    address: Some("127.0.2.1"),
    user_agent: Some(FIREFOX),
    accept_language: Some("de-DE"),
};
/// The victim's phone, signed in on its own.
const PHONE: Device = Device {
    address: Some("127.0.0.1"),
    user_agent: Some(FIREFOX),
    accept_language: Some("en-GB"),
};

/// A session of `email` signed in on `device`: its cookie (`name=value`) and CSRF token.
struct Stolen {
    cookie: String,
    csrf: String,
    public_id: String,
}

async fn sign_in(app: &TestApp, device: Device<'_>, email: &str, register: bool) -> Stolen {
    let b = app.browser_as(device).await;
    let res = if register {
        b.post(
            "/api/register",
            &[("email", email), ("password", PASSWORD), ("display_name", "Vic")],
        )
        .await
    } else {
        b.post("/api/login", &[("email", email), ("password", PASSWORD)]).await
    };
    let cookie = session_cookie_set_by(&res).expect("a session cookie");
    let state: SessionState = ok(res).await;
    Stolen {
        cookie,
        csrf: state.csrf_token,
        public_id: state.session.id.0,
    }
}

async fn get_with(app: &TestApp, client: &Client, session: &Stolen, path: &str) -> Response {
    client
        .get(app.url(path))
        .headers(cookie_header(&session.cookie))
        .send()
        .await
        .unwrap()
}

/// `client` with `session`'s cookie asks for its state.
async fn state_with(app: &TestApp, client: &Client, session: &Stolen) -> Response {
    get_with(app, client, session, "/api/session_state").await
}

async fn post_with(app: &TestApp, client: &Client, session: &Stolen, path: &str, fields: &[(&str, &str)]) -> Response {
    client
        .post(app.url(path))
        .headers(cookie_header(&session.cookie))
        .header("X-CSRF-Token", &session.csrf)
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// A password change with a wrong current password: `422` when the session's password is
/// recent enough for it, `403 reauthentication_required` when it must be entered again first.
async fn sensitive_action_needs_password(app: &TestApp, client: &Client, session: &Stolen) -> bool {
    let fields = [("current_password", "not the password"), ("new_password", "a new password 123")];
    let res = post_with(app, client, session, "/api/change_password", &fields).await;
    match res.status() {
        StatusCode::UNPROCESSABLE_ENTITY => false,
        StatusCode::FORBIDDEN => {
            assert_error(res, StatusCode::FORBIDDEN, ErrorCode::ReauthenticationRequired).await;
            true
        }
        other => panic!("unexpected {other}: {}", res.text().await.unwrap()),
    }
}

async fn drift_rows(app: &TestApp) -> Vec<String> {
    let rows = app.audit_of(AuditKind::FingerprintDrift).await;
    rows.into_iter().map(|e| e.entry.detail.unwrap_or_default()).collect()
}

/// Three requests from `client` are served, and the drift is on the record once: the `rows`th
/// drift row, of `tier`, naming `changed`.
async fn served_and_recorded_once(app: &TestApp, client: &Client, session: &Stolen, rows: usize, tier: &str, changed: &str) {
    for _ in 0..3 {
        ok::<SessionState>(state_with(app, client, session).await).await;
    }
    let recorded = drift_rows(app).await;
    assert_eq!(recorded.len(), rows, "once, not once per request: {recorded:?}");
    let newest = &recorded[0];
    assert!(
        newest.contains(&format!("\"tier\":\"{tier}\"")) && newest.contains(changed),
        "{recorded:?}"
    );
}

async fn drift_alerts(app: &TestApp) -> Vec<(String, Option<String>)> {
    let alerts = app.state.ctx.engine.alerts(100, None).await.unwrap();
    alerts
        .into_iter()
        .filter(|a| a.kind.as_str() == "fingerprint_drift")
        .map(|a| (a.severity.as_str().to_owned(), a.session.map(|s| s.as_str().to_owned())))
        .collect()
}

async fn another_browser_on_another_network_ends_the_session_and_flags_the_others(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let laptop = sign_in(&app, HOME, "vic@example.org", true).await;
    let phone = sign_in(&app, PHONE, "vic@example.org", false).await;
    let (thief, phone_client) = (app.client_as(THIEF), app.client_as(PHONE));

    // The thief replays the laptop's cookie: refused, and refused again.
    for _ in 0..2 {
        assert_error(
            state_with(&app, &thief, &laptop).await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::SessionRevoked,
        )
        .await;
    }
    // The session is over for the laptop too (the cookie was its own).
    let home = app.client_as(HOME);
    assert_error(
        state_with(&app, &home, &laptop).await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::SessionRevoked,
    )
    .await;

    // Recorded once, with why; a critical alert names the session.
    let rows = drift_rows(&app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("\"tier\":\"large\"") && rows[0].contains("browser_family") && rows[0].contains("network"));
    let revoked = app.audit_of(AuditKind::SessionRevoked).await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].entry.detail.as_deref(), Some("fingerprint"));
    assert_eq!(
        drift_alerts(&app).await,
        vec![("critical".to_owned(), Some(laptop.public_id.clone()))]
    );

    // The phone, a session of the same account, is flagged: listed, told on its Sessions page,
    // and its sensitive actions need the password again.
    let listed: Vec<SessionInfo> = ok(get_with(&app, &phone_client, &phone, "/api/sessions").await).await;
    assert_eq!(listed.len(), 1, "only the phone is left");
    assert!(listed[0].flagged_at.is_some(), "{listed:?}");
    let page = get_with(&app, &phone_client, &phone, "/sessions").await.text().await.unwrap();
    assert!(
        page.contains("because it was used from a different browser on a different network"),
        "the owner is told"
    );
    assert!(page.contains("fingerprint drift"), "and it is among the security events");
    assert!(sensitive_action_needs_password(&app, &phone_client, &phone).await);
    // Entering the password clears the flag.
    ok::<serde_json::Value>(post_with(&app, &phone_client, &phone, "/api/reauthenticate", &[("password", PASSWORD)]).await).await;
    let listed: Vec<SessionInfo> = ok(get_with(&app, &phone_client, &phone, "/api/sessions").await).await;
    assert_eq!(listed[0].flagged_at, None);
    assert!(!sensitive_action_needs_password(&app, &phone_client, &phone).await);
}

async fn a_new_network_needs_the_password_again_and_a_browser_update_is_only_recorded(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let laptop = sign_in(&app, HOME, "vic@example.org", true).await;

    // A browser update: served, recorded once, no alert, nothing asked.
    let updated = app.client_as(UPDATED);
    served_and_recorded_once(&app, &updated, &laptop, 1, "small", "browser_version").await;
    assert!(drift_alerts(&app).await.is_empty());
    assert!(!sensitive_action_needs_password(&app, &updated, &laptop).await);

    // The updated browser on another network (someone who copied the cookie, or the owner in a
    // café): served, but recorded, alerted, and the password is asked for before a change.
    let cafe = app.client_as(Device {
        user_agent: Some(CHROME_157),
        ..CAFE
    });
    served_and_recorded_once(&app, &cafe, &laptop, 2, "medium", "network").await;
    assert_eq!(
        drift_alerts(&app).await,
        vec![("warning".to_owned(), Some(laptop.public_id.clone()))]
    );
    assert!(sensitive_action_needs_password(&app, &cafe, &laptop).await);
    ok::<serde_json::Value>(post_with(&app, &cafe, &laptop, "/api/reauthenticate", &[("password", PASSWORD)]).await).await;
    assert!(!sensitive_action_needs_password(&app, &cafe, &laptop).await);
}

async fn settings_choose_what_drift_does(db: TestDatabase) {
    // A policy that only alerts, even for another browser on another network.
    let app = spawn_app(
        db,
        &[
            ("SWITCHBOARD_FINGERPRINT_ON_LARGE", "alert"),
            ("SWITCHBOARD_FINGERPRINT_ON_MEDIUM", "alert"),
        ],
    )
    .await;
    let laptop = sign_in(&app, HOME, "vic@example.org", true).await;
    let thief = app.client_as(THIEF);
    ok::<SessionState>(state_with(&app, &thief, &laptop).await).await;
    assert_eq!(
        drift_alerts(&app).await,
        vec![("critical".to_owned(), Some(laptop.public_id.clone()))]
    );
    assert!(
        !sensitive_action_needs_password(&app, &thief, &laptop).await,
        "alert does not challenge"
    );
}

async fn fingerprints_can_be_switched_off(db: TestDatabase) {
    let app = spawn_app(db, &[("SWITCHBOARD_FINGERPRINT_ENABLED", "false")]).await;
    let laptop = sign_in(&app, HOME, "vic@example.org", true).await;
    ok::<SessionState>(state_with(&app, &app.client_as(THIEF), &laptop).await).await;
    assert!(drift_rows(&app).await.is_empty());
    assert!(drift_alerts(&app).await.is_empty());
    let stored: Option<String> = sqlx::query_scalar("SELECT fingerprint FROM sessions")
        .fetch_one(app.state.ctx.engine.db().reader())
        .await
        .unwrap();
    assert_eq!(stored, None, "nothing recorded when off");
}

async fn only_keyed_hashes_are_stored(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    sign_in(&app, HOME, "vic@example.org", true).await;
    let stored: Option<String> = sqlx::query_scalar("SELECT fingerprint FROM sessions")
        .fetch_one(app.state.ctx.engine.db().reader())
        .await
        .unwrap();
    let stored = stored.expect("a fingerprint");
    // `v1` and four hashes of 16 hex digits: nothing readable (no "Chrome", "en-GB", "127.0.0.1").
    let fields: Vec<&str> = stored.split('.').collect();
    assert_eq!(fields[0], "v1", "{stored}");
    assert_eq!(fields.len(), 5, "{stored}");
    for field in &fields[1..] {
        assert!(field.len() == 16 && field.bytes().all(|b| b.is_ascii_hexdigit()), "{stored}");
    }
}

switchboard::on_both_backends!(
    another_browser_on_another_network_ends_the_session_and_flags_the_others,
    a_new_network_needs_the_password_again_and_a_browser_update_is_only_recorded,
    settings_choose_what_drift_does,
    fingerprints_can_be_switched_off,
    only_keyed_hashes_are_stored,
);
