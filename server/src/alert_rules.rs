//! Alert rules: every `alert_rules.interval` each rule looks at its condition, and an alert of
//! it is raised once when it begins to hold and cleared when it no longer does
//! (`Engine::raise_condition`, `Engine::clear_condition`). Both are logged (target
//! `switchboard::alert`), sent to the webhook (`"status": "firing"`, then `"resolved"`) and
//! listed at `/api/admin/alerts`.
//!
//! What is open is read from the database at every look, so instances agree: the failed-login
//! rate is one condition for them all (the first instance to see it raises it, whichever sees
//! it end clears it), the others are each instance's own (`pool_saturated@host:3000`). An
//! instance that stopped while its condition held clears it when it starts again and looks.

use crate::http::health::{pool_probe, PoolProbe, POOL_WITHIN};
use crate::AppState;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use switchboard::alerts::{AlertKind, Condition, Severity};

/// Starts the rules' task, unless `alert_rules.enabled` is off.
pub fn spawn_alert_rules(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    let rules = state.settings.alert_rules.clone();
    if !rules.enabled {
        return None;
    }
    let state = state.clone();
    Some(tokio::spawn(async move {
        let instance = instance_name(&state);
        let mut errors = ErrorHistory::new(state.requests.server_errors());
        let mut tick = tokio::time::interval(rules.interval.0);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            look_and_tell(&state, &instance, &mut errors).await;
        }
    }))
}

/// Raises what holds and is not open, clears what is open and no longer holds.
async fn look_and_tell(state: &AppState, instance: &str, errors: &mut ErrorHistory) {
    let engine = &state.ctx.engine;
    let open = match engine.open_conditions().await {
        Ok(open) => open,
        Err(e) => {
            tracing::warn!(error = %e, "alert rules: cannot read the open alerts");
            return;
        }
    };
    for (about, holds) in look(state, instance, errors).await {
        let told = match (holds, open.contains(&about)) {
            (Some(condition), false) => engine.raise_condition(condition).await.map(drop),
            (None, true) => engine.clear_condition(&about).await.map(drop),
            _ => Ok(()),
        };
        if let Err(e) = told {
            tracing::warn!(rule = about.as_str(), error = %e, "alert rules: cannot record a change");
        }
    }
}

/// Every rule's condition now: `(about, Some(condition))` while it holds, `(about, None)` when
/// it does not (or the rule is off, so an alert left open by it is cleared). A rule that could
/// not look is left out, and its alert stays as it was. `instance` names this instance's own
/// conditions.
async fn look(state: &AppState, instance: &str, errors: &mut ErrorHistory) -> Vec<(String, Option<Condition>)> {
    let rules = &state.settings.alert_rules;
    let engine = &state.ctx.engine;
    let db = engine.db();
    let window = rules.window.0;
    let mut seen = Vec::new();
    // One rule's finding: what it is about, and the alert's kind, severity and evidence while
    // it holds.
    let mut found = |about: String, holds: Option<(AlertKind, Severity, serde_json::Value)>| {
        let condition = holds.map(|(kind, severity, evidence)| Condition {
            kind,
            severity,
            about: about.clone(),
            evidence: evidence.to_string(),
        });
        seen.push((about, condition));
    };

    let since = engine.now().minus(window);
    if rules.failed_logins == 0 {
        found("failed_login_rate".to_owned(), None);
    } else if let Ok(Ok(n)) = tokio::time::timeout(POOL_WITHIN, engine.failed_logins_since(since)).await {
        let holds = (n >= i64::from(rules.failed_logins)).then(|| {
            let evidence = serde_json::json!({
                "failed_logins": n, "threshold": rules.failed_logins, "window_secs": window.as_secs()
            });
            (AlertKind::FailedLoginRate, Severity::Warning, evidence)
        });
        found("failed_login_rate".to_owned(), holds);
    }

    let n = errors.within(window, state.requests.server_errors());
    let holds = (rules.server_errors > 0 && n >= u64::from(rules.server_errors)).then(|| {
        let evidence = serde_json::json!({
            "server_errors": n, "threshold": rules.server_errors, "window_secs": window.as_secs(), "instance": instance
        });
        (AlertKind::ServerErrorRate, Severity::Critical, evidence)
    });
    found(format!("server_error_rate@{instance}"), holds);

    let saturated = rules.pool_saturated && matches!(pool_probe(db).await, PoolProbe::Saturated);
    let holds = saturated.then(|| {
        let stats = db.pool_stats();
        let evidence = serde_json::json!({
            "open": stats.read_size, "idle": stats.read_idle,
            "max_connections": state.settings.pool.max_connections,
            "waited_ms": POOL_WITHIN.as_millis() as u64, "instance": instance
        });
        (AlertKind::PoolSaturated, Severity::Critical, evidence)
    });
    found(format!("pool_saturated@{instance}"), holds);

    let stalled = rules
        .cleanup_stalled
        .then(|| state.cleanup.stalled(state.settings.cleanup_interval.0))
        .flatten();
    let holds = stalled.map(|problem| {
        let evidence = serde_json::json!({"problem": problem, "instance": instance});
        (AlertKind::CleanupStalled, Severity::Warning, evidence)
    });
    found(format!("cleanup_stalled@{instance}"), holds);

    let cache = db.cache();
    let deaf = rules.listener_down && cache.enabled() && !cache.serving();
    let holds = deaf.then(|| {
        let evidence = serde_json::json!({"problem": "the session cache does not hear other writers", "instance": instance});
        (AlertKind::ListenerDown, Severity::Warning, evidence)
    });
    found(format!("listener_down@{instance}"), holds);
    seen
}

/// This instance's name in its own conditions: the host's name and the port it serves.
fn instance_name(state: &AppState) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", state.settings.bind.port())
}

/// The count of 5xx answers as it was at each look, so the rule can tell how many came within
/// the window.
struct ErrorHistory(VecDeque<(Instant, u64)>);

impl ErrorHistory {
    fn new(now: u64) -> Self {
        Self(VecDeque::from([(Instant::now(), now)]))
    }

    /// How many of the `total` so far came within the last `window` (as far as the looks tell:
    /// counted from the latest look at least `window` ago, or from the first).
    fn within(&mut self, window: Duration, total: u64) -> u64 {
        let now = Instant::now();
        while self.0.len() > 1 && self.0[1].0 + window <= now {
            self.0.pop_front();
        }
        self.0.push_back((now, total));
        total - self.0[0].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_rate_counts_only_what_came_within_the_window() {
        let mut history = ErrorHistory::new(0);
        assert_eq!(history.within(Duration::from_secs(60), 5), 5);
        assert_eq!(history.within(Duration::from_secs(60), 7), 7);
        // With a window of nothing, only what came since the look before counts.
        assert_eq!(history.within(Duration::ZERO, 9), 2);
        assert_eq!(history.0.len(), 2, "looks older than the window are dropped, but the latest");
    }
}
