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
//! The lock is held while a work runs, so every trip to the driver's thread in it is time the
//! whole queue waits. A work may therefore send its savepoint itself, in front of its first
//! statement list ([`GroupCommit::run`]); each savepoint has a name of its own within
//! the batch, so undoing a work whose savepoint never opened fails (and fails the batch) instead
//! of undoing the work before it.
//!
//! A caller that goes away (its request timed out) never leaves a batch open: what it left is
//! settled by a task of its own, which rolls back its unfinished work and commits the rest.

use crate::error::{Error, Result};
use futures_util::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// Begins work `n` of the open batch: the savepoint [`undo_work`] goes back to.
fn begin_work(n: u64) -> String {
    format!("SAVEPOINT work{n};")
}

/// Undoes work `n` of the open batch: back to its savepoint, which then goes; the work before
/// it, in the savepoints around it, stays. A work sends its savepoint before anything else, so
/// one that never opened (the work failed or was dropped before it sent anything) left nothing
/// to undo. If SQLite ended the whole transaction instead (an I/O error), the batch's `COMMIT`
/// fails, and so does the batch.
async fn undo_work(conn: &mut AnyConnection, n: u64) -> std::result::Result<(), sqlx::Error> {
    match conn
        .execute(format!("ROLLBACK TO SAVEPOINT work{n}; RELEASE SAVEPOINT work{n}").as_str())
        .await
    {
        Err(e) if e.as_database_error().is_some_and(|d| d.message().starts_with("no such savepoint")) => Ok(()),
        undone => undone.map(drop),
    }
}

/// Batches whose commit failed, remembered for their callers (who look within moments).
const FAILED_KEPT: usize = 256;

pub(super) struct GroupCommit {
    pool: AnyPool,
    /// How long a batch waits for the write lock another process holds.
    busy_timeout: Duration,
    batch: tokio::sync::Mutex<Batch>,
    commits: AtomicU64,
    /// Requests' writes under way (from [`GroupCommit::run`]'s start until it returns), which
    /// bulk work lets go first ([`GroupCommit::until_quiet`]).
    busy: AtomicUsize,
    /// Told when `busy` falls to 0.
    quiet: tokio::sync::Notify,
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
    /// Works begun in the open batch: each one's savepoint is named by its number, so no two in
    /// a batch share a name. Counted from 1 in every batch, so the same statement lists come
    /// round again and the driver's statement cache keeps them prepared (with numbers that only
    /// grew, every work's list was new: parsed, prepared, and another evicted and finalized, all
    /// while the other writers waited).
    works: u64,
    /// The work whose savepoint may be open: a holder that went away while it ran.
    unfinished: Option<u64>,
}

