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
    assert_eq!(a.token_for(binding), b.token_for(binding), "every instance shares one CSRF key");
}

switchboard::on_both_backends!(
    transaction_scope_rolls_back_on_error,
    exhausted_pool_is_unavailable_not_a_hang,
    migrations_are_idempotent,
);
