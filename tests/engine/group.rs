//! SQLite's group commit (`store/group.rs`): write transactions that arrive together share one
//! commit, each one's error rolls back only its own work, nothing is answered before it is
//! committed, and a caller that goes away leaves no batch open.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use switchboard::store::chunk_work;
use switchboard::testing::TestDatabase;
use switchboard::{Db, Error, PoolSettings};

async fn scratch() -> (TestDatabase, Db) {
    let database = TestDatabase::sqlite().await;
    let db = database.connect(&PoolSettings::default()).await;
    sqlx::query("CREATE TABLE scratch (i INTEGER NOT NULL)")
        .execute(db.writer())
        .await
        .unwrap();
    (database, db)
}

/// One transaction: inserts `i`, then fails if `fail`.
async fn insert(db: &Db, i: i64, fail: bool) -> Result<(), Error> {
    db.transaction(move |c| {
        Box::pin(async move {
            sqlx::query("INSERT INTO scratch (i) VALUES ($1)").bind(i).execute(&mut *c).await?;
            if fail {
                return Err(Error::invalid("test", "a domain error after the write"));
            }
            Ok(())
        })
    })
    .await
}

/// What another connection sees (only committed rows).
async fn committed(database: &TestDatabase) -> Vec<i64> {
    let other = database.connect(&PoolSettings::default()).await;
    sqlx::query_scalar("SELECT i FROM scratch ORDER BY i")
        .fetch_all(other.reader())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_transactions_that_arrive_together_share_commits_and_fail_alone() {
    let (database, db) = scratch().await;
    let before = db.commits().expect("SQLite counts its commits");
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move { (i, insert(&db, i, i % 8 == 0).await) })
        })
        .collect();
    let mut answered_ok = Vec::new();
    for task in tasks {
        let (i, result) = task.await.unwrap();
        assert_eq!(result.is_ok(), i % 8 != 0, "transaction {i}: {result:?}");
        if result.is_ok() {
            answered_ok.push(i);
        }
    }
    assert_eq!(committed(&database).await, answered_ok, "every acknowledged write, and only those");
    let commits = db.commits().unwrap() - before;
    println!("[group] 64 concurrent transactions, 56 committed, in {commits} commits");
    assert!(commits < 56, "transactions that arrived together shared commits: {commits} for 56");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_caller_that_goes_away_mid_work_leaves_nothing_of_it_and_no_batch_open() {
    let (database, db) = scratch().await;
    let stuck = db.transaction(move |c| {
        Box::pin(async move {
            sqlx::query("INSERT INTO scratch (i) VALUES (1)").execute(&mut *c).await?;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stuck).await.is_err(),
        "the caller gave up"
    );
    // Nobody else writes in a transaction: the abandoned batch is settled on its own, so a single
    // statement gets the write connection (else it would wait for the pool's acquire timeout).
    tokio::time::timeout(Duration::from_secs(2), async {
        sqlx::query("INSERT INTO scratch (i) VALUES (2)")
            .execute(db.writer())
            .await
            .unwrap();
        insert(&db, 3, false).await.unwrap();
    })
    .await
    .expect("no batch was left open");
    assert_eq!(committed(&database).await, vec![2, 3], "the abandoned work was rolled back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_caller_that_goes_away_before_its_turn_writes_nothing_and_holds_nothing_up() {
    let (database, db) = scratch().await;
    // A slow transaction holds the batch, so the next one queues for its turn.
    let slow = {
        let db = db.clone();
        tokio::spawn(async move {
            db.transaction(move |c| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO scratch (i) VALUES (10)").execute(&mut *c).await?;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok(())
                })
            })
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Queued behind the slow one; abandoned before its turn to work.
    let abandoned = insert(&db, 11, false);
    assert!(tokio::time::timeout(Duration::from_millis(50), abandoned).await.is_err());
    slow.await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        committed(&database).await,
        vec![10],
        "what never ran is not written, what was acknowledged is"
    );
    insert(&db, 12, false).await.unwrap();
    assert_eq!(committed(&database).await, vec![10, 12]);
}

/// A work that sends its own savepoint (`transaction_opening`) and fails before it sent anything
/// has nothing to undo: undoing it must not reach the work before it in the same batch, which
/// was answered `Ok` (with one savepoint name for every work, it would have rolled that back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_work_that_fails_before_its_savepoint_undoes_nothing_of_the_batch() {
    let (database, db) = scratch().await;
    // Holds the batch open while the others queue, so they join it.
    let first = {
        let db = db.clone();
        tokio::spawn(async move {
            db.transaction_opening(move |c, begin| {
                Box::pin(async move {
                    sqlx::query(&format!("{begin} INSERT INTO scratch (i) VALUES (1)"))
                        .execute(&mut *c)
                        .await?;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok(())
                })
            })
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let failing = {
        let db = db.clone();
        tokio::spawn(async move {
            db.transaction_opening(move |_, _| Box::pin(async move { Err::<(), _>(Error::invalid("test", "refused before any SQL")) }))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let third = {
        let db = db.clone();
        tokio::spawn(async move { insert(&db, 3, false).await })
    };
    let before = db.commits().unwrap();
    first.await.unwrap().unwrap();
    assert!(failing.await.unwrap().is_err());
    third.await.unwrap().unwrap();
    assert_eq!(committed(&database).await, vec![1, 3], "both acknowledged works are committed");
    assert_eq!(db.commits().unwrap() - before, 1, "all three were one batch");
}

/// Touches of `last_seen_at` that fall due together go through group commit too: 32 sessions,
/// each due a touch, read at once share a few commits instead of queueing for an fsync each (the
/// soak's 10,000 sessions coming due together held reads up for 4.7 s that way, 2.2 s after).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_touches_that_fall_due_together_share_commits() {
    use crate::support::{harness, meta};
    let h = harness(TestDatabase::sqlite().await).await;
    let mut tokens = Vec::new();
    for i in 0..32 {
        let email = format!("touch{i}@example.org");
        h.user(&email).await;
        tokens.push(h.login(&email).await.0);
    }
    h.clock.advance(Duration::from_secs(61));
    let before = h.db.commits().unwrap();
    let reads: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let engine = h.engine.clone();
            tokio::spawn(async move { engine.authenticate(&token, &meta()).await.unwrap().last_seen_at })
        })
        .collect();
    for read in reads {
        assert_eq!(read.await.unwrap(), h.now(), "each read touched its session");
    }
    let commits = h.db.commits().unwrap() - before;
    println!("[group] 32 touches due together: {commits} commits");
    assert!(
        (1..32).contains(&commits),
        "the touches went through group commit and shared commits: {commits}"
    );
}

/// A work's savepoint is numbered within its batch, so the statement lists that carry one (a
/// switch's is its savepoint, update and audit row) come round again and stay prepared in the
/// driver's statement cache. Numbered across batches, every list was new: parsed and prepared
/// while the other writers waited, and another list evicted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_savepoint_names_come_round_again_in_every_batch() {
    let (_database, db) = scratch().await;
    let begins = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for round in 0..20 {
        let batch: Vec<_> = (0..8)
            .map(|i| {
                let (db, begins) = (db.clone(), begins.clone());
                tokio::spawn(async move {
                    db.transaction_opening(move |c, begin| {
                        begins.lock().unwrap().push(begin.to_owned());
                        Box::pin(async move {
                            let sql = format!("{begin} INSERT INTO scratch (i) VALUES ($1)");
                            sqlx::query(&sql).bind(round * 8 + i).execute(&mut *c).await?;
                            Ok(())
                        })
                    })
                    .await
                })
            })
            .collect();
        for transaction in batch {
            transaction.await.unwrap().unwrap();
        }
    }
    let begins = begins.lock().unwrap();
    let numbers: Vec<u64> = begins
        .iter()
        .filter_map(|begin| begin.strip_prefix("SAVEPOINT work")?.strip_suffix(';')?.parse().ok())
        .collect();
    assert!(numbers.len() > 20, "works joined open batches: {begins:?}");
    assert!(
        numbers.iter().all(|&n| (2..=8).contains(&n)),
        "8 at a time, a work is one of the first 8 of its batch (the first's savepoint goes with \
         the batch's begin): {numbers:?}"
    );
}

/// Bulk work (the cleanup's batches, `Db::background_transaction`) lets requests' writes go
/// first: bulk work that arrives while a request's write is under way begins once that write
/// has committed. Queued for the lock as a request is, it ran between the request's work and
/// the request's commit (which takes the lock again), in the request's batch: the request waited
/// for a whole bulk batch (docs/BENCHMARKS.md, the cleanup).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_bulk_work_begins_after_the_write_under_way_has_committed() {
    let (database, db) = scratch().await;
    let (go, gone) = tokio::sync::oneshot::channel::<()>();
    let request = tokio::spawn({
        let db = db.clone();
        async move {
            db.transaction(move |c| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO scratch (i) VALUES (1)").execute(&mut *c).await?;
                    let _ = gone.await;
                    Ok(())
                })
            })
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    // What another connection sees when the bulk work begins.
    let other = database.connect(&PoolSettings::default()).await;
    let bulk = tokio::spawn({
        let db = db.clone();
        async move {
            db.background_transaction(move |_| {
                Box::pin(async move {
                    let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scratch").fetch_one(other.reader()).await?;
                    Ok(seen)
                })
            })
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    go.send(()).unwrap();
    request.await.unwrap().unwrap();
    assert_eq!(
        bulk.await.unwrap().unwrap(),
        1,
        "the request's write was committed before the bulk work began"
    );
}

/// Bulk work gives way to a request's write between its chunks (`store/bulk.rs`): a request
/// that arrives during a batch waits for the chunk under way, not the rest of the batch (here 16
/// chunks), and commits alone, without the batch's pages in its commit; the batch is undone and
/// done again after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_bulk_work_gives_way_to_a_request_write_at_its_next_chunk() {
    let (database, db) = scratch().await;
    fill(&db, 400).await;
    let chunks = Arc::new(AtomicU64::new(0));
    let bulk = tokio::spawn(sweep(db.clone(), Duration::from_millis(20), chunks.clone()));
    while chunks.load(SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    insert(&db, 1, false).await.unwrap();
    let by_then = chunks.load(SeqCst);
    assert!(
        by_then <= 2,
        "the request's write waited for the chunk under way, not the batch's 16: {by_then} had begun"
    );
    let unswept = committed(&database).await.iter().filter(|&&i| i == 0).count();
    assert_eq!(unswept, 400, "the batch's chunk was undone, not committed with the request");
    assert_eq!(bulk.await.unwrap().unwrap(), 400, "the work was done again after it");
    assert_eq!(committed(&database).await, vec![1]);
}

/// A stream of requests' writes cannot hold bulk work off for ever: once no batch has committed
/// for a while, a batch commits what it did with the request it stops for instead of giving way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_bulk_work_gets_done_under_a_stream_of_writes() {
    let (database, db) = scratch().await;
    fill(&db, 100).await;
    let writing = Arc::new(AtomicBool::new(true));
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (db, writing) = (db.clone(), writing.clone());
            tokio::spawn(async move {
                let mut writes = 0;
                while writing.load(SeqCst) {
                    db.transaction(|c| {
                        Box::pin(async move {
                            sqlx::query("INSERT INTO scratch (i) VALUES (1)").execute(&mut *c).await?;
                            tokio::time::sleep(Duration::from_millis(2)).await;
                            Ok(())
                        })
                    })
                    .await
                    .unwrap();
                    writes += 1;
                }
                writes
            })
        })
        .collect();
    let swept = tokio::time::timeout(Duration::from_secs(10), sweep(db.clone(), Duration::from_millis(1), Arc::default())).await;
    writing.store(false, SeqCst);
    let mut writes = 0;
    for writer in writers {
        writes += writer.await.unwrap();
    }
    assert_eq!(swept.expect("the bulk work finished while the writes went on").unwrap(), 100);
    assert!(writes > 100, "the writes went on throughout: {writes}");
    assert!(committed(&database).await.iter().all(|&i| i == 1));
}

/// `n` rows of 0, the bulk work's to delete.
async fn fill(db: &Db, n: i64) {
    sqlx::query("WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < $1) INSERT INTO scratch (i) SELECT 0 FROM n")
        .bind(n)
        .execute(db.writer())
        .await
        .unwrap();
}

/// Deletes the rows of 0 as bulk work in one batch (`Db::in_batches`), each chunk taking `pace`
/// longer and counted in `chunks` as it begins. Returns how many it deleted.
async fn sweep(db: Db, pace: Duration, chunks: Arc<AtomicU64>) -> Result<u64, Error> {
    db.in_batches(400, &|_| {}, || {
        let chunks = chunks.clone();
        chunk_work(move |c, limit| {
            chunks.fetch_add(1, SeqCst);
            Box::pin(async move {
                tokio::time::sleep(pace).await;
                let sql = "DELETE FROM scratch WHERE rowid IN (SELECT rowid FROM scratch WHERE i = 0 LIMIT $1)";
                Ok(sqlx::query(sql).bind(limit).execute(&mut *c).await?.rows_affected())
            })
        })
    })
    .await
}
