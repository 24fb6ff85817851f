//! CSRF: every change needs the caller's token, and cross-site requests are refused.

use crate::support::{assert_error, spawn_app, Browser, Fields, PASSWORD};
use app::error::ErrorCode;
use reqwest::StatusCode;
use switchboard::testing::TestDatabase;

async fn add_platform_with(b: &Browser, token: &str) -> StatusCode {
    b.http
        .post(b.url("/api/add_platform"))
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

switchboard::on_both_backends!(csrf_is_required_everywhere);
