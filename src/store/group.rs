//! Group commit for SQLite: write transactions that arrive together share one `COMMIT`, and so
//! one fsync, without giving up durability (nothing is answered before the commit that holds it
//! is on disk).
//!
//! SQLite has one writer, and with `synchronous = FULL` every commit waits for the disk. Run
//! alone, 64 concurrent switches queue for 64 fsyncs. Here a transaction's work runs inside a
//! savepoint of the open batch (its error rolls back only its own savepoint; savepoints of work
//! that succeeded stay open, nested, until the batch commits), and then it queues
//! once more, behind whoever arrived while it worked, to commit: the first in line commits the
//! whole batch, the others find their batch committed. Both steps take one FIFO lock, so the
//! order of work is the order of arrival, as before.
//!
//! A caller that goes away (its request timed out) never leaves a batch open: what it left is
//! settled by a task of its own, which rolls back its unfinished work and commits the rest.

use crate::error::{Error, Result};
use futures_util::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// Begins a work in the open batch: the savepoint [`UNDO_WORK`] goes back to.
const BEGIN_WORK: &str = "SAVEPOINT work";

/// Undoes the newest work of the open batch: back to its savepoint (the innermost one named
/// `work`), which then goes; the work before it, in the savepoints around it, stays.
const UNDO_WORK: &str = "ROLLBACK TO SAVEPOINT work; RELEASE SAVEPOINT work";

/// Batches whose commit failed, remembered for their callers (who look within moments).
const FAILED_KEPT: usize = 256;

pub(super) struct GroupCommit {
    pool: AnyPool,
    /// How long a batch waits for the write lock another process holds.
    busy_timeout: Duration,
    batch: tokio::sync::Mutex<Batch>,
    commits: AtomicU64,
}

#[derive(Default)]
struct Batch {
    /// The write connection, in a transaction, while a batch is open.
    conn: Option<PoolConnection<Any>>,
    /// The open (or last) batch's number.
    number: u64,
    /// Every batch up to this one has committed or failed.
    settled: u64,
    failed: VecDeque<u64>,
    /// Whose savepoint is open: a holder that went away while its work ran.
    unfinished: bool,
}

impl GroupCommit {
    pub(super) fn new(pool: AnyPool, busy_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            pool,
            busy_timeout,
            batch: tokio::sync::Mutex::new(Batch::default()),
            commits: AtomicU64::new(0),
        })
    }

    /// Commits so far (each one fsync): for tests and figures.
    pub(super) fn commits(&self) -> u64 {
        self.commits.load(SeqCst)
    }

    /// Runs `work` in the open batch (opening one if none is), then commits the batch unless a
    /// later arrival already did. `Ok` only once the work is committed.
    pub(super) async fn run<T, F>(self: &Arc<Self>, work: F) -> Result<T>
    where
        T: Send,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T>> + Send,
    {
        let mut settle = SettleOnDrop {
            group: self.clone(),
            batch: None,
        };
        let (batch, value) = {
            let mut open = self.batch.lock().await;
            self.tidy(&mut open).await;
            let joined = open.conn.is_some();
            if !joined {
                // The batch's begin and this work's savepoint, in one trip.
                let mut conn = self.pool.acquire().await?;
                super::sqlite::begin_write(&mut conn, self.busy_timeout, BEGIN_WORK).await?;
                open.conn = Some(conn);
                open.number += 1;
            }
            let batch = open.number;
            settle.batch = Some(batch);
            if joined {
                open.conn.as_mut().expect("joined an open batch").execute(BEGIN_WORK).await?;
            }
            open.unfinished = true;
            let conn = open.conn.as_mut().expect("opened above");
            let outcome = work(conn).await;
            // Work that succeeded leaves its savepoint open (the next one nests inside it, and
            // COMMIT releases them all): one statement less for every write while the lock is
            // held. Work that failed is undone.
            if outcome.is_err() {
                let conn = open.conn.as_mut().expect("opened above");
                if let Err(e) = conn.execute(UNDO_WORK).await {
                    // SQLite ended the transaction itself (an I/O error, a full disk): the batch
                    // is lost.
                    self.fail(&mut open, batch).await;
                    settle.batch = None;
                    return Err(e.into());
                }
            }
            open.unfinished = false;
            drop(open);
            match outcome {
                Ok(value) => (batch, value),
                Err(e) => {
                    // Rolled back; the batch (perhaps empty now) must still be committed.
                    let _ = self.settle(batch).await;
                    settle.batch = None;
                    return Err(e);
                }
            }
        };
        self.settle(batch).await?;
        settle.batch = None;
        Ok(value)
    }

    /// Commits `batch` if it is still open, or says how it ended.
    async fn settle(&self, batch: u64) -> Result<()> {
        let mut open = self.batch.lock().await;
        self.tidy(&mut open).await;
        if open.settled < batch {
            let conn = open.conn.as_mut().expect("an unsettled batch holds the connection");
            match conn.execute("COMMIT").await {
                Ok(_) => {
                    self.commits.fetch_add(1, SeqCst);
                    open.conn = None;
                    open.settled = open.number;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a batch of writes could not commit");
                    self.fail(&mut open, batch).await;
                }
            }
        }
        if open.failed.contains(&batch) {
            return Err(Error::Internal("the write could not be committed".into()));
        }
        Ok(())
    }

    /// Rolls back the savepoint of a holder that went away while its work ran.
    async fn tidy(&self, open: &mut Batch) {
        if !open.unfinished {
            return;
        }
        let batch = open.number;
        let conn = open.conn.as_mut().expect("unfinished work holds the connection");
        if conn.execute(UNDO_WORK).await.is_err() {
            self.fail(open, batch).await;
        }
        open.unfinished = false;
    }

    /// Ends the open batch as failed: rolled back, its connection closed (its state is unknown).
    async fn fail(&self, open: &mut Batch, batch: u64) {
        if let Some(mut conn) = open.conn.take() {
            let _ = conn.execute("ROLLBACK").await;
            conn.close_on_drop();
        }
        open.unfinished = false;
        open.settled = open.number;
        open.failed.push_back(batch);
        if open.failed.len() > FAILED_KEPT {
            open.failed.pop_front();
        }
    }
}

/// Settles a caller's batch in a task of its own if the caller goes away before it did.
struct SettleOnDrop {
    group: Arc<GroupCommit>,
    batch: Option<u64>,
}

impl Drop for SettleOnDrop {
    fn drop(&mut self) {
        if let (Some(batch), Ok(runtime)) = (self.batch, tokio::runtime::Handle::try_current()) {
            let group = self.group.clone();
            runtime.spawn(async move {
                if let Err(e) = group.settle(batch).await {
                    tracing::warn!(error = %e, "settling a batch of writes left by a cancelled request failed");
                }
            });
        }
    }
}
