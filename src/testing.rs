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
    /// (admin URL, database) to drop when the test ends.
    database: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("switchboard.db").display());
        Self {
            url,
            _dir: Some(dir),
            schema: None,
            database: None,
        }
    }

    pub async fn postgres() -> Self {
        let admin = admin_url();
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
            database: None,
        }
    }

    /// A whole PostgreSQL database of its own (not a schema), for tests that take the database
    /// away from the server ([`TestDatabase::allow_connections`]).
    pub async fn postgres_database() -> Self {
        let admin = admin_url();
        let name = format!("sb_test_db_{:016x}", rand::rngs::OsRng.next_u64());
        let db = admin_db(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {admin} ({e})"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(db.writer())
            .await
            .expect("create test database");
        db.close().await;
        let url = replace_database(&admin, &name);
        Self {
            url,
            _dir: None,
            schema: None,
            database: Some((admin, name)),
        }
    }

    /// Lets clients connect to this test's own PostgreSQL database again, or refuses them and
    /// ends every connection it has (the database "goes down").
    pub async fn allow_connections(&self, allow: bool) {
        let (admin, name) = self.database.as_ref().expect("only for postgres_database()");
        let db = admin_db(admin).await.expect("admin connection");
        sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}"))
            .execute(db.writer())
            .await
            .expect("alter database");
        if !allow {
            sqlx::query(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .execute(db.writer())
            .await
            .expect("terminate connections");
        }
        db.close().await;
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Holds an exclusive lock on `table` from a connection of its own (PostgreSQL only) until
    /// the returned guard is released: every query of that table waits, as behind a stuck
    /// transaction.
    pub async fn lock_table(&self, table: &str) -> TableLock {
        use sqlx::Connection as _;
        assert!(self.url.starts_with("postgres"), "lock_table is for PostgreSQL");
        let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("lock connection");
        sqlx::query("BEGIN").execute(&mut conn).await.expect("begin");
        sqlx::query(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            .execute(&mut conn)
            .await
            .expect("lock table");
        TableLock(Held::Postgres(conn))
    }

    /// A fresh database of the same backend (for a second server with other settings).
    pub async fn another(&self) -> Self {
        if self.url.starts_with("sqlite") {
            Self::sqlite().await
        } else {
            Self::postgres().await
        }
    }

    /// Holds up every write to sessions from a connection of its own, as a stuck writer would,
    /// until the returned guard is released; reads go on. On SQLite it holds the write lock
    /// (`BEGIN IMMEDIATE`: other writers fail after their busy timeout); on PostgreSQL a lock on
    /// `sessions` that lets reads through (`EXCLUSIVE` mode: writers wait).
    pub async fn hold_session_writes(&self) -> TableLock {
        use sqlx::Connection as _;
        if self.url.starts_with("sqlite") {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.expect("lock connection");
            sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.expect("begin immediate");
            return TableLock(Held::Sqlite(conn));
        }
        let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("lock connection");
        sqlx::query("BEGIN").execute(&mut conn).await.expect("begin");
        sqlx::query("LOCK TABLE sessions IN EXCLUSIVE MODE")
            .execute(&mut conn)
            .await
            .expect("lock table");
        TableLock(Held::Postgres(conn))
    }

    /// A migrated store on this database.
    pub async fn connect(&self, settings: &PoolSettings) -> Db {
        let db = Db::connect(&self.url, settings).await.expect("connect to test database");
        db.migrate().await.expect("migrate test database");
        db
    }
}

/// A lock held by [`TestDatabase::lock_table`] or [`TestDatabase::hold_session_writes`].
pub struct TableLock(Held);

enum Held {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::SqliteConnection),
}

impl TableLock {
    pub async fn release(self) {
        match self.0 {
            Held::Postgres(mut conn) => sqlx::query("ROLLBACK").execute(&mut conn).await.map(drop),
            Held::Sqlite(mut conn) => sqlx::query("ROLLBACK").execute(&mut conn).await.map(drop),
        }
        .expect("rollback");
    }
}

fn admin_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// `admin` with its database name replaced by `name` (query string kept).
fn replace_database(admin: &str, name: &str) -> String {
    let (base, query) = admin.split_once('?').map_or((admin, None), |(b, q)| (b, Some(q)));
    let base = match base.rsplit_once('/') {
        Some((host, _)) if host.contains("://") && !host.ends_with('/') => format!("{host}/{name}"),
        _ => format!("{base}/{name}"),
    };
    match query {
        Some(q) => format!("{base}?{q}"),
        None => base,
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
        if let Some((admin, name)) = self.database.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                rt.block_on(async {
                    let db = admin_db(&admin).await.ok()?;
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(db.writer())
                        .await;
                    db.close().await;
                    Some(())
                })
            })
            .join();
        }
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
