//! Figures for operators (`switchboard maintenance stats`, `/metrics`) and the database's upkeep
//! (`switchboard maintenance optimize`).

use crate::support::{harness, meta};
use std::time::Duration;
use switchboard::testing::TestDatabase;

async fn stats_count_live_sessions_by_platform_account_and_length(db: TestDatabase) {
    let h = harness(db).await;
    h.user("ann@example.org").await;
    h.user("bob@example.org").await;
    h.user("cat@example.org").await;
    h.login("cat@example.org").await;
    let (_, first) = h.login("ann@example.org").await;
    let (_, _second) = h.login("ann@example.org").await;
    let (bobs, _) = h.login("bob@example.org").await;
    // Ann's first platform becomes the active one of both her sessions.
    let platform = h.platform(&first, "A").await;
    h.engine.switch_platform(&first, &meta(), platform.id, None).await.unwrap();
    // Bob's session lasts ten minutes, then signs out.
    h.clock.advance(Duration::from_secs(10 * 60));
    h.engine.logout(&bobs, &meta()).await.unwrap();

    let stats = h.engine.session_stats(10).await.unwrap();
    assert_eq!(stats.live, 3);
    assert_eq!(h.engine.live_session_count().await.unwrap(), 3);
    assert_eq!(stats.by_platform, vec![("mastodon".to_owned(), 2), ("none".to_owned(), 1)]);
    assert_eq!(
        stats.top_users,
        vec![("ann@example.org".to_owned(), 2), ("cat@example.org".to_owned(), 1)]
    );
    assert_eq!(stats.ended, 1);
    assert_eq!(stats.lengths[1], ("5 minutes to 1 hour", 1));
    assert_eq!(stats.lengths.iter().map(|(_, n)| n).sum::<u64>(), 1);
    assert_eq!(h.engine.session_stats(1).await.unwrap().top_users.len(), 1);

    // Past the idle timeout nothing is live, before the cleanup has run as after.
    h.clock.advance(switchboard::SessionPolicy::default().idle_timeout);
    assert_eq!(h.engine.session_stats(10).await.unwrap().live, 0);
    assert_eq!(h.engine.live_session_count().await.unwrap(), 0);
}

async fn optimize_runs_on_a_live_database(db: TestDatabase) {
    let h = harness(db).await;
    h.user("cy@example.org").await;
    let (_, session) = h.login("cy@example.org").await;
    let ran = h.db.optimize(true).await.unwrap();
    match h.db.backend() {
        switchboard::store::Backend::Sqlite => {
            assert_eq!(ran, ["PRAGMA optimize", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"]);
        }
        switchboard::store::Backend::Postgres => {
            assert!(ran.iter().any(|s| s == "VACUUM ANALYZE \"sessions\""), "{ran:?}");
            assert!(ran.iter().all(|s| s.starts_with("VACUUM ANALYZE")), "{ran:?}");
        }
    }
    // Nothing was lost, and the store still writes.
    assert!(h.engine.session_stats(10).await.unwrap().live == 1);
    h.platform(&session, "after").await;
}

switchboard::on_both_backends!(
    stats_count_live_sessions_by_platform_account_and_length,
    optimize_runs_on_a_live_database,
);
