//! The store: transactions, pool exhaustion, migrations and the shared CSRF key.

use crate::support::*;
use std::sync::Arc;
use std::time::Duration;
use switchboard::testing::TestDatabase;
use switchboard::{Engine, Error, ManualClock, PoolSettings, SessionPolicy, Timestamp};

async fn transaction_scope_rolls_back_on_error(db: TestDatabase) {
    let h = harness(db).await;
    let before = h.engine.user_count().await.unwrap();
    let result: Result<(), Error> =
        h.db.transaction(|c| {
            Box::pin(async move {
                sqlx::query("INSERT INTO users (email, display_name, password_hash, created_at) VALUES ('x@y.org', 'x', 'h', 0)")
                    .execute(&mut *c)
                    .await?;
                // An early return with `?` on a failing statement.
                sqlx::query("INSERT INTO no_such_table VALUES (1)").execute(&mut *c).await?;
                Ok(())
            })
        })
        .await;
    assert!(matches!(result, Err(Error::Internal(_))));
    assert_eq!(h.engine.user_count().await.unwrap(), before, "the first insert was rolled back");

    let explicit: Result<(), Error> =
        h.db.transaction(|c| {
            Box::pin(async move {
                sqlx::query("INSERT INTO users (email, display_name, password_hash, created_at) VALUES ('z@y.org', 'z', 'h', 0)")
                    .execute(&mut *c)
                    .await?;
                Err(Error::invalid("test", "domain error after a write"))
            })
        })
        .await;
    assert!(explicit.is_err());
    assert_eq!(h.engine.user_count().await.unwrap(), before);

    let ok: Result<i64, Error> =
        h.db.transaction(|c| {
            Box::pin(async move {
                sqlx::query("INSERT INTO users (email, display_name, password_hash, created_at) VALUES ('w@y.org', 'w', 'h', 0)")
                    .execute(&mut *c)
                    .await?;
                Ok(1)
            })
        })
        .await;
    assert_eq!(ok.unwrap(), 1);
    assert_eq!(h.engine.user_count().await.unwrap(), before + 1, "success commits");
}

async fn exhausted_pool_is_unavailable_not_a_hang(db: TestDatabase) {
    let settings = PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(200),
        ..PoolSettings::default()
    };
    let store = db.connect(&settings).await;
    let engine = Engine::new(store.clone(), SessionPolicy::default(), Arc::new(ManualClock::new(Timestamp(0))));
    let held = store.reader().acquire().await.unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(engine.user_count().await, Err(Error::Unavailable)));
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(held);
    assert_eq!(engine.user_count().await.unwrap(), 0);
}

async fn migrations_are_idempotent(db: TestDatabase) {
    let h = harness(db).await;
    h.db.migrate().await.expect("a second run applies nothing and succeeds");
    let a = switchboard::csrf::CsrfKey::load_or_create(&h.db).await.unwrap();
    let b = switchboard::csrf::CsrfKey::load_or_create(&h.db).await.unwrap();
    let id = switchboard::PublicSessionId::parse("abcdefghijklmnopqrstuv").unwrap();
    let binding = switchboard::csrf::CsrfBinding::Session(&id);
    assert!(b.verify(binding, &a.token_for(binding)), "every instance shares one CSRF key");
}

/// Instances starting at once on one database (many servers, one PostgreSQL; or a restart racing
/// the CLI): each migrates and seeds the demo account; one account results, and no instance fails
/// (one used to exit with "an account with this email already exists").
async fn instances_starting_at_once_migrate_and_seed_once(db: TestDatabase) {
    let mut starts = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let url = db.url().to_owned();
        starts.spawn(async move {
            let store = switchboard::Db::connect(&url, &PoolSettings::default()).await?;
            store.migrate().await?;
            let engine = Engine::new(store, SessionPolicy::default(), Arc::new(switchboard::SystemClock));
            switchboard::seed::seed_demo(&engine).await
        });
    }
    let mut seeded = 0;
    while let Some(started) = starts.join_next().await {
        if started.unwrap().expect("every instance starts") {
            seeded += 1;
        }
    }
    assert_eq!(seeded, 1, "one instance seeds");
    let h = harness(db).await;
    assert_eq!(h.engine.user_count().await.unwrap(), 1);
    let platforms: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM platforms")
        .fetch_one(h.db.reader())
        .await
        .unwrap();
    assert_eq!(platforms, 2, "the demo account's platforms, once");
}

switchboard::on_both_backends!(
    transaction_scope_rolls_back_on_error,
    exhausted_pool_is_unavailable_not_a_hang,
    migrations_are_idempotent,
    instances_starting_at_once_migrate_and_seed_once,
);
