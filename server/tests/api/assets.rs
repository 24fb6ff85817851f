//! What the browser downloads: the build under `/pkg` (server/src/http/assets.rs), named by a
//! hash of its content, cached as immutable, precompressed copies to browsers that take them,
//! no session work; and pages compressed on the fly without giving away the CSRF token (BREACH).

use crate::support::{spawn_app, Fields, TestApp};
use reqwest::StatusCode;
use std::path::Path;
use switchboard::testing::TestDatabase;

/// A site with a build in it: each file's content, and its `.br` and `.gz` copies (marked, so a
/// test can tell which one it got).
fn write_site(root: &Path, wasm: &[u8]) {
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("switchboard.js"), b"export default function init() {}").unwrap();
    std::fs::write(pkg.join("switchboard.css"), b"body { margin: 0 }").unwrap();
    std::fs::write(pkg.join("switchboard.wasm"), wasm).unwrap();
    std::fs::write(pkg.join("switchboard.wasm.br"), b"brotli copy").unwrap();
    std::fs::write(pkg.join("switchboard.wasm.gz"), b"gzip copy").unwrap();
}

async fn app_on(site: &Path) -> TestApp {
    spawn_app(TestDatabase::sqlite().await, &[("SWITCHBOARD_SITE_ROOT", site.to_str().unwrap())]).await
}

/// The build's name in a page (`switchboard-<16 hex>`), and the WASM's path.
async fn build_name(app: &TestApp) -> (String, String) {
    let page = app.bare().get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    let start = page.find("/pkg/switchboard-").expect("the page names the hashed build") + "/pkg/".len();
    let name: String = page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    assert_eq!(name.len(), "switchboard-".len() + 16, "{name}");
    for ext in ["js", "css"] {
        assert!(page.contains(&format!("/pkg/{name}.{ext}")), "the page names {name}.{ext}");
    }
    // Leptos adds `_bg` to the WASM's name when the server was built without `LEPTOS_OUTPUT_NAME`.
    let wasm = [format!("/pkg/{name}.wasm"), format!("/pkg/{name}_bg.wasm")]
        .into_iter()
        .find(|path| page.contains(path.as_str()))
        .expect("the page names the WASM");
    (name, wasm)
}

async fn get(app: &TestApp, path: &str, encoding: Option<&str>) -> reqwest::Response {
    let mut req = app.bare().get(app.url(path));
    if let Some(encoding) = encoding {
        req = req.header("Accept-Encoding", encoding);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_build_is_served_by_content_hash_immutable_and_precompressed() {
    let site = tempfile::tempdir().unwrap();
    write_site(site.path(), b"\0asm one build");
    let app = app_on(site.path()).await;
    let (name, wasm) = build_name(&app).await;

    for (accept, encoding, body) in [
        (Some("br, gzip"), Some("br"), &b"brotli copy"[..]),
        (Some("gzip"), Some("gzip"), &b"gzip copy"[..]),
        (None, None, &b"\0asm one build"[..]),
    ] {
        let res = get(&app, &wasm, accept).await;
        assert_eq!(res.status(), StatusCode::OK);
        let headers = res.headers().clone();
        assert_eq!(headers["cache-control"], "public, max-age=31536000, immutable");
        assert_eq!(headers["content-type"], "application/wasm");
        assert_eq!(headers.get("content-encoding").map(|v| v.to_str().unwrap()), encoding, "{accept:?}");
        assert!(headers.get("set-cookie").is_none(), "assets touch no session");
        assert_eq!(&res.bytes().await.unwrap()[..], body, "{accept:?}");
    }
    // The plain name still works, revalidated each time; other names are not served.
    let plain = get(&app, "/pkg/switchboard.wasm", None).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(plain.headers()["cache-control"], "no-cache");
    for other in [
        "/pkg/switchboard-0000000000000000.wasm",
        "/pkg/switchboard.wasm.br",
        "/pkg/other.js",
    ] {
        assert_eq!(get(&app, other, None).await.status(), StatusCode::NOT_FOUND, "{other}");
    }
    let css = get(&app, &format!("/pkg/{name}.css"), None).await;
    assert_eq!(css.headers()["content-type"], "text/css");

    // A new build is a new name, so browsers fetch it once and never revalidate the old one.
    let next = tempfile::tempdir().unwrap();
    write_site(next.path(), b"\0asm the next build");
    assert_ne!(build_name(&app_on(next.path()).await).await.0, name);
}

/// The `csrf-token` meta of a page.
fn meta_token(page: &str) -> String {
    const META: &str = "name=\"csrf-token\" content=\"";
    let at = page.find(META).expect("the page carries its token") + META.len();
    page[at..].chars().take_while(|c| *c != '"').collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_compressed_and_their_csrf_token_is_new_text_each_time() {
    let app = spawn_app(TestDatabase::sqlite().await, &[]).await;
    let mut b = app.browser().await;
    b.register("breach@example.org").await;
    // A page that reflects what an attacker puts in its address, beside the token.
    let page = |encoding: &'static str| {
        let req = b
            .http
            .get(b.url("/sessions?__err=csrf_token%3D"))
            .header("Accept-Encoding", encoding);
        async move { req.send().await.unwrap() }
    };
    let plain = page("identity").await;
    assert_eq!(plain.headers().get("content-encoding"), None);
    let plain = plain.bytes().await.unwrap();
    for (accept, encoding) in [("br", "br"), ("gzip", "gzip")] {
        let res = page(accept).await;
        assert_eq!(res.headers()["content-encoding"], encoding);
        assert!(res.headers()["vary"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding"));
        let packed = res.bytes().await.unwrap();
        println!("[figures] /sessions: {} bytes, {} with {encoding}", plain.len(), packed.len());
        assert!(packed.len() * 2 < plain.len(), "{encoding}: {} of {}", packed.len(), plain.len());
    }
    // API answers are left alone.
    let api = b
        .http
        .get(b.url("/api/session_state"))
        .header("Accept-Encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(api.headers().get("content-encoding"), None);

    // The token a page carries is different text in every answer, so its length under
    // compression says nothing about it; each one works.
    let text = |res: reqwest::Response| async move { res.text().await.unwrap() };
    let (first, second) = (
        meta_token(&text(page("identity").await).await),
        meta_token(&text(page("identity").await).await),
    );
    assert_ne!(first, second);
    for token in [first, second] {
        b.csrf = token;
        let fields: Fields = &[
            ("label", "Masked"),
            ("kind", "other"),
            ("instance_url", "https://example.org"),
            ("handle", "@me"),
        ];
        assert_eq!(b.post("/api/add_platform", fields).await.status(), StatusCode::OK);
    }
}

/// Every hidden CSRF field of a server-rendered page carries a token (the page's content is
/// rendered once per request and shared by the rendering passes; it once came out with empty
/// fields when a pass that had already gone drove it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_on_a_rendered_page_carries_a_token() {
    let app = spawn_app(TestDatabase::sqlite().await, &[]).await;
    let mut b = app.browser().await;
    b.register("forms@example.org").await;
    for _ in 0..30 {
        let page = b.get("/sessions").await.text().await.unwrap();
        let fields: Vec<&str> = page.split("name=\"csrf_token\" value=\"").skip(1).collect();
        assert!(fields.len() >= 2, "the page has its forms");
        for field in fields {
            let token: String = field.chars().take_while(|c| *c != '"').collect();
            assert_eq!(token.len(), 86, "a masked token in every form");
        }
    }
}
