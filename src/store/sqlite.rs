//! SQLite, the embedded default. WAL mode with `synchronous = FULL`, so a committed logout or
//! revocation survives a crash or power cut. Writes go through a pool of exactly one connection
//! and open with `BEGIN IMMEDIATE`, so concurrent requests queue in the process instead of failing
//! with "database is locked"; other processes (the CLI) wait up to the busy timeout. Reads use
//! their own pool, and the hot path's reads connections of their own on the request's thread
//! (`local.rs`); none waits for writers (WAL).

use super::PoolSettings;
use crate::cache::SessionCache;
use crate::error::{Error, Result};
use crate::ids::UserId;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, Executor};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// How a write transaction starts: take the write lock at once, not at the first write.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// How long one try to take the write lock waits inside SQLite (see [`begin_write`]).
const BEGIN_TRY_MS: u64 = 10;

/// Starts a write transaction on the write connection, waiting up to `busy_timeout` for the
/// write lock, and runs `then` (statements without parameters) inside it. SQLite's own busy
/// handler, given the whole timeout, backs off to a try every 100 ms: against another process
/// that frees the lock only for moments at a time (a busy storm), it can miss every moment until
/// the timeout ends in "database is locked". Short waits (tries at 0, 1, 3 and 8 ms), begun
/// again at once, take each moment; the connection's busy timeout is set back afterwards for the
/// statements that write outside a transaction.
///
/// When the lock is free (nearly always), all of it is one statement list, one trip to the
/// driver's thread instead of three.
pub(super) async fn begin_write(conn: &mut AnyConnection, busy_timeout: Duration, then: &str) -> Result<()> {
    let deadline = Instant::now() + busy_timeout;
    let restore = format!("PRAGMA busy_timeout = {}", busy_timeout.as_millis());
    let begin = format!("{BEGIN_WRITE}; {restore}; {then}");
    let mut begun = conn
        .execute(format!("PRAGMA busy_timeout = {BEGIN_TRY_MS}; {begin}").as_str())
        .await;
    while matches!(&begun, Err(e) if is_busy(e)) && Instant::now() < deadline {
        begun = conn.execute(begin.as_str()).await;
    }
    if let Err(e) = begun {
        // Never begun, or something after the begin failed: leave no transaction open, and the
        // usual wait in place.
        let _ = conn.execute("ROLLBACK").await;
        let _ = conn.execute(restore.as_str()).await;
        return Err(e.into());
    }
    Ok(())
}

/// Whether SQLite said another connection holds the lock (`SQLITE_BUSY` and its extended codes).
fn is_busy(e: &sqlx::Error) -> bool {
    let code = e.as_database_error().and_then(|d| d.code()).and_then(|c| c.parse::<i32>().ok());
    code.is_some_and(|c| c & 0xff == 5)
}

/// SQLite's page cache of the write connection (its default, 2 MiB) and of each read connection.
/// Every connection keeps its own, so with SQLite's default the read pool alone could hold
/// `pool.max_connections` × 2 MiB (32 MiB at 16, measured with 100,000 sessions read in turn);
/// a page a read connection lacks comes from the operating system's file cache, and the hot
/// path reads from the session cache anyway. 64 KiB (16 pages: a lookup's path through the
/// indexes) instead of 256 took 3–5 MiB off the server with 100,000 cached sessions and 16 read
/// connections, with reads from the database no slower (docs/BENCHMARKS.md). The hot path's
/// reads use connections of their own on the request's thread (`local.rs`), with the same
/// page cache; with them the server held 51 MiB with 100,000 cached sessions, against 58 MiB.
const WRITER_CACHE_KIB: u32 = 2048;
pub(super) const READER_CACHE_KIB: u32 = 64;

