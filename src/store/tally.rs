//! What committed, counted: events recorded by writes that committed, since the process began
//! (the server's metrics read them). A write notes each event as it records it ([`note`]);
//! [`Db::transaction`](super::Db::transaction) adds the notes to the counts only once its
//! transaction has committed, so a write that rolled back, or whose batch failed to commit,
//! counts nothing. The slots mean what the caller says (the audit log's kinds and outcomes).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// How many counters there are.
pub const SLOTS: usize = 64;

/// Counters, one per slot.
pub struct Tally([AtomicU64; SLOTS]);

impl Default for Tally {
    fn default() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl Tally {
    /// Adds `n` to `slot` (for work that committed outside [`Db::transaction`](super::Db::transaction)).
    pub fn add(&self, slot: usize, n: u64) {
        self.0[slot].fetch_add(n, Relaxed);
    }

    pub fn get(&self, slot: usize) -> u64 {
        self.0[slot].load(Relaxed)
    }
}

tokio::task_local! {
    /// The slots noted by the transaction under way in this task.
    static NOTED: RefCell<Vec<usize>>;
}

/// Notes one event in `slot` for the transaction under way, to be counted when it commits.
/// Outside a transaction it does nothing: the caller counts what it committed itself.
pub fn note(slot: usize) {
    let _ = NOTED.try_with(|noted| noted.borrow_mut().push(slot));
}

/// Runs a transaction's `work`, counting what it noted in `tally` if it returned `Ok`.
pub(super) async fn counting<T, E>(tally: &Tally, work: impl std::future::Future<Output = Result<T, E>>) -> Result<T, E> {
    let (result, noted) = NOTED
        .scope(RefCell::new(Vec::new()), async {
            let result = work.await;
            (result, NOTED.with(|noted| std::mem::take(&mut *noted.borrow_mut())))
        })
        .await;
    if result.is_ok() {
        for slot in noted {
            tally.add(slot, 1);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_work_that_succeeded_counts_what_it_noted() {
        let tally = Tally::default();
        let ok: Result<(), ()> = counting(&tally, async {
            note(3);
            note(3);
            Ok(())
        })
        .await;
        assert_eq!(ok, Ok(()));
        let failed: Result<(), ()> = counting(&tally, async {
            note(3);
            note(4);
            Err(())
        })
        .await;
        assert_eq!(failed, Err(()));
        note(4); // outside a transaction: the caller counts
        assert_eq!((tally.get(3), tally.get(4)), (2, 0));
    }
}
