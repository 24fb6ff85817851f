//! Switching the active platform: compare-and-set, no lost update, no revival after logout.

use crate::support::*;
use switchboard::audit::{AuditFilter, AuditKind};
use switchboard::testing::TestDatabase;
use switchboard::{EndReason, Entity, Error, PlatformId};

async fn switch_is_a_compare_and_set(db: TestDatabase) {
    let h = harness(db).await;
    h.user("ida@example.org").await;
    h.user("jon@example.org").await;
    let (token, s) = h.login("ida@example.org").await;
    let (_, other) = h.login("jon@example.org").await;
    let a = h.platform(&s, "A").await;
    let b = h.platform(&s, "B").await;
    let foreign = h.platform(&other, "J").await;
    let s = h.fresh(&token).await;

    let switched = h.engine.switch_platform(&s, &meta(), b.id, Some(s.version)).await.unwrap();
    assert_eq!(switched.platform.as_ref().map(|p| p.id), Some(b.id));
    assert_eq!(switched.session.version.get(), s.version.get() + 1);

    match h.engine.switch_platform(&s, &meta(), a.id, Some(s.version)).await {
        Err(Error::VersionConflict { expected, current }) => {
            assert_eq!(expected, s.version);
            assert_eq!(current.session.version.get(), s.version.get() + 1);
            assert_eq!(
                current.platform.map(|p| p.id),
                Some(b.id),
                "the conflict carries the state that won"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        h.engine.switch_platform(&s, &meta(), foreign.id, None).await,
        Err(Error::NotFound(Entity::Platform))
    ));
    assert!(matches!(
        h.engine
            .switch_platform(&s, &meta(), PlatformId::parse(999_999).unwrap(), None)
            .await,
        Err(Error::NotFound(Entity::Platform))
    ));
    assert_eq!(
        PlatformId::parse(0).unwrap_err().field,
        "platform_id",
        "a non-positive platform id cannot even be made"
    );
    let unconditional = h.engine.switch_platform(&s, &meta(), a.id, None).await.unwrap();
    assert_eq!(unconditional.session.version.get(), s.version.get() + 2);
    // The audit row goes with the update in one statement list: only the switches that happened.
    let filter = AuditFilter {
        kind: Some(AuditKind::PlatformSwitched),
        ..AuditFilter::default()
    };
    let audited: Vec<_> = h
        .engine
        .audit_events(&filter, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry.detail)
        .collect();
    assert_eq!(audited, [Some(format!("platform {}", a.id)), Some(format!("platform {}", b.id))]);
}

async fn concurrent_switches_lose_no_update(db: TestDatabase) {
    let h = harness(db).await;
    h.user("kim@example.org").await;
    let (token, s) = h.login("kim@example.org").await;
    let platforms = [h.platform(&s, "A").await, h.platform(&s, "B").await, h.platform(&s, "C").await];
    let start = h.fresh(&token).await;

    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (engine, session, target) = (h.engine.clone(), start.clone(), platforms[i % 3].id);
            tokio::spawn(async move { engine.switch_platform(&session, &meta(), target, None).await })
        })
        .collect();
    let mut states = Vec::new();
    for t in tasks {
        states.push(t.await.unwrap().expect("unconditional switches all succeed"));
    }
    let end = h.engine.state_of(h.fresh(&token).await).await.unwrap();
    assert_eq!(
        end.session.version.get(),
        start.version.get() + 50,
        "every switch counted exactly once"
    );
    let newest = states.iter().max_by_key(|s| s.session.version).unwrap();
    assert_eq!(newest.session.version, end.session.version);
    assert_eq!(newest.platform, end.platform, "the stored platform is the last committed one");

    // With the version check, exactly one of many racers wins.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (engine, session, target) = (h.engine.clone(), end.session.clone(), platforms[i % 3].id);
            tokio::spawn(async move { engine.switch_platform(&session, &meta(), target, Some(session.version)).await })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(state) => winners.push(state),
            Err(Error::VersionConflict { .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let last = h.engine.state_of(h.fresh(&token).await).await.unwrap();
    assert_eq!(last.session.version.get(), end.session.version.get() + 1);
    assert_eq!(last.platform, winners[0].platform);
}

async fn logout_racing_switches_stays_dead(db: TestDatabase) {
    let h = harness(db).await;
    h.user("lee@example.org").await;
    let (token, s) = h.login("lee@example.org").await;
    let a = h.platform(&s, "A").await;
    let b = h.platform(&s, "B").await;
    let s = h.fresh(&token).await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (engine, session, target) = (h.engine.clone(), s.clone(), if i % 2 == 0 { a.id } else { b.id });
        tasks.push(tokio::spawn(async move {
            engine.switch_platform(&session, &meta(), target, None).await.map(|_| ())
        }));
        if i == 10 {
            let (engine, token) = (h.engine.clone(), token.clone());
            tasks.push(tokio::spawn(async move { engine.logout(&token, &meta()).await }));
        }
    }
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) | Err(Error::SessionEnded(EndReason::Logout)) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(matches!(
        h.engine.authenticate(&token, &meta()).await,
        Err(Error::SessionEnded(EndReason::Logout))
    ));
    assert!(matches!(
        h.engine.switch_platform(&s, &meta(), a.id, None).await,
        Err(Error::SessionEnded(EndReason::Logout))
    ));
    assert!(
        matches!(
            h.engine.authenticate(&token, &meta()).await,
            Err(Error::SessionEnded(EndReason::Logout))
        ),
        "a late switch does not revive it"
    );
}

switchboard::on_both_backends!(
    switch_is_a_compare_and_set,
    concurrent_switches_lose_no_update,
    logout_racing_switches_stays_dead,
);
