//! Deadlines: idle and absolute expiry, the throttled touch, checks that are not activity, the sweep.

use crate::support::*;
use std::time::Duration;
use switchboard::testing::TestDatabase;
use switchboard::{EndReason, Error};

async fn idle_timeout_is_enforced(db: TestDatabase) {
    let h = harness(db).await;
    h.user("erin@example.org").await;
    let (token, _) = h.login("erin@example.org").await;
    h.clock.advance(Duration::from_secs(29 * 60));
    h.fresh(&token).await; // activity pushes the idle deadline
    h.clock.advance(Duration::from_secs(29 * 60));
    h.fresh(&token).await;
    h.clock.advance(Duration::from_secs(31 * 60));
    assert!(matches!(
        h.engine.authenticate(&token, &meta()).await,
        Err(Error::SessionEnded(EndReason::Expired))
    ));
    assert!(
        matches!(
            h.engine.authenticate(&token, &meta()).await,
            Err(Error::SessionEnded(EndReason::Expired))
        ),
        "stays expired"
    );
}

async fn absolute_lifetime_is_enforced(db: TestDatabase) {
    let h = harness(db).await;
    h.user("fay@example.org").await;
    let (token, session) = h.login("fay@example.org").await;
    let mut elapsed = Duration::ZERO;
    while elapsed < Duration::from_secs(12 * 3600 - 20 * 60) {
        h.clock.advance(Duration::from_secs(20 * 60));
        elapsed += Duration::from_secs(20 * 60);
        let s = h.fresh(&token).await;
        assert!(s.idle_expires_at <= session.absolute_expires_at);
    }
    h.clock.advance(Duration::from_secs(20 * 60));
    assert!(matches!(
        h.engine.authenticate(&token, &meta()).await,
        Err(Error::SessionEnded(EndReason::Expired))
    ));
}

async fn reads_do_not_write_on_every_hit(db: TestDatabase) {
    let h = harness(db).await;
    h.user("gus@example.org").await;
    let (token, session) = h.login("gus@example.org").await;
    h.clock.advance(Duration::from_secs(30));
    assert_eq!(
        h.fresh(&token).await.last_seen_at,
        session.last_seen_at,
        "within the touch interval nothing is written"
    );
    h.clock.advance(Duration::from_secs(31));
    let touched = h.fresh(&token).await;
    assert_eq!(touched.last_seen_at, h.now());
    let stored: i64 = sqlx::query_scalar("SELECT last_seen_at FROM sessions WHERE id = $1")
        .bind(session.id)
        .fetch_one(h.db.reader())
        .await
        .unwrap();
    assert_eq!(stored, h.now().millis());
}

async fn background_checks_do_not_keep_a_session_alive(db: TestDatabase) {
    let h = harness(db).await;
    h.user("ivy@example.org").await;
    let (token, session) = h.login("ivy@example.org").await;
    for _ in 0..5 {
        h.clock.advance(Duration::from_secs(5 * 60));
        let peeked = h.engine.peek(&token, &meta()).await.unwrap();
        assert_eq!(peeked.last_seen_at, session.last_seen_at, "a peek is not activity");
    }
    // 25 minutes of peeks, then "Stay signed in": the idle deadline restarts from now.
    let extended = h
        .engine
        .extend(&h.engine.peek(&token, &meta()).await.unwrap(), &meta())
        .await
        .unwrap();
    assert_eq!(extended.session.last_seen_at, h.now());
    assert_eq!(extended.session.version, session.version, "extending is not a state change");
    h.clock.advance(Duration::from_secs(29 * 60));
    assert!(h.engine.peek(&token, &meta()).await.is_ok(), "alive 29 min after the extension");
    h.clock.advance(Duration::from_secs(2 * 60));
    assert!(
        matches!(h.engine.peek(&token, &meta()).await, Err(Error::SessionEnded(EndReason::Expired))),
        "peeks still end an expired session"
    );
    assert!(
        matches!(
            h.engine.extend(&extended.session, &meta()).await,
            Err(Error::SessionEnded(EndReason::Expired))
        ),
        "an ended session cannot be extended"
    );
}

async fn sweep_expires_and_purges(db: TestDatabase) {
    let h = harness(db).await;
    h.user("ola@example.org").await;
    let (stale, _) = h.login("ola@example.org").await;
    h.clock.advance(Duration::from_secs(20 * 60));
    let (live, _) = h.login("ola@example.org").await;
    h.clock.advance(Duration::from_secs(15 * 60));
    let report = h.engine.sweep_sessions(Duration::from_secs(3600), 1000).await.unwrap();
    assert_eq!(report, switchboard::sessions::SweepReport { expired: 1, deleted: 0 });
    assert!(matches!(
        h.engine.authenticate(&stale, &meta()).await,
        Err(Error::SessionEnded(EndReason::Expired))
    ));
    assert!(h.engine.authenticate(&live, &meta()).await.is_ok());
    h.clock.advance(Duration::from_secs(2 * 3600));
    let report = h.engine.sweep_sessions(Duration::from_secs(3600), 1000).await.unwrap();
    assert_eq!(
        report,
        switchboard::sessions::SweepReport { expired: 1, deleted: 1 },
        "the live one idled out; the old one is purged"
    );
    assert!(
        matches!(h.engine.authenticate(&stale, &meta()).await, Err(Error::Unauthenticated)),
        "purged sessions are simply unknown"
    );
}

/// A backlog larger than a batch is worked through batch by batch: everything is ended (with its
/// audit row), purged, and the audit log trimmed, however small the batch.
async fn the_sweep_works_through_a_backlog_in_batches(db: TestDatabase) {
    let h = harness(db).await;
    h.user("bat@example.org").await;
    let mut tokens = Vec::new();
    for _ in 0..5 {
        tokens.push(h.login("bat@example.org").await.0);
    }
    h.clock.advance(Duration::from_secs(31 * 60));
    let report = h.engine.sweep_sessions(Duration::from_secs(3600), 2).await.unwrap();
    assert_eq!(report, switchboard::sessions::SweepReport { expired: 5, deleted: 0 });
    for token in &tokens {
        assert!(matches!(
            h.engine.authenticate(token, &meta()).await,
            Err(Error::SessionEnded(EndReason::Expired))
        ));
    }
    let filter = switchboard::audit::AuditFilter {
        kind: Some(switchboard::audit::AuditKind::SessionExpired),
        ..Default::default()
    };
    assert_eq!(h.engine.audit_events(&filter, 100).await.unwrap().len(), 5, "one audit row each");

    h.clock.advance(Duration::from_secs(2 * 3600));
    let report = h.engine.sweep_sessions(Duration::from_secs(3600), 2).await.unwrap();
    assert_eq!(report, switchboard::sessions::SweepReport { expired: 0, deleted: 5 });
    let everything = h.engine.audit_events(&Default::default(), 1000).await.unwrap().len() as u64;
    h.clock.advance(Duration::from_secs(91 * 86_400));
    assert_eq!(h.engine.sweep_audit(Duration::from_secs(90 * 86_400), 2).await.unwrap(), everything);
    assert!(h.engine.audit_events(&Default::default(), 10).await.unwrap().is_empty());
}

switchboard::on_both_backends!(
    the_sweep_works_through_a_backlog_in_batches,
    idle_timeout_is_enforced,
    absolute_lifetime_is_enforced,
    reads_do_not_write_on_every_hit,
    background_checks_do_not_keep_a_session_alive,
    sweep_expires_and_purges,
);
