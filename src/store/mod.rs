//! The store: one `Db` over SQLite or PostgreSQL, chosen by the URL. What differs between the
//! two lives in `sqlite` and `postgres` (connecting, pools, how a write transaction begins, how
//! the session cache hears about writes); the engine's SQL is shared and written for both.
//! `codec` tells sqlx how parsed domain values are stored; on SQLite, `local` reads the hot
//! path's rows on the caller's thread.
//!
//! The session cache ([`SessionCache`]) sits in front of the store, off until
//! [`Db::with_cache`] turns it on. Writes are heard of through the database itself (triggers,
//! migration 0007), so no writer can forget to say what it changed:
//! - SQLite: before a cached answer is served, `PRAGMA data_version` on a connection of the
//!   cache's own says whether anything was committed since the last look, by this process or
//!   another; if so the new rows of `cache_changes` name the users to forget.
//! - PostgreSQL: every instance LISTENs on the schema's channel and forgets the users it is told
//!   of; the writing instance forgets them as it commits (`Db::transaction`). While the listener
//!   is down the cache serves nothing, and it starts empty when it is back.

mod bulk;
mod codec;
mod group;
mod local;
mod postgres;
mod sqlite;
pub mod tally;

pub use bulk::chunk_work;

use crate::cache::{CacheSettings, SessionCache};
use crate::error::{Error, Result};
use futures_util::future::BoxFuture;
use sqlx::AnyConnection;
use sqlx::AnyPool;
use std::sync::{Arc, Once};
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
    /// A connection of its own ([`Db::side`]).
    side: AnyPool,
    url: Arc<str>,
    cache: Arc<SessionCache>,
    watch: Watch,
    /// SQLite: write transactions commit in groups.
    group: Option<Arc<group::GroupCommit>>,
    /// SQLite: reads on the caller's thread ([`Db::read_here`]).
    local: Option<Arc<local::LocalReads>>,
    /// Events recorded by committed writes ([`tally`]).
    tally: Arc<tally::Tally>,
}

/// How this process hears about writes, for the cache.
#[derive(Clone)]
enum Watch {
    Off,
    Sqlite(Arc<sqlite::ChangeWatch>),
    Postgres(Arc<postgres::ChangeListener>),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("backend", &self.backend).finish()
    }
}

/// Who a write transaction is for: on SQLite, bulk work lets requests' writes go first (`bulk`).
#[derive(Debug, Clone, Copy)]
enum Writer {
    Request,
    Bulk,
}

