//! Alert rules' conditions (`Engine::raise_condition`, `Engine::clear_condition`): one open
//! alert of a condition at a time, however many instances raise it at once; one clears it.

use crate::support::harness;
use std::sync::Arc;
use switchboard::alerts::{AlertKind, Condition, Severity};
use switchboard::testing::TestDatabase;
use switchboard::{Engine, PoolSettings, SessionPolicy};

fn failed_login_rate() -> Condition {
    Condition {
        kind: AlertKind::FailedLoginRate,
        severity: Severity::Warning,
        about: "failed_login_rate".into(),
        evidence: "{\"failed_logins\":100}".into(),
    }
}

async fn instances_raise_a_condition_once_and_one_clears_it(db: TestDatabase) {
    let h = harness(db).await;
    // Four instances on the same database, each with its own pools.
    let mut instances = vec![h.engine.clone()];
    for _ in 0..3 {
        let db = h.database().connect(&PoolSettings::default()).await;
        instances.push(Engine::new(db, SessionPolicy::default(), h.clock.clone()));
    }
    let instances = Arc::new(instances);
    let raise = |n: usize| {
        let instances = instances.clone();
        tokio::spawn(async move { instances[n].raise_condition(failed_login_rate()).await.unwrap() })
    };
    let tasks: Vec<_> = (0..4).map(raise).collect();
    let mut raised = Vec::new();
    for task in tasks {
        raised.extend(task.await.unwrap());
    }
    assert_eq!(raised.len(), 1, "one instance raised it: {raised:?}");
    assert_eq!(h.engine.open_conditions().await.unwrap(), vec!["failed_login_rate".to_owned()]);
    assert!(
        h.engine.raise_condition(failed_login_rate()).await.unwrap().is_none(),
        "open already"
    );

    let clears: Vec<_> = (0..4)
        .map(|n| {
            let instances = instances.clone();
            tokio::spawn(async move { instances[n].clear_condition("failed_login_rate").await.unwrap() })
        })
        .collect();
    let mut cleared = Vec::new();
    for task in clears {
        cleared.extend(task.await.unwrap());
    }
    assert_eq!(cleared.len(), 1, "one instance cleared it: {cleared:?}");
    assert_eq!(cleared[0].id, raised[0].id);
    assert_eq!(cleared[0].cleared_at, Some(h.engine.now()));
    assert!(h.engine.open_conditions().await.unwrap().is_empty());

    // Raised again: a new alert; the cleared one stays as it was.
    let again = h.engine.raise_condition(failed_login_rate()).await.unwrap().expect("raised anew");
    assert!(again.id > raised[0].id);
    let listed = h.engine.alerts(10, None).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].cleared_at, Some(h.engine.now()));
    assert_eq!(listed[0].cleared_at, None);
}

switchboard::on_both_backends!(instances_raise_a_condition_once_and_one_clears_it);
