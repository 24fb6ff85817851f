//! Hostile input: values built to break out of the page must come back as text.

use crate::support::{ok, spawn_app, Browser};
use app::models::DraftView;
use switchboard::testing::TestDatabase;

/// Breaks out of a `<textarea>`, an attribute or plain text, if the page lets it.
const PAYLOADS: [&str; 3] = [
    "</textarea><script>window.pwned=1</script>",
    "\"><img src=x onerror=window.pwned=2>",
    "<b onmouseover=alert(3)>x</b></title><script>window.pwned=4</script>",
];

fn assert_inert(page: &str, path: &str) {
    for raw in ["<script>window.pwned", "<img src=x onerror", "<b onmouseover"] {
        assert!(!page.contains(raw), "{path} renders a hostile value as markup: …{raw}…");
    }
}

async fn every_user_written_text_renders_as_text(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b: Browser = app.browser().await;
    let display = PAYLOADS[1];
    let state = ok::<app::models::SessionState>(
        b.post(
            "/api/register",
            &[
                ("email", "xss@example.org"),
                ("password", crate::support::PASSWORD),
                ("display_name", display),
            ],
        )
        .await,
    )
    .await;
    b.csrf = state.csrf_token;
    for (i, payload) in PAYLOADS.iter().enumerate() {
        let label = format!("{}{i}", &payload[..payload.len().min(60)]);
        let res = b
            .post(
                "/api/add_platform",
                &[
                    ("kind", "other"),
                    ("label", &label),
                    ("instance_url", "https://x.org"),
                    ("handle", &payload.replace(' ', "")),
                ],
            )
            .await;
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }
    for payload in PAYLOADS {
        let _: DraftView = ok(b
            .post(
                "/api/add_draft",
                &[("title", &payload[..payload.len().min(200)]), ("body", payload)],
            )
            .await)
        .await;
    }
    for path in ["/", "/platforms", "/session", "/sessions"] {
        let page = b.get(path).await.text().await.unwrap();
        assert!(page.contains("window.pwned"), "{path} shows the values (escaped)");
        assert_inert(&page, path);
    }
}

/// The nonce a page's Content-Security-Policy names.
fn nonce_of(csp: &str) -> String {
    let start = csp.find("'nonce-").expect("a nonce") + "'nonce-".len();
    csp[start..].split('\'').next().unwrap().to_owned()
}