/// A [`Db::transaction`]'s work as a [`Db::transaction_opening`] one: `begin` sent on its own,
/// before the work.
fn opening<T, F>(work: F) -> impl for<'c> FnOnce(&'c mut AnyConnection, &'c str) -> BoxFuture<'c, Result<T>> + Send
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
{
    |c, begin| {
        Box::pin(async move {
            if !begin.is_empty() {
                sqlx::Executor::execute(&mut *c, begin).await?;
            }
            work(c).await
        })
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
        let side = match backend {
            Backend::Sqlite => write.clone(),
            Backend::Postgres => postgres::side_pool(url, settings)?,
        };
        let group = (backend == Backend::Sqlite).then(|| group::GroupCommit::new(write.clone(), settings.busy_timeout));
        let local = match backend {
            Backend::Sqlite => Some(Arc::new(local::LocalReads::new(&sqlite::file_path(url)?))),
            Backend::Postgres => None,
        };
        Ok(Self {
            backend,
            read,
            write,
            side,
            group,
            url: url.into(),
            cache: Arc::new(SessionCache::disabled()),
            watch: Watch::Off,
            local,
            tally: Arc::default(),
        })
    }

    /// The same store with the session cache on: it starts listening for writes (see the module
    /// documentation), and serves once it hears them. Fails only if SQLite's watch connection
    /// cannot open; on PostgreSQL an unreachable listener leaves the cache bypassed until it
    /// connects.
    pub async fn with_cache(mut self, settings: CacheSettings) -> Result<Self> {
        let cache = Arc::new(SessionCache::new(settings));
        self.watch = match self.backend {
            Backend::Sqlite => {
                let watch = Arc::new(sqlite::ChangeWatch::open(&self.url).await?);
                cache.serve(true);
                sqlite::spawn_push_watch(watch.clone(), Arc::downgrade(&cache), self.write.clone());
                Watch::Sqlite(watch)
            }
            Backend::Postgres => Watch::Postgres(Arc::new(postgres::ChangeListener::start(&self.url, cache.clone()).await)),
        };
        self.cache = cache;
        Ok(self)
    }

    pub fn cache(&self) -> &SessionCache {
        &self.cache
    }

    /// Brings the cache up to date with every write committed before this call; `false` when it
    /// cannot be sure (off, the listener or watch is down), and then nothing cached may be served.
    /// Within [`one_look`], SQLite's change log is read once per request.
    pub(crate) async fn catch_up(&self) -> bool {
        match &self.watch {
            Watch::Off => false,
            Watch::Sqlite(watch) => {
                if let Ok(Some(looked)) = LOOKED.try_with(std::cell::Cell::get) {
                    return looked;
                }
                let caught_up = watch.catch_up(&self.cache);
                let _ = LOOKED.try_with(|l| l.set(Some(caught_up)));
                caught_up
            }
            Watch::Postgres(_) => self.cache.serving(),
        }
    }

    /// SQLite: reads the change log now, from a background task right after its own commit, so
    /// the next cached read finds nothing new to read. A read that comes after any commit pays
    /// for the look (`PRAGMA data_version` has moved: the look's page cache is stale and the log
    /// is read again), and a bulk writer such as the cleanup commits every few milliseconds: left
    /// to the requests, about a third of the reads during a sweep paid it (docs/BENCHMARKS.md).
    /// Nothing to do on PostgreSQL, where changes are pushed, or with the cache off.
    pub(crate) fn look_after_commit(&self) {
        if let Watch::Sqlite(watch) = &self.watch {
            watch.catch_up(&self.cache);
        }
    }

    /// Keeps SQLite's change log short (the newest rows are enough for any server that is
    /// running; one that fell further behind empties its cache). Nothing to do on PostgreSQL.
    pub(crate) async fn trim_change_log(&self) -> Result<()> {
        if self.backend == Backend::Sqlite {
            sqlite::trim_change_log(&self.write).await?;
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// This backend's migrations (`migrations/<backend>/`, compiled in).
    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &MIGRATE_SQLITE,
            Backend::Postgres => &MIGRATE_POSTGRES,
        }
    }

    /// Applies the migrations in `migrations/<backend>/` that have not run yet. Safe when several
    /// processes start at once on one database: on PostgreSQL the migrator holds an advisory lock;
    /// SQLite has none, so an attempt that lost the race (another process applied the migration
    /// first: "table … already exists") is tried again, for up to 5 s. Each migration is its own
    /// transaction, so a failed attempt changed nothing.
    pub async fn migrate(&self) -> Result<()> {
        let attempts = match self.backend {
            Backend::Sqlite => 50,
            Backend::Postgres => 1,
        };
        let migrator = self.migrator();
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

    /// SQLite: runs `read` with `sql` prepared on a connection in the calling thread (see
    /// `store/local.rs`), for the hot path's reads. `None` on PostgreSQL, or when it failed:
    /// then read through [`Db::reader`], which reports any error that persists.
    pub(crate) fn read_here<T>(&self, sql: &str, read: impl FnOnce(&mut rusqlite::Statement<'_>) -> rusqlite::Result<T>) -> Option<T> {
        self.local.as_ref()?.read(sql, read)
    }

    /// For reads that need no transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// For single-statement writes.
    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// For the few statements that must run when the pool is saturated (alert rules report a
    /// saturated pool through it): SQLite's writer, which is apart from the read connections;
    /// on PostgreSQL one connection of its own beside the pool, opened when first used.
    pub fn side(&self) -> &AnyPool {
        &self.side
    }

    /// Runs `work` in a write transaction: commits when it returns `Ok`, rolls back when it returns
    /// `Err`, and rolls back too if the future is dropped or panics while the work runs. `Ok` only
    /// once the work is committed. Every multi-statement operation goes through here.
    ///
    /// On SQLite, transactions that arrive together share one commit (one fsync): each one's work
    /// runs in a savepoint of the open batch, so its `Err` rolls back only its own work (`group`).
    /// A caller dropped after its work ran may still see it committed, as a request whose answer
    /// was lost in transit.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        self.transaction_opening(opening(work)).await
    }

    /// [`Db::transaction`] for a work that saves a trip: it sends `begin` (SQL, perhaps empty) in
    /// front of its first statement list, as in `format!("{begin} UPDATE …")`, and nothing
    /// before it. On SQLite `begin` opens the work's savepoint in the open batch, where every
    /// trip to the driver's thread is time the other writers wait; elsewhere it is empty.
    pub async fn transaction_opening<T, F>(&self, work: F) -> Result<T>
    where
        T: Send,
        F: for<'c> FnOnce(&'c mut AnyConnection, &'c str) -> BoxFuture<'c, Result<T>> + Send,
    {
        tally::counting(&self.tally, self.commit_work(Writer::Request, work)).await
    }

    /// [`Db::transaction_opening`]'s work, committed (its events not yet counted).
    async fn commit_work<T, F>(&self, writer: Writer, work: F) -> Result<T>
    where
        T: Send,
        F: for<'c> FnOnce(&'c mut AnyConnection, &'c str) -> BoxFuture<'c, Result<T>> + Send,
    {
        if let Some(group) = &self.group {
            let value = match writer {
                Writer::Request => group.run(work).await?,
                Writer::Bulk => group.run_bulk(work).await?,
            };
            // What this request reads next must see its own write.
            let _ = LOOKED.try_with(|l| l.set(None));
            return Ok(value);
        }
        let mut tx = self.write.begin().await?;
        match work(&mut tx, "").await {
            Ok(value) => {
                // PostgreSQL: the users this transaction changed, to forget as it commits (other
                // instances hear them; SQLite's cache reads its change log before every hit).
                let changed = match self.backend {
                    Backend::Postgres if self.cache.enabled() => postgres::changed_users(&mut tx).await?,
                    _ => Vec::new(),
                };
                tx.commit().await?;
                for user in changed {
                    self.cache.forget_user(user);
                }
                // What this request reads next must see its own write.
                let _ = LOOKED.try_with(|l| l.set(None));
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

    /// SQLite: requests' writes under way, running or queued for the one writer (for metrics).
    /// `None` on PostgreSQL.
    pub fn writes_under_way(&self) -> Option<usize> {
        self.group.as_ref().map(|group| group.writes_under_way())
    }

    /// Events recorded by committed writes since the process began ([`tally`]).
    pub fn tally(&self) -> &tally::Tally {
        &self.tally
    }

    /// SQLite: write transactions committed so far, each one fsync (concurrent transactions
    /// share commits; see `group`). `None` on PostgreSQL.
    pub fn commits(&self) -> Option<u64> {
        self.group.as_ref().map(|group| group.commits())
    }

    /// The migrations this build knows that the database has not applied: none when its schema
    /// is current (for readiness, `GET /health/ready`).
    pub async fn pending_migrations(&self) -> Result<Vec<i64>> {
        let migrator = self.migrator();
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&self.read)
            .await?;
        Ok(migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
            .map(|m| m.version)
            .collect())
    }

    /// `switchboard maintenance optimize`: refreshes the statistics the query planner uses
    /// (SQLite: `PRAGMA optimize`; PostgreSQL: `VACUUM ANALYZE` of every table in the schema,
    /// which also marks the space of deleted rows for reuse). With `vacuum`, SQLite also rebuilds
    /// the file so it shrinks by the pages deleted rows left free (`VACUUM`: it holds the write
    /// lock while it runs, seconds for a large file) and empties the WAL. Returns what it ran.
    pub async fn optimize(&self, vacuum: bool) -> Result<Vec<String>> {
        let mut ran = Vec::new();
        match self.backend {
            Backend::Sqlite => {
                let mut statements = vec!["PRAGMA optimize".to_owned()];
                if vacuum {
                    statements.push("VACUUM".to_owned());
                    statements.push("PRAGMA wal_checkpoint(TRUNCATE)".to_owned());
                }
                for statement in statements {
                    sqlx::raw_sql(&statement).execute(&self.write).await?;
                    ran.push(statement);
                }
            }
            Backend::Postgres => {
                let tables: Vec<String> =
                    sqlx::query_scalar("SELECT tablename::TEXT FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
                        .fetch_all(&self.read)
                        .await?;
                for table in tables {
                    // VACUUM cannot run in a transaction: each is its own simple query, outside one.
                    let statement = format!("VACUUM ANALYZE \"{}\"", table.replace('"', "\"\""));
                    sqlx::raw_sql(&statement).execute(&self.write).await?;
                    ran.push(statement);
                }
            }
        }
        Ok(ran)
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
        if let Watch::Postgres(listener) = &self.watch {
            listener.stop();
        }
        self.write.close().await;
        self.read.close().await;
    }
}

tokio::task_local! {
    /// Within [`one_look`]: whether this request has read SQLite's change log yet, and whether
    /// the cache could serve then.
    static LOOKED: std::cell::Cell<Option<bool>>;
}

/// Runs one request's `work` so that SQLite's change log is read at most once for it, at its
/// first cached read (the server's request layer wraps every request in it). Everything the
/// request then reads from memory is as of that moment, which is after the request arrived, and
/// is consistent with itself (the session and the platforms as of one point). A write the
/// request makes itself resets it: what the request reads after its own write is read again.
pub async fn one_look<F: std::future::Future>(work: F) -> F::Output {
    LOOKED.scope(std::cell::Cell::new(None), work).await
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
