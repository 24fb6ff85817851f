//! Drafts follow the session's active platform.

use crate::support::{ok, spawn_app};
use app::models::DraftView;
use reqwest::StatusCode;
use switchboard::testing::TestDatabase;

async fn drafts_follow_the_active_platform(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    b.register("jo@example.org").await;
    let p1 = b.add_platform("One").await;
    let p2 = b.add_platform("Two").await;
    let added: DraftView = ok(b.post("/api/add_draft", &[("title", "for one"), ("body", "")]).await).await;
    assert_eq!(added.platform_id, p1);
    assert_eq!(
        b.post("/api/switch_platform", &[("platform_id", &p2.to_string())]).await.status(),
        StatusCode::OK
    );
    let drafts: Vec<DraftView> = ok(b.get("/api/list_drafts").await).await;
    assert_eq!(drafts, []);
    b.post("/api/switch_platform", &[("platform_id", &p1.to_string())]).await;
    let drafts: Vec<DraftView> = ok(b.get("/api/list_drafts").await).await;
    assert_eq!(drafts, [added]);
}

switchboard::on_both_backends!(drafts_follow_the_active_platform);