/// The read pool and the one-connection write pool.
pub(super) async fn connect(url: &str, settings: &PoolSettings) -> Result<(AnyPool, AnyPool)> {
    let url = prepare_url(url)?;
    let busy_ms = settings.busy_timeout.as_millis() as u64;
    let options = move |max: u32, min: u32, cache_kib: u32| {
        AnyPoolOptions::new()
            .max_connections(max)
            .min_connections(min)
            .acquire_timeout(settings.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    conn.execute(
                        format!(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA busy_timeout = {busy_ms}; PRAGMA foreign_keys = ON; \
                             PRAGMA cache_size = -{cache_kib};"
                        )
                        .as_str(),
                    )
                    .await?;
                    Ok(())
                })
            })
    };
    let failed = |e: sqlx::Error| Error::Internal(format!("cannot open the sqlite database: {e}"));
    let write = options(1, 0, WRITER_CACHE_KIB).connect(&url).await.map_err(failed)?;
    let read = options(settings.max_connections.max(1), settings.min_connections, READER_CACHE_KIB)
        .connect(&url)
        .await
        .map_err(failed)?;
    Ok((read, write))
}

/// How many rows of `cache_changes` are kept: a running server reads them within a request or
/// two of their writing; one that fell further behind than this empties its cache.
const CHANGE_LOG_ROWS: i64 = 10_000;

pub(super) async fn trim_change_log(write: &AnyPool) -> Result<()> {
    sqlx::query("DELETE FROM cache_changes WHERE seq <= (SELECT MAX(seq) FROM cache_changes) - $1")
        .bind(CHANGE_LOG_ROWS)
        .execute(write)
        .await?;
    Ok(())
}

/// The session cache's view of the file: a connection of its own, on which `PRAGMA
/// data_version` moves whenever any other connection (this process's pools, another process)
/// commits, and how far `cache_changes` has been read.
///
/// Every cached answer first asks [`ChangeWatch::catch_up`], so the look is on the hot path: it
/// is a plain SQLite call on a connection of its own (rusqlite, in the calling thread), a few
/// microseconds when nothing changed, instead of a trip through a pool and a driver thread.
/// Concurrent askers share one look: each takes a ticket, and a look answers every ticket taken
/// before it began. So a request never gets an answer older than its own arrival.
pub(super) struct ChangeWatch {
    path: String,
    seen: std::sync::Mutex<Seen>,
    asked: AtomicU64,
    answered: AtomicU64,
    healthy: AtomicBool,
}

struct Seen {
    conn: Option<rusqlite::Connection>,
    data_version: i64,
    seq: i64,
}

/// How long a look waits for a lock (only WAL recovery or a checkpoint's restart hold readers
/// up, briefly): it runs in the caller's thread, so it must not wait long. One that times out
/// answers "cannot be sure", and the request reads the database.
const LOOK_BUSY_TIMEOUT: Duration = Duration::from_millis(50);

impl ChangeWatch {
    pub(super) async fn open(url: &str) -> Result<Self> {
        let path = file_path(url)?;
        let mut seen = Seen {
            conn: None,
            data_version: 0,
            seq: 0,
        };
        seen.connect(&path)
            .map_err(|e| Error::Internal(format!("cannot open the sqlite database for the session cache: {e}")))?;
        Ok(Self {
            path,
            seen: std::sync::Mutex::new(seen),
            asked: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            healthy: AtomicBool::new(true),
        })
    }

    /// Forgets what every write committed before this call changed. `false` if the file could
    /// not be read (then nothing cached may be served).
    pub(super) fn catch_up(&self, cache: &SessionCache) -> bool {
        let ticket = self.asked.fetch_add(1, SeqCst) + 1;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if self.answered.load(SeqCst) >= ticket {
            return self.healthy.load(SeqCst);
        }
        let covers = self.asked.load(SeqCst);
        let healthy = match seen.look(&self.path, cache) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "the session cache cannot read the change log; serving from the database");
                seen.conn = None;
                cache.forget_all();
                false
            }
        };
        self.healthy.store(healthy, SeqCst);
        self.answered.store(covers, SeqCst);
        healthy
    }
}

/// How often the change log is read while someone waits to be told of changes (a browser's
/// push stream): cached answers read it anyway, but a change must reach a browser that asks
/// nothing.
const PUSH_EVERY: Duration = Duration::from_millis(100);

