//! Bulk work (the cleanup's expiries and deletions): batches of short transactions that let
//! requests' writes go first.
//!
//! SQLite has one writer, so a request's write that arrives while a batch runs waits for it. A
//! batch therefore begins once no request's write is under way, and works in chunks of
//! [`CHUNK`] rows. When a request's write arrives during a chunk, the batch gives way after it:
//! its work is undone (it was not yet written to the WAL), the request's write runs and commits
//! alone, and the batch is done again after it. The request waits for what is left of one chunk
//! and an undo, and its commit's sync carries none of the batch's pages. Served, switches during
//! a sweep of 1,000,000 expired sessions answer at their idle median, and at p99 in 1.5–1.9 ×
//! their idle p99, against up to 2.2 × when they waited for the rest of a batch and shared its
//! commit (docs/BENCHMARKS.md).
//!
//! PostgreSQL's writers do not queue behind one another (the sweep locks only the rows it ends),
//! so there a batch is one chunk: one statement.

use super::{opening, tally, Db, Writer};
use crate::error::{Error, Result};
use futures_util::future::BoxFuture;
use sqlx::AnyConnection;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long bulk work waits for a moment without requests' writes before it begins a batch
/// anyway, so a steady stream of writes cannot hold it off (it then does at least one chunk).
const WAITS_AT_MOST: Duration = Duration::from_millis(100);

/// Rows a batch works on between its looks for a request's write waiting (SQLite). A request
/// that arrives during a chunk waits for the rest of it: a quarter of a default batch (100).
/// Chunks of 50 measured no better (docs/BENCHMARKS.md).
const CHUNK: i64 = 25;

/// A chunk's work for [`Db::in_batches`], as written: this names its type (a closure made
/// inside another is not otherwise taken as working on a connection of any lifetime). It does
/// up to the rows it is asked (its statement's limit) and returns how many it did.
pub fn chunk_work<F>(work: F) -> F
where
    F: for<'c> FnMut(&'c mut AnyConnection, i64) -> BoxFuture<'c, Result<u64>> + Send + 'static,
{
    work
}

impl Db {
    /// [`Db::transaction`] for bulk work no request waits on: on SQLite it begins once no
    /// request's write is under way (or after [`WAITS_AT_MOST`]), so requests' writes go first.
    /// It does not count as a request's write itself, so while it runs, any write under way
    /// is a request's, waiting for it.
    pub async fn background_transaction<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        if let Some(group) = &self.group {
            group.until_quiet(WAITS_AT_MOST).await;
        }
        tally::counting(&self.tally, self.commit_work(Writer::Bulk, opening(work))).await
    }

    /// Runs bulk work a batch at a time, each batch a [`Db::background_transaction`] of chunks:
    /// `work()` gives a batch's [`chunk_work`], which is asked for up to [`CHUNK`] rows at a time
    /// until the batch has done `batch` rows, or a chunk does fewer than it was asked (nothing is
    /// left: the work is done). A batch during which a request's write arrives gives way to it
    /// after the chunk under way (see the module documentation). Tells `progress` the running
    /// total after each batch. Returns the total.
    pub async fn in_batches<W>(&self, batch: u32, progress: &(dyn Fn(u64) + Sync), work: impl Fn() -> W) -> Result<u64>
    where
        W: for<'c> FnMut(&'c mut AnyConnection, i64) -> BoxFuture<'c, Result<u64>> + Send + 'static,
    {
        let batch = i64::from(batch.max(1));
        let chunk = if self.group.is_some() { CHUNK.min(batch) } else { batch };
        let (mut total, mut committed) = (0, Instant::now());
        loop {
            let mut chunks = work();
            let group = self.group.clone();
            // Undone work is done again; but once no batch has committed for a while, a batch
            // commits what it did with the request instead, so a stream of writes cannot hold the
            // work off for ever.
            let may_undo = committed.elapsed() < WAITS_AT_MOST;
            let gave_way = Arc::new(AtomicBool::new(false));
            let undone = gave_way.clone();
            let outcome = self
                .background_transaction(move |c| {
                    Box::pin(async move {
                        let mut done = 0;
                        loop {
                            let asked = chunk.min(batch - done);
                            let did = chunks(&mut *c, asked).await? as i64;
                            done += did;
                            if did < asked {
                                return Ok((done, true));
                            }
                            if done == batch {
                                return Ok((done, false));
                            }
                            if group.as_ref().is_some_and(|group| group.writes_under_way() > 0) {
                                if !may_undo {
                                    return Ok((done, false));
                                }
                                // An error undoes this work (back to its savepoint in the open
                                // batch), and nothing it noted counts; the request's write then
                                // commits without this batch's pages.
                                undone.store(true, Relaxed);
                                return Err(Error::Internal("bulk work gave way to a request's write".into()));
                            }
                        }
                    })
                })
                .await;
            if gave_way.load(Relaxed) {
                continue;
            }
            let (done, finished) = outcome?;
            committed = Instant::now();
            self.look_after_commit();
            total += done as u64;
            progress(total);
            if finished {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Deletes old rows as bulk work ([`Db::in_batches`]): `sql` binds `$1` the cut-off and `$2`
    /// the most rows to delete. Returns how many it deleted.
    pub(crate) async fn delete_in_batches(
        &self,
        sql: &'static str,
        cutoff: crate::clock::Timestamp,
        batch: u32,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<u64> {
        self.in_batches(batch, progress, || {
            chunk_work(move |c, limit| {
                Box::pin(async move { Ok(sqlx::query(sql).bind(cutoff).bind(limit).execute(&mut *c).await?.rows_affected()) })
            })
        })
        .await
    }
}
