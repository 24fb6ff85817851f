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

switchboard::on_both_backends!(every_user_written_text_renders_as_text);