async fn pages_carry_a_nonce_csp_and_the_security_headers(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    b.register("csp@example.org").await;
    let mut nonces = Vec::new();
    for path in ["/", "/login", "/sessions"] {
        let res = b.get(path).await;
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
        for directive in [
            "default-src 'self'",
            "script-src 'self' 'nonce-",
            "'wasm-unsafe-eval'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp} lacks {directive}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(res.headers()["cross-origin-opener-policy"], "same-origin");
        assert_eq!(res.headers()["cross-origin-resource-policy"], "same-origin");
        assert!(res.headers()["permissions-policy"].to_str().unwrap().contains("camera=()"));
        assert!(res.headers().get("strict-transport-security").is_none(), "no HSTS over plain HTTP");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(res.headers()["referrer-policy"], "same-origin");
        assert_eq!(res.headers()["x-frame-options"], "DENY");
        assert!(
            !res.headers().keys().any(|k| k.as_str().starts_with("access-control-")),
            "no CORS: other sites get nothing"
        );
        let nonce = nonce_of(&csp);
        let page = res.text().await.unwrap();
        let scripts = page.matches("<script").count();
        assert!(scripts > 0, "{path} has inline scripts");
        assert_eq!(
            page.matches(&format!("nonce=\"{nonce}\"")).count(),
            scripts,
            "{path}: every script carries the nonce"
        );
        nonces.push(nonce);
    }
    nonces.dedup();
    assert_eq!(nonces.len(), 3, "a fresh nonce for every response");
    let json = b.get("/api/session_state").await;
    assert!(json.headers().get("content-security-policy").is_none(), "JSON needs no CSP");

    let out = b.post("/api/logout", &[]).await;
    assert_eq!(
        out.headers()["clear-site-data"],
        "\"cache\"",
        "signing out clears the browser's cache of the site"
    );

    let secure = spawn_app(TestDatabase::sqlite().await, &[("SWITCHBOARD_COOKIE_SECURE", "true")]).await;
    let res = secure.bare().get(secure.url("/login")).send().await.unwrap();
    assert!(res.headers()["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
}

/// Values a vulnerability scanner submits: injections, huge and odd numbers, control and
/// direction characters, paths and URLs, empty and oversized.
fn crafted_values() -> Vec<String> {
    let mut values: Vec<String> = [
        "",
        "0",
        "-1",
        "18446744073709551616",
        "1e309",
        "' OR '1'='1' --",
        "\"><script>window.pwned=1</script>",
        "{{7*7}}${7*7}",
        "../../../../etc/passwd",
        "//evil.example/",
        "javascript:alert(1)",
        "\u{0}\u{1b}[31m\u{202e}",
        "null",
        "[]",
        "ÿ😀\u{fffd}",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    values.push("A".repeat(5_000));
    values
}

/// A scanner's crawl, all at once: every page with crafted query parameters, and every server
/// function in the registry with crafted values in each field it takes (as a signed-in admin,
/// as a signed-in user and signed out). Every answer must arrive (no hang) and none may be a
/// 5xx; afterwards the server still serves.
async fn a_scanner_crawl_gets_an_answer_for_everything(db: TestDatabase) {
    use app::registry::endpoints;
    use std::sync::Arc;
    use std::time::Duration;

    let app = spawn_app(db, &[]).await;
    let mut admin = app.browser().await;
    admin.register("scan-admin@example.org").await;
    app.make_admin("scan-admin@example.org").await;
    admin.add_platform("Scanned").await;
    let mut user = app.browser().await;
    user.register("scan-user@example.org").await;
    let anonymous = app.browser().await;
    let clients = Arc::new([admin, user, anonymous]);

    let pages = [
        "/",
        "/login",
        "/register",
        "/platforms",
        "/session",
        "/sessions",
        "/admin",
        "/admin/audit",
        "/admin/alerts",
        "/nope",
    ];
    let params = ["next", "error", "page", "before", "user", "kind", "q", "format", "id"];
    let values = crafted_values();
    /// One request of the crawl: which client sends it, how, where, with what fields.
    type Probe = (usize, reqwest::Method, String, Vec<(String, String)>);
    let mut requests: Vec<Probe> = Vec::new();
    for client in 0..clients.len() {
        for page in pages {
            for value in &values {
                let query = params.iter().map(|p| (p.to_string(), value.clone())).collect();
                requests.push((client, reqwest::Method::GET, page.to_owned(), query));
            }
        }
        for endpoint in endpoints() {
            // Ending the crawler's own session early would leave the rest signed out.
            if [
                "/api/logout",
                "/api/sign_out_everywhere",
                "/api/revoke_other_sessions",
                "/api/disown_session",
            ]
            .contains(&endpoint.path)
            {
                continue;
            }
            for value in &values {
                let fields = endpoint.fields.iter().map(|f| (f.to_string(), value.clone())).collect();
                let method = reqwest::Method::from_bytes(endpoint.method.as_str().as_bytes()).unwrap();
                requests.push((client, method, endpoint.path.to_owned(), fields));
            }
            // And with every field missing.
            let method = reqwest::Method::from_bytes(endpoint.method.as_str().as_bytes()).unwrap();
            requests.push((client, method, endpoint.path.to_owned(), Vec::new()));
        }
    }
    let total = requests.len();
    let limit = Arc::new(tokio::sync::Semaphore::new(24));
    let mut tasks = tokio::task::JoinSet::new();
    for (client, method, path, fields) in requests {
        let (clients, limit) = (clients.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            let b = &clients[client];
            let req = b.http.request(method.clone(), b.url(&path)).header("X-CSRF-Token", &b.csrf);
            let req = if method == reqwest::Method::GET {
                req.query(&fields)
            } else {
                req.form(&fields)
            };
            let res = tokio::time::timeout(Duration::from_secs(20), req.send())
                .await
                .unwrap_or_else(|_| panic!("{method} {path} {fields:.80?} hung"))
                .unwrap_or_else(|e| panic!("{method} {path}: {e:.200}"));
            let status = res.status();
            let html = res
                .headers()
                .get("content-type")
                .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
            let body = tokio::time::timeout(Duration::from_secs(20), res.text())
                .await
                .unwrap_or_else(|_| panic!("{method} {path} {fields:.80?}: the body never ended"))
                .unwrap_or_default();
            (status, html, format!("{method} {path} {fields:.200?}"), body)
        });
    }
    let mut failures = Vec::new();
    let mut answered = 0;
    while let Some(done) = tasks.join_next().await {
        let (status, html, what, body) = done.unwrap();
        answered += 1;
        if status.is_server_error() {
            failures.push(format!("{status} for {what}: {body:.200}"));
        }
        if html {
            assert_inert(&body, &what);
        }
    }
    println!("scanner crawl: {answered} requests, {} answered 5xx", failures.len());
    assert_eq!(answered, total);
    assert!(failures.is_empty(), "{failures:#?}");
    let b = &clients[0];
    assert_eq!(b.get("/").await.status(), reqwest::StatusCode::OK, "still serving");
}

switchboard::on_both_backends!(
    every_user_written_text_renders_as_text,
    pages_carry_a_nonce_csp_and_the_security_headers,
    a_scanner_crawl_gets_an_answer_for_everything
);
