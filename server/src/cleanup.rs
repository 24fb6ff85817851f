//! The cleanup task: every `cleanup_interval` it ends sessions past a deadline, deletes ended
//! sessions older than `session_retention` and audit rows older than `audit.retention`, each in
//! batches of `cleanup_batch` rows (`switchboard::cleanup`), and records how each run went in
//! [`CleanupStatus`]: for `/metrics`, and for `/health/ready`, which fails when no run has
//! completed for three intervals (stalled: the database refuses its writes, or a run hangs).

use crate::AppState;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// How the cleanup task is doing (shared by the task, the metrics and readiness).
#[derive(Debug, Default)]
pub struct CleanupStatus(Mutex<Progress>);

#[derive(Debug, Default, Clone)]
struct Progress {
    /// Since when the task runs (`None`: no cleanup task in this process).
    running_since: Option<Instant>,
    /// The end of the last run that completed.
    last_completed: Option<Instant>,
    report: CleanupReport,
}

/// What the cleanup task has done since the process began.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CleanupReport {
    /// Runs that completed.
    pub runs: u64,
    /// Runs that failed (each logged with its error).
    pub failures: u64,
    /// Sessions ended because a deadline passed.
    pub expired: u64,
    /// Ended sessions deleted after their retention.
    pub deleted: u64,
    /// Audit rows deleted after their retention.
    pub audit_deleted: u64,
    /// How long the last completed run took.
    pub last_took: Duration,
    /// When the last completed run ended, in seconds since the Unix epoch.
    pub last_completed_unix: Option<f64>,
}

impl CleanupStatus {
    /// What has been done so far.
    pub fn report(&self) -> CleanupReport {
        self.progress().report.clone()
    }

    /// Readiness: `None` when runs complete (or no cleanup task runs in this process), else
    /// what is wrong: no run has completed for three intervals.
    pub fn stalled(&self, interval: Duration) -> Option<String> {
        let progress = self.progress();
        let since = progress.last_completed.or(progress.running_since)?;
        let quiet = since.elapsed();
        (quiet > interval * 3).then(|| {
            let what = if progress.last_completed.is_some() {
                "no run has completed"
            } else {
                "no run has completed since start"
            };
            format!(
                "stalled: {what} for {} s (cleanup_interval {} s; {} failed runs)",
                quiet.as_secs(),
                interval.as_secs(),
                progress.report.failures
            )
        })
    }

    /// Whether a cleanup task runs in this process.
    pub fn running(&self) -> bool {
        self.progress().running_since.is_some()
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Starts the cleanup task: a run at once, then one every `cleanup_interval`, until the process
/// ends.
pub fn spawn_cleanup(state: &AppState) -> tokio::task::JoinHandle<()> {
    let engine = state.ctx.engine.clone();
    let status = state.cleanup.clone();
    let every = state.settings.cleanup_interval.0;
    let retention = state.settings.session_retention.0;
    let audit_retention = state.settings.audit_retention();
    let batch = state.settings.cleanup_batch;
    status.progress().running_since = Some(Instant::now());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let started = Instant::now();
            let sessions = match engine.sweep_sessions(retention, batch).await {
                Ok(r) => {
                    if r.expired + r.deleted > 0 {
                        tracing::info!(
                            expired = r.expired,
                            deleted = r.deleted,
                            took_ms = started.elapsed().as_millis() as u64,
                            "session cleanup"
                        );
                    }
                    Some(r)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "session cleanup failed");
                    None
                }
            };
            let audit = match engine.sweep_audit(audit_retention, batch).await {
                Ok(deleted) => {
                    if deleted > 0 {
                        tracing::info!(deleted, "audit retention");
                    }
                    Some(deleted)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "audit retention sweep failed");
                    None
                }
            };
            let mut progress = status.progress();
            let report = &mut progress.report;
            if let Some(r) = sessions {
                report.expired += r.expired;
                report.deleted += r.deleted;
            }
            report.audit_deleted += audit.unwrap_or(0);
            if sessions.is_some() && audit.is_some() {
                report.runs += 1;
                report.last_took = started.elapsed();
                report.last_completed_unix = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .ok()
                    .map(|d| d.as_secs_f64());
                progress.last_completed = Some(Instant::now());
            } else {
                report.failures += 1;
            }
        }
    })
}
