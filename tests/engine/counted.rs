//! The counts the throttles and detectors make of the audit log (`throttle::COUNTED`) each read
//! an index partial to their kind (migration 0009), on both databases: rows of other kinds, such
//! as a sweep's expiries, are written to none of those indexes, and no count scans the table.

use crate::support::*;
use switchboard::audit::AuditKind;
use switchboard::store::Backend;
use switchboard::testing::TestDatabase;
use switchboard::throttle::{counted_rows, COUNTED};
use switchboard::Timestamp;

/// The index a count of `kind` must use: the migration names them after the kind.
fn index_prefix(kind: AuditKind) -> &'static str {
    match kind {
        AuditKind::LoginFailed => "audit_failed_logins_by_",
        AuditKind::Registered => "audit_registrations_by_",
        AuditKind::CsrfRefused => "audit_csrf_refusals_by_",
        other => panic!("no count of {other:?} is expected"),
    }
}

async fn every_count_reads_an_index_of_its_own_kind(db: TestDatabase) {
    let h = harness(db).await;
    let mut c = h.db.reader().acquire().await.unwrap();
    let postgres = h.db.backend() == Backend::Postgres;
    if postgres {
        // The tables are nearly empty: without this a sequential scan is cheapest.
        sqlx::query("SET enable_seqscan = off").execute(&mut *c).await.unwrap();
    }
    for (kind, filter) in COUNTED {
        let explain = if postgres { "EXPLAIN" } else { "EXPLAIN QUERY PLAN" };
        let sql = format!("{explain} SELECT COUNT(*) {}", counted_rows(kind, filter));
        let mut query = sqlx::query(&sql);
        for _ in 1..filter.matches('$').count() {
            query = query.bind("x");
        }
        let rows = query.bind(Timestamp(0)).fetch_all(&mut *c).await.unwrap();
        let plan: Vec<String> = rows
            .iter()
            .map(|row| {
                use sqlx::Row;
                row.try_get::<String, _>(if postgres { 0 } else { 3 }).unwrap()
            })
            .collect();
        let plan = plan.join("\n");
        assert!(plan.contains(index_prefix(kind)), "{kind:?} {filter}: {plan}");
        assert!(
            !plan.contains("SCAN audit_events\n") && !plan.ends_with("SCAN audit_events"),
            "{plan}"
        );
    }
    if postgres {
        sqlx::query("RESET enable_seqscan").execute(&mut *c).await.unwrap();
    }
}

switchboard::on_both_backends!(every_count_reads_an_index_of_its_own_kind);