/// How often the change log is trimmed to its newest [`CHANGE_LOG_ROWS`] while the cache is on.
/// Often, so each trim is small: left to the cleanup (every 10 minutes by default), a busy
/// server's trim deleted 280,000 rows in one statement, and its memory stayed 7 MiB higher after
/// (docs/BENCHMARKS.md, the soak).
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Reads the change log every [`PUSH_EVERY`] while the cache has subscribers, and trims it every
/// [`TRIM_EVERY`], until the cache is gone.
pub(super) fn spawn_push_watch(watch: std::sync::Arc<ChangeWatch>, cache: std::sync::Weak<SessionCache>, write: AnyPool) {
    tokio::spawn(async move {
        let mut trimmed = Instant::now();
        loop {
            tokio::time::sleep(PUSH_EVERY).await;
            {
                let Some(cache) = cache.upgrade() else { return };
                if cache.subscribers() > 0 {
                    watch.catch_up(&cache);
                }
            }
            if trimmed.elapsed() >= TRIM_EVERY {
                trimmed = Instant::now();
                if let Err(e) = trim_change_log(&write).await {
                    tracing::debug!(error = %e, "trimming the change log failed; the cleanup will");
                }
            }
        }
    });
}

impl Seen {
    /// (Re)opens the watch connection. Everything before now is treated as seen: the caller
    /// empties the cache whenever it may have missed something.
    fn connect(&mut self, path: &str) -> rusqlite::Result<()> {
        let conn = open_here(path, LOOK_BUSY_TIMEOUT)?;
        self.data_version = conn.query_row("PRAGMA data_version", [], |row| row.get(0))?;
        self.seq = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM cache_changes", [], |row| row.get(0))?;
        self.conn = Some(conn);
        Ok(())
    }

    fn look(&mut self, path: &str, cache: &SessionCache) -> rusqlite::Result<()> {
        if self.conn.is_none() {
            self.connect(path)?;
            cache.forget_all();
        }
        let conn = self.conn.as_ref().expect("connected above");
        let data_version: i64 = conn.prepare_cached("PRAGMA data_version")?.query_row([], |row| row.get(0))?;
        if data_version == self.data_version {
            return Ok(());
        }
        cache.count_log_read();
        let mut statement = conn.prepare_cached("SELECT seq, user_id FROM cache_changes WHERE seq > ?1 ORDER BY seq")?;
        let changes = statement
            .query_map([self.seq], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        match changes.first() {
            // Rows were trimmed before this server read them: it cannot know what it missed.
            Some(&(first, _)) if first != self.seq + 1 => cache.forget_all(),
            _ => {
                let users: std::collections::HashSet<UserId> = changes.iter().filter_map(|&(_, user)| UserId::parse(user).ok()).collect();
                for user in users {
                    cache.forget_user(user);
                }
            }
        }
        if let Some(&(last, _)) = changes.last() {
            self.seq = last;
        }
        self.data_version = data_version;
        Ok(())
    }
}

/// A connection used on the calling thread (rusqlite): the change watch's, and the hot path's
/// reads (`local.rs`). An existing file only; a lock is waited for up to `busy_timeout`.
pub(super) fn open_here(path: &str, busy_timeout: Duration) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(busy_timeout)?;
    Ok(conn)
}

/// The file a SQLite URL names (made ready as for [`connect`]).
pub(super) fn file_path(url: &str) -> Result<String> {
    Ok(file_of(&prepare_url(url)?).to_owned())
}

/// The file a prepared URL names.
fn file_of(url: &str) -> &str {
    let rest = url.strip_prefix("sqlite://").unwrap_or(url);
    rest.split_once('?').map_or(rest, |(path, _)| path)
}

/// Turns `sqlite://data/x.db` into a URL that creates the file, and makes its folder.
fn prepare_url(url: &str) -> Result<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
        return Err(Error::invalid(
            "database_url",
            "SQLite needs a file path, e.g. sqlite://data/switchboard.db",
        ));
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::invalid("database_url", format!("cannot create {}: {e}", parent.display())))?;
        }
    }
    let query = if query.contains("mode=") {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".into()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_create_the_file_and_reject_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/db.sqlite");
        let url = prepare_url(&format!("sqlite://{}", path.display())).unwrap();
        assert!(url.ends_with("?mode=rwc"), "{url}");
        assert!(path.parent().unwrap().is_dir());
        assert!(prepare_url("sqlite::memory:").is_err());
        assert!(prepare_url("sqlite://x.db?mode=memory").is_err());
    }
}
