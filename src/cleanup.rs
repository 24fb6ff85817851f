//! Cleanup: sessions past a deadline are ended as expired (with their audit rows) and ended
//! sessions past their retention are deleted, in batches of short transactions, so a backlog
//! never holds the database for long. Run by the server every `cleanup_interval`.

use crate::audit::{slot, AuditKind, Outcome};
use crate::clock::Timestamp;
use crate::engine::Engine;
use crate::error::Result;
use crate::model::EndReason;
use crate::store::{chunk_work, tally, Backend};
use std::sync::Arc;
use std::time::Duration;

/// What one cleanup pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepReport {
    /// Live sessions found past a deadline and marked expired.
    pub expired: u64,
    /// Ended sessions older than the retention period, deleted.
    pub deleted: u64,
}

impl Engine {
    /// Ends sessions in batches ([`crate::Db::in_batches`]): each chunk runs `sql` (binds: the
    /// deadline's cut-off, the most sessions to end, now, the end reason), the cut-off being the
    /// idle one for `idle`, else now, and counts the sessions it ended as expiries (for
    /// `/metrics`, once committed). Returns how many ended.
    async fn end_in_batches(&self, sql: String, idle: bool, batch: u32, progress: &(dyn Fn(u64) + Sync)) -> Result<u64> {
        // SQLite's statement list counts the rows of both its statements: an audit row and an
        // update for each session ended.
        let per_session = match self.db().backend() {
            Backend::Sqlite => 2,
            Backend::Postgres => 1,
        };
        let sql: Arc<str> = sql.into();
        self.db()
            .in_batches(batch, progress, || {
                let now = self.now();
                let cutoff = if idle { self.policy().idle_cutoff(now) } else { now };
                let sql = sql.clone();
                chunk_work(move |c, limit| {
                    let sql = sql.clone();
                    Box::pin(async move {
                        let query = sqlx::query(&sql).bind(cutoff).bind(limit).bind(now).bind(EndReason::Expired);
                        let ended = query.execute(&mut *c).await?.rows_affected() / per_session;
                        for _ in 0..ended {
                            tally::note(slot(AuditKind::SessionExpired, Outcome::Ok));
                        }
                        Ok(ended)
                    })
                })
            })
            .await
    }

    /// Marks sessions past either deadline as expired and deletes sessions that ended more than
    /// `retention` ago. Run periodically by the server (`cleanup_interval`). Works in batches of
    /// `batch` rows, each its own short transaction with its audit rows, so a large backlog never
    /// holds the database (SQLite's one writer) for long: requests get their turn between
    /// batches.
    pub async fn sweep_sessions(&self, retention: Duration, batch: u32) -> Result<SweepReport> {
        self.sweep_sessions_reporting(retention, batch, &|_| {}).await
    }

    /// [`Engine::sweep_sessions`], telling `progress` what has been done so far after every
    /// batch (`switchboard maintenance cleanup` shows it).
    #[tracing::instrument(skip_all)]
    pub async fn sweep_sessions_reporting(
        &self,
        retention: Duration,
        batch: u32,
        progress: &(dyn Fn(SweepReport) + Sync),
    ) -> Result<SweepReport> {
        // One batch: the next `batch` live sessions past one deadline, in the order of that
        // deadline's index (migration 0006), get their audit rows and end, in two set-based
        // statements. On SQLite they are one statement list (one trip to the driver's thread),
        // and the write transaction holds the database, so both see the same rows; PostgreSQL
        // does both in one statement. Idle deadlines first, then
        // absolute ones.
        let audit = format!(
            "INSERT INTO audit_events (at, kind, subject_user_id, session_public_id, ip, user_agent, outcome) \
             SELECT $3, '{}', user_id, public_id, ip, user_agent, '{}'",
            AuditKind::SessionExpired.as_str(),
            Outcome::Ok.as_str()
        );
        let mut report = SweepReport::default();
        for column in ["last_seen_at", "absolute_expires_at"] {
            let due = format!("SELECT id FROM sessions WHERE ended_at IS NULL AND {column} <= $1 ORDER BY {column}, id LIMIT $2");
            let sql = match self.db().backend() {
                Backend::Sqlite => format!(
                    "{audit} FROM sessions WHERE id IN ({due}); \
                     UPDATE sessions SET ended_at = $3, end_reason = $4, version = version + 1 WHERE id IN ({due})"
                ),
                Backend::Postgres => format!(
                    "WITH ended AS (UPDATE sessions SET ended_at = $3, end_reason = $4, version = version + 1 \
                     WHERE id IN ({due} FOR UPDATE SKIP LOCKED) RETURNING user_id, public_id, ip, user_agent) \
                     {audit} FROM ended"
                ),
            };
            let before = report.expired;
            let told = |ended| {
                progress(SweepReport {
                    expired: before + ended,
                    deleted: 0,
                })
            };
            report.expired += self.end_in_batches(sql, column == "last_seen_at", batch, &told).await?;
        }
        let cutoff = Timestamp(self.now().millis().saturating_sub(retention.as_millis() as i64));
        let expired = report.expired;
        report.deleted = self
            .db()
            .delete_in_batches(
                "DELETE FROM sessions WHERE id IN \
                 (SELECT id FROM sessions WHERE ended_at IS NOT NULL AND ended_at < $1 LIMIT $2)",
                cutoff,
                batch,
                &|deleted| progress(SweepReport { expired, deleted }),
            )
            .await?;
        self.db().trim_change_log().await?;
        Ok(report)
    }
}
