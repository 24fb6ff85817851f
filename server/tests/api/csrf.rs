//! CSRF: every change needs the caller's token, and cross-site requests are refused.

use crate::support::{assert_error, cookie_header, ok, session_cookie_set_by, spawn_app, Browser, Fields, PASSWORD};
use app::error::ErrorCode;
use app::models::{PlatformView, SessionSnapshot, SessionState};
use reqwest::StatusCode;
use switchboard::testing::TestDatabase;

/// The fields of an `add_platform` these tests send.
const NEW_PLATFORM: [(&str, &str); 4] = [
    ("kind", "other"),
    ("label", "X"),
    ("instance_url", "https://x.org"),
    ("handle", "x"),
];

async fn add_platform_with(b: &Browser, token: &str) -> StatusCode {
    b.http
        .post(b.url("/api/add_platform"))
        .header("X-CSRF-Token", token)
        .form(&NEW_PLATFORM)
        .send()
        .await
        .unwrap()
        .status()
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
    let refused: [(Fields, Option<String>); 4] = [
        (&[], None),
        (&[], Some("forged".into())),
        (&[("Origin", "https://evil.example")], Some(b.csrf.clone())),
        (&[("Sec-Fetch-Site", "cross-site")], Some(b.csrf.clone())),
    ];
    for (headers, token) in refused {
        assert_error(attempt(headers, token).await, StatusCode::FORBIDDEN, ErrorCode::CsrfFailed).await;
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
    assert_eq!(add_platform_with(&b, &pre).await, StatusCode::FORBIDDEN);
}

/// The `name=value` of every cookie an answer sets.
fn cookies_set_by(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .collect()
}

/// A client that keeps only the session cookie (a script): its signed-in answers set no cookie,
/// and the answer that signs it out gives it the pre-session its next login's token is bound to.
async fn a_pre_session_is_made_when_an_answer_needs_one(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    let res = b
        .post(
            "/api/register",
            &[("email", "pia@example.org"), ("password", PASSWORD), ("display_name", "Pia")],
        )
        .await;
    let session = session_cookie_set_by(&res).expect("registration sets the session cookie");
    let state: SessionState = ok(res).await;
    b.csrf = state.csrf_token;

    let script = app.bare();
    let res = script
        .get(app.url("/api/session_state"))
        .headers(cookie_header(&session))
        .send()
        .await
        .unwrap();
    assert!(
        cookies_set_by(&res).is_empty(),
        "a signed-in read sets no cookie: {:?}",
        cookies_set_by(&res)
    );
    let state: SessionState = ok(res).await;
    let res = script
        .post(app.url("/api/add_platform"))
        .headers(cookie_header(&session))
        .header("X-CSRF-Token", &state.csrf_token)
        .form(&NEW_PLATFORM)
        .send()
        .await
        .unwrap();
    assert!(
        cookies_set_by(&res).is_empty(),
        "a signed-in change sets no cookie: {:?}",
        cookies_set_by(&res)
    );
    ok::<PlatformView>(res).await;

    // Signing out answers a token bound to a pre-session, so it sets that pre-session's cookie.
    let res = script
        .post(app.url("/api/logout"))
        .headers(cookie_header(&session))
        .header("X-CSRF-Token", &state.csrf_token)
        .send()
        .await
        .unwrap();
    let set = cookies_set_by(&res);
    let pre = set
        .iter()
        .find(|c| c.starts_with("sb_pre="))
        .unwrap_or_else(|| panic!("signing out sets a pre-session: {set:?}"))
        .clone();
    let signed_out: SessionSnapshot = ok(res).await;
    let res = script
        .post(app.url("/api/login"))
        .headers(cookie_header(&pre))
        .header("X-CSRF-Token", &signed_out.csrf_token)
        .form(&[("email", "pia@example.org"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    ok::<SessionState>(res).await;

    // A signed-out caller without a pre-session is given one, as before.
    let res = script.get(app.url("/api/session_check")).send().await.unwrap();
    assert!(cookies_set_by(&res).iter().any(|c| c.starts_with("sb_pre=")));
    let res = script.get(app.url("/login")).send().await.unwrap();
    assert!(
        cookies_set_by(&res).iter().any(|c| c.starts_with("sb_pre=")),
        "a page sets a pre-session"
    );
}

switchboard::on_both_backends!(csrf_is_required_everywhere, a_pre_session_is_made_when_an_answer_needs_one);
