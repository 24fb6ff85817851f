//! Real databases for tests: a fresh SQLite file, or a fresh schema in PostgreSQL.
//!
//! PostgreSQL comes from `SWITCHBOARD_TEST_POSTGRES_URL` (the README's test command creates a
//! fresh database per run and sets it), else `postgres://postgres@127.0.0.1:5432/test`. If it
//! cannot be reached the test fails saying so: PostgreSQL tests never skip silently.

use crate::store::{Db, PoolSettings};
use rand::RngCore;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub struct TestDatabase {
    url: String,
    _dir: Option<tempfile::TempDir>,
    /// (admin URL, schema) to drop when the test ends.
    schema: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("switchboard.db").display());
        Self {
            url,
            _dir: Some(dir),
            schema: None,
        }
    }

    pub async fn postgres() -> Self {
        let admin = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let schema = format!("sb_test_{:016x}", rand::rngs::OsRng.next_u64());
        let db = admin_db(&admin).await.unwrap_or_else(|e| {
            panic!("PostgreSQL is not reachable at {admin} ({e}). Start it, or set SWITCHBOARD_TEST_POSTGRES_URL; `make test` does both.")
        });
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(db.writer())
            .await
            .expect("create test schema");
        db.close().await;
        let sep = if admin.contains('?') { '&' } else { '?' };
        let url = format!("{admin}{sep}options=-c%20search_path%3D{schema}");
        Self {
            url,
            _dir: None,
            schema: Some((admin, schema)),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A migrated store on this database.
    pub async fn connect(&self, settings: &PoolSettings) -> Db {
        let db = Db::connect(&self.url, settings).await.expect("connect to test database");
        db.migrate().await.expect("migrate test database");
        db
    }
}

/// One connection to the database that test schemas are made in.
async fn admin_db(admin_url: &str) -> crate::Result<Db> {
    Db::connect(
        admin_url,
        &PoolSettings {
            max_connections: 1,
            ..PoolSettings::default()
        },
    )
    .await
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin, schema)) = self.schema.take() {
            // Drop runs outside any runtime guarantee: use a private one on its own thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                rt.block_on(async {
                    let db = admin_db(&admin).await.ok()?;
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(db.writer())
                        .await;
                    db.close().await;
                    Some(())
                })
            })
            .join();
        }
    }
}

/// Instantiates each named `async fn(TestDatabase)` twice: in `mod sqlite` on a fresh SQLite
/// file and in `mod postgres` on a fresh PostgreSQL schema.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name($crate::testing::TestDatabase::sqlite().await).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name($crate::testing::TestDatabase::postgres().await).await })*
        }
    };
}
