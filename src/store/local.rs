//! SQLite reads on the caller's thread: the hot path's two reads (a session with its user, a
//! user's platforms) as plain SQLite calls on connections of their own (rusqlite), instead of a
//! trip to sqlx's thread for the connection and back.
//!
//! Each trip hands the work to another thread and the answer back, and on a 2-core machine under
//! load those hand-offs were about a third of the server's time (docs/BENCHMARKS.md). A read of
//! one row by its index takes microseconds, so blocking the calling thread for it costs less
//! than the hand-off. Readers never wait for the writer (WAL).
//!
//! Everything here is an optimisation only: [`LocalReads::read`] answers `None` on any failure
//! (a lock held by WAL recovery or a checkpoint's restart past a short wait, a file that cannot
//! be opened, a stored value that does not parse), and the caller then reads through the pool
//! as before, which reports the error, if it persists, as it always did. Values are read by the
//! same rules as the pool reads them (`codec.rs`).

use std::sync::Mutex;
use std::time::Duration;

/// How long a read waits for a lock before giving up (and the caller reads through the pool).
/// Readers in WAL mode wait only for WAL recovery or a checkpoint's restart, briefly.
const BUSY_TIMEOUT: Duration = Duration::from_millis(20);

/// Connections kept open between reads. Reads never await, so at most one per thread that runs
/// requests is in use at a time; more are opened when needed and closed after.
const IDLE: usize = 8;

pub(crate) struct LocalReads {
    path: String,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl LocalReads {
    pub(super) fn new(path: &str) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A read-only connection with the read pool's page cache.
    fn connect(&self) -> rusqlite::Result<rusqlite::Connection> {
        let conn = super::sqlite::open_here(&self.path, BUSY_TIMEOUT)?;
        conn.execute_batch(&format!(
            "PRAGMA query_only = ON; PRAGMA cache_size = -{};",
            super::sqlite::READER_CACHE_KIB
        ))?;
        Ok(conn)
    }

    /// Runs `read` with the statement `sql` prepared (and kept prepared) on a connection of this
    /// thread's taking; `None` if it failed (see the module documentation). Each statement is
    /// logged at `trace` under this module's target, as sqlx logs its own under `sqlx::query`.
    pub(crate) fn read<T>(&self, sql: &str, read: impl FnOnce(&mut rusqlite::Statement<'_>) -> rusqlite::Result<T>) -> Option<T> {
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match taken {
            Some(conn) => conn,
            None => self
                .connect()
                .map_err(|e| tracing::debug!(error = %e, "a local sqlite read could not open; reading through the pool"))
                .ok()?,
        };
        let result = conn.prepare_cached(sql).and_then(|mut statement| read(&mut statement));
        tracing::trace!(db.statement = sql, "local read");
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE {
            idle.push(conn);
        }
        drop(idle);
        result
            .map_err(|e| tracing::debug!(error = %e, "a local sqlite read failed; reading through the pool"))
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;
    use crate::ids::UserId;

    #[test]
    fn a_read_gives_what_is_stored_and_none_on_any_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("local.db");
        let setup = rusqlite::Connection::open(&path).unwrap();
        setup
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER, email TEXT); \
                 INSERT INTO t VALUES (7, 'ann@example.org'), (-1, 'not an email');",
            )
            .unwrap();
        let reads = LocalReads::new(path.to_str().unwrap());
        let read = |id: i64| {
            reads.read("SELECT id, email FROM t WHERE id = $1", |statement| {
                statement.query_row([id], |row| Ok((row.get::<_, UserId>("id")?, row.get::<_, Email>("email")?)))
            })
        };
        let ann = (UserId::parse(7).unwrap(), Email::parse("ann@example.org").unwrap());
        assert_eq!(read(7), Some(ann.clone()));
        assert_eq!(read(7), Some(ann), "again, on the kept connection");
        assert_eq!(reads.idle.lock().unwrap().len(), 1);
        // What the pool would refuse to decode is no answer here: the pool reads it and reports.
        assert_eq!(read(-1), None);
        // Read-only: a write through it fails, and changes nothing.
        assert_eq!(reads.read("DELETE FROM t", |statement| statement.execute([])), None);
        let rows: i64 = setup.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0)).unwrap();
        assert_eq!(rows, 2);
        // A file that cannot be opened: no answer, and the caller reads through the pool.
        let nowhere = LocalReads::new(dir.path().join("missing/local.db").to_str().unwrap());
        assert_eq!(
            nowhere.read("SELECT 1", |statement| statement.query_row([], |row| row.get::<_, i64>(0))),
            None
        );
    }
}
