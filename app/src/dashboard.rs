//! The administrators' dashboard's figures over time (server side): the server samples them
//! into a [`History`] (`server/src/dashboard.rs`); `pages::admin_dashboard` renders it.

use crate::models::Timestamp;
use std::collections::VecDeque;
use std::sync::Mutex;
use switchboard::alerts::Alert;

/// The figures at one moment. Rates are over the interval before it, as a minute's worth.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    pub at: Timestamp,
    pub live_sessions: u64,
    pub logins_per_minute: f64,
    pub failed_logins_per_minute: f64,
    /// Switches answered in the interval, and their latency (none answered: `None`).
    pub switches: u64,
    pub switch_p50_ms: Option<f64>,
    pub switch_p95_ms: Option<f64>,
    pub server_errors_per_minute: f64,
    /// Read connections in use, open, and at most (`pool.max_connections`).
    pub pool_busy: u32,
    pub pool_open: u32,
    pub pool_max: u32,
}

/// The last `keep` samples and the newest alerts, and a signal to every open dashboard when a
/// sample arrives.
pub struct History {
    kept: Mutex<Kept>,
    keep: usize,
    every: std::time::Duration,
    arrived: tokio::sync::broadcast::Sender<()>,
}

#[derive(Default)]
struct Kept {
    samples: VecDeque<Sample>,
    alerts: Vec<Alert>,
}

impl History {
    /// Keeps `keep` samples taken `every` so often.
    pub fn new(keep: usize, every: std::time::Duration) -> Self {
        Self {
            kept: Mutex::default(),
            keep: keep.max(1),
            every,
            arrived: tokio::sync::broadcast::channel(4).0,
        }
    }

    /// A new sample and the newest alerts; the oldest sample goes once `keep` are kept.
    pub fn push(&self, sample: Sample, alerts: Vec<Alert>) {
        {
            let mut kept = self.kept();
            if kept.samples.len() == self.keep {
                kept.samples.pop_front();
            }
            kept.samples.push_back(sample);
            kept.alerts = alerts;
        }
        let _ = self.arrived.send(());
    }

    /// Told (with nothing) each time a sample arrives.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<()> {
        self.arrived.subscribe()
    }

    /// The samples kept (oldest first), the newest alerts, and how often samples are taken.
    pub fn snapshot(&self) -> (Vec<Sample>, Vec<Alert>, std::time::Duration) {
        let kept = self.kept();
        (kept.samples.iter().copied().collect(), kept.alerts.clone(), self.every)
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample(n: u64) -> Sample {
        Sample {
            live_sessions: n,
            ..Sample::default()
        }
    }

    #[test]
    fn the_history_keeps_the_newest_samples() {
        let history = History::new(3, Duration::from_secs(5));
        let mut told = history.subscribe();
        history.push(sample(1), Vec::new());
        assert!(told.try_recv().is_ok(), "open dashboards are told");
        for n in 2..=5 {
            history.push(sample(n), Vec::new());
        }
        let kept = history.snapshot().0.iter().map(|s| s.live_sessions).collect::<Vec<_>>();
        assert_eq!(kept, vec![3, 4, 5]);
    }
}
