//! Pages: plain forms without JavaScript, and where signed-out visitors are sent.

use crate::support::{spawn_app, PASSWORD};
use reqwest::StatusCode;
use switchboard::testing::TestDatabase;

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
    let res = b.get("/").await;
    assert_eq!(res.headers()["cache-control"], "no-store", "pages carry the session; never cached");
    let page = res.text().await.unwrap();
    assert!(page.contains("<h1>Dashboard"), "signed in, the dashboard renders: {page}");
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
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"name="csrf_token""#));
    assert!(page.contains(r#"href="/register""#), "registration is on by default, and linked");
}

switchboard::on_both_backends!(plain_forms_redirect, pages_redirect_when_signed_out);