impl GroupCommit {
    pub(super) fn new(pool: AnyPool, busy_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            pool,
            busy_timeout,
            batch: tokio::sync::Mutex::new(Batch::default()),
            commits: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            quiet: tokio::sync::Notify::new(),
        })
    }

    /// Commits so far (each one fsync): for tests and figures.
    pub(super) fn commits(&self) -> u64 {
        self.commits.load(SeqCst)
    }

    /// Requests' writes under way: running, or waiting for the batch (for metrics, and for bulk
    /// work, which gives way to them).
    pub(super) fn writes_under_way(&self) -> usize {
        self.busy.load(SeqCst)
    }

    /// Runs `work` in the open batch (opening one if none is), then commits the batch unless a
    /// later arrival already did. `Ok` only once the work is committed. The work sends `begin`
    /// (its savepoint's statement, or nothing when the batch's begin opened it) in front of its
    /// first statements, in the same trip, and nothing before it.
    pub(super) async fn run<T, F>(self: &Arc<Self>, work: F) -> Result<T>
    where
        T: Send,
        F: for<'c> FnOnce(&'c mut AnyConnection, &'c str) -> BoxFuture<'c, Result<T>> + Send,
    {
        let _busy = Busy::enter(self);
        self.run_bulk(work).await
    }

    /// [`GroupCommit::run`] for bulk work (the cleanup's batches), which is not a request's
    /// write: it is not counted in [`GroupCommit::writes_under_way`], so while it runs, a count
    /// above 0 means a request waits for it, and the bulk work gives way (`store/bulk.rs`).
    pub(super) async fn run_bulk<T, F>(self: &Arc<Self>, work: F) -> Result<T>
    where
        T: Send,
        F: for<'c> FnOnce(&'c mut AnyConnection, &'c str) -> BoxFuture<'c, Result<T>> + Send,
    {
        let mut settle = SettleOnDrop {
            group: self.clone(),
            batch: None,
        };
        let (batch, value) = {
            let mut open = self.batch.lock().await;
            self.tidy(&mut open).await;
            if open.conn.is_none() {
                // A new batch: nothing of the last one is left to undo (`tidy` above).
                open.works = 0;
            }
            open.works += 1;
            let number = open.works;
            let begin = begin_work(number);
            let begin = if open.conn.is_some() {
                begin.as_str()
            } else {
                // The batch's begin and this work's savepoint, in one trip.
                let mut conn = self.pool.acquire().await?;
                super::sqlite::begin_write(&mut conn, self.busy_timeout, &begin).await?;
                open.conn = Some(conn);
                open.number += 1;
                ""
            };
            let batch = open.number;
            settle.batch = Some(batch);
            open.unfinished = Some(number);
            let conn = open.conn.as_mut().expect("opened above");
            let outcome = work(conn, begin).await;
            // Work that succeeded leaves its savepoint open (the next one nests inside it, and
            // COMMIT releases them all): one statement less for every write while the lock is
            // held. Work that failed is undone.
            if outcome.is_err() {
                let conn = open.conn.as_mut().expect("opened above");
                if let Err(e) = undo_work(conn, number).await {
                    // SQLite ended the transaction itself (an I/O error, a full disk): the batch
                    // is lost.
                    self.fail(&mut open, batch).await;
                    settle.batch = None;
                    return Err(e.into());
                }
            }
            open.unfinished = None;
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

    /// Returns once no write is under way, or after `at_most`: bulk work (the cleanup's
    /// batches) waits here before each [`GroupCommit::run_bulk`], so requests' writes go first.
    ///
    /// Without it, a bulk batch that queued for the lock while a request's write ran (between
    /// the request's work and its commit, which takes the lock again) ran its statements before
    /// that commit: the request waited for a whole bulk batch, every time, and switches during
    /// a sweep answered in 37 ms at p99 instead of 2 (docs/BENCHMARKS.md). Now a request waits
    /// at most for the chunk of bulk work under way, which then gives way to it
    /// ([`GroupCommit::run_bulk`]).
    pub(super) async fn until_quiet(&self, at_most: Duration) {
        let quiet = async {
            loop {
                let told = self.quiet.notified();
                tokio::pin!(told);
                told.as_mut().enable();
                if self.busy.load(SeqCst) == 0 {
                    return;
                }
                told.await;
            }
        };
        let _ = tokio::time::timeout(at_most, quiet).await;
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
        let Some(work) = open.unfinished.take() else { return };
        let batch = open.number;
        let conn = open.conn.as_mut().expect("unfinished work holds the connection");
        if undo_work(conn, work).await.is_err() {
            self.fail(open, batch).await;
        }
    }

    /// Ends the open batch as failed: rolled back, its connection closed (its state is unknown).
    async fn fail(&self, open: &mut Batch, batch: u64) {
        if let Some(mut conn) = open.conn.take() {
            let _ = conn.execute("ROLLBACK").await;
            conn.close_on_drop();
        }
        open.unfinished = None;
        open.settled = open.number;
        open.failed.push_back(batch);
        if open.failed.len() > FAILED_KEPT {
            open.failed.pop_front();
        }
    }
}

/// A write under way, counted in [`GroupCommit::busy`] until dropped.
struct Busy<'a>(&'a GroupCommit);

impl<'a> Busy<'a> {
    fn enter(group: &'a GroupCommit) -> Self {
        group.busy.fetch_add(1, SeqCst);
        Self(group)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, SeqCst) == 1 {
            self.0.quiet.notify_waiters();
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
