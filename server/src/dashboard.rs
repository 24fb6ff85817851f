//! The administrators' dashboard's sampler: every `dashboard.interval` it takes the figures
//! (live sessions, logins and failed logins, switch latency, server errors, pool use) and the
//! newest alerts into the ring buffer the page renders from (`app::pages::admin_dashboard`),
//! which tells every open dashboard (`GET /api/admin/dashboard/events`).
//!
//! Rates are this instance's: the logins and errors it answered, as a minute's worth of the
//! interval. Live sessions and alerts are the database's, the same on every instance.

use crate::AppState;
use app::dashboard::Sample;
use app::models::Timestamp;
use std::time::Instant;
use switchboard::audit::AuditKind;

/// How many alerts the dashboard shows.
const RECENT_ALERTS: u32 = 5;

/// Starts the sampler: a sample at once, then one every `dashboard.interval`.
pub fn spawn_dashboard(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut before = Counts::now(&state);
        let mut tick = tokio::time::interval(state.settings.dashboard.interval.0);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = Counts::now(&state);
            let sample = sample(&state, &before, &now).await;
            let alerts = state.ctx.engine.alerts(RECENT_ALERTS, None).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "dashboard: cannot read the recent alerts");
                Vec::new()
            });
            state.ctx.dashboard.push(sample, alerts);
            before = now;
        }
    })
}

/// The counters the rates come from, at one moment.
struct Counts {
    at: Instant,
    logins: u64,
    failed_logins: u64,
    server_errors: u64,
}

impl Counts {
    fn now(state: &AppState) -> Self {
        let events = state.ctx.engine.event_counts();
        let count = |kind: AuditKind| events.iter().filter(|e| e.kind == kind).map(|e| e.count).sum();
        Self {
            at: Instant::now(),
            logins: count(AuditKind::LoginSucceeded),
            failed_logins: count(AuditKind::LoginFailed),
            server_errors: state.requests.server_errors(),
        }
    }
}

async fn sample(state: &AppState, before: &Counts, now: &Counts) -> Sample {
    let db = state.ctx.engine.db();
    let minutes = now.at.duration_since(before.at).as_secs_f64().max(0.001) / 60.0;
    let per_minute = |now: u64, before: u64| now.saturating_sub(before) as f64 / minutes;
    let mut switches = state.requests.take_switch_times();
    switches.sort_by(f64::total_cmp);
    let at = |q: f64| (!switches.is_empty()).then(|| switches[((switches.len() - 1) as f64 * q).round() as usize]);
    let pool = db.pool_stats();
    let live = match state.ctx.engine.live_session_count().await {
        Ok(live) => live,
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: cannot count live sessions");
            0
        }
    };
    Sample {
        at: Timestamp(state.ctx.engine.now().millis()),
        live_sessions: live,
        logins_per_minute: per_minute(now.logins, before.logins),
        failed_logins_per_minute: per_minute(now.failed_logins, before.failed_logins),
        switches: switches.len() as u64,
        switch_p50_ms: at(0.5),
        switch_p95_ms: at(0.95),
        server_errors_per_minute: per_minute(now.server_errors, before.server_errors),
        pool_busy: pool.read_size.saturating_sub(pool.read_idle),
        pool_open: pool.read_size,
        pool_max: state.settings.pool.max_connections,
    }
}
