//! The store: one `Db` over SQLite or PostgreSQL, chosen by the URL. What differs between the
//! two lives in `sqlite` and `postgres` (connecting, pools, how a write transaction begins, and
//! later PostgreSQL's LISTEN/NOTIFY); the engine's SQL is shared and written for both.
//! `codec` tells sqlx how parsed domain values are stored.

mod codec;
mod postgres;
mod sqlite;

use crate::error::{Error, Result};
use futures_util::future::BoxFuture;
use sqlx::AnyConnection;
use sqlx::AnyPool;
use std::sync::Once;
use std::time::Duration;

static MIGRATE_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static MIGRATE_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::invalid("database_url", "must start with sqlite:// or postgres://"))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Pool sizing. `max_connections` is the read pool on SQLite (writes have one connection) and
/// the whole pool on PostgreSQL. A request that cannot get a connection within
/// `acquire_timeout` fails with `Error::Unavailable` (HTTP 503) instead of hanging.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout: Duration,
    /// SQLite only: how long a write waits for another process's lock.
    pub busy_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 8,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(3),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
pub struct Db {
    backend: Backend,
    read: AnyPool,
    write: AnyPool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("backend", &self.backend).finish()
    }
}

impl Db {
    pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Self> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = Backend::from_url(url)?;
        let (read, write) = match backend {
            Backend::Sqlite => sqlite::connect(url, settings).await?,
            Backend::Postgres => postgres::connect(url, settings).await?,
        };
        Ok(Self { backend, read, write })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the migrations in `migrations/<backend>/` that have not run yet. Safe when several
    /// processes start at once on one database: on PostgreSQL the migrator holds an advisory lock;
    /// SQLite has none, so an attempt that lost the race (another process applied the migration
    /// first: "table … already exists") is tried again, for up to 5 s. Each migration is its own
    /// transaction, so a failed attempt changed nothing.
    pub async fn migrate(&self) -> Result<()> {
        let (migrator, attempts) = match self.backend {
            Backend::Sqlite => (&MIGRATE_SQLITE, 50),
            Backend::Postgres => (&MIGRATE_POSTGRES, 1),
        };
        let mut attempt = 1;
        loop {
            match migrator.run(&self.write).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt >= attempts => return Err(Error::Internal(format!("migration failed: {e}"))),
                Err(_) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// For reads that need no transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// For single-statement writes.
    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// Runs `work` in a write transaction: commits when it returns `Ok`, rolls back when it returns
    /// `Err`, and rolls back too if the future is dropped or panics (the transaction is never
    /// committed). Every multi-statement operation goes through here.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T>
    where
        T: Send,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T>> + Send,
    {
        let mut tx = match self.backend {
            Backend::Sqlite => self.write.begin_with(sqlite::BEGIN_WRITE).await?,
            Backend::Postgres => self.write.begin().await?,
        };
        match work(&mut tx).await {
            Ok(value) => {
                tx.commit().await?;
                Ok(value)
            }
            Err(e) => {
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(error = %rollback, "rollback failed; the connection is discarded");
                }
                Err(e)
            }
        }
    }

    /// A cheap liveness check for health endpoints.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// How many connections each pool has open and idle: for metrics and health.
    pub fn pool_stats(&self) -> PoolStats {
        PoolStats {
            read_size: self.read.size(),
            read_idle: self.read.num_idle() as u32,
            write_size: self.write.size(),
            write_idle: self.write.num_idle() as u32,
        }
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct PoolStats {
    pub read_size: u32,
    pub read_idle: u32,
    pub write_size: u32,
    pub write_idle: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_chosen_by_the_url() {
        assert!(Backend::from_url("mysql://x").is_err());
        assert_eq!(Backend::from_url("postgresql://h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::from_url("sqlite://data/x.db").unwrap(), Backend::Sqlite);
    }
}
