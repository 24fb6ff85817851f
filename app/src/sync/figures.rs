//! What a leader tab tells the server about cross-tab sync (`/metrics`:
//! `switchboard_client_*`): how long knowledge took to reach it from the tab that got it from
//! the server (propagation), and how often it checked the session. Sampled: the tab keeps at
//! most [`KEPT`] propagation times, and sends them, with its count of checks, on a session check
//! at most once every `ClientSettings::report_every_ms`; no request of its own.

/// Propagation times kept between two reports; later ones wait for the next.
pub const KEPT: usize = 32;

/// One tab's figures since its last report.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Figures {
    since: f64,
    checks: u32,
    /// Comma-separated µs, as sent.
    propagation_us: String,
    kept: usize,
}

impl Figures {
    /// Counting from `now` (`Date.now()`).
    pub fn new(now: f64) -> Self {
        Self {
            since: now,
            ..Self::default()
        }
    }

    /// Knowledge that another tab received from the server at `received_at` reached this tab
    /// at `now`.
    pub fn propagated(&mut self, received_at: f64, now: f64) {
        if self.kept < KEPT {
            if self.kept > 0 {
                self.propagation_us.push(',');
            }
            self.propagation_us
                .push_str(&(((now - received_at).max(0.0) * 1000.0) as u32).to_string());
            self.kept += 1;
        }
    }

    /// A check goes out at `now`: counted, and, once `every` ms have passed since the last
    /// report (and `every` is not 0), the fields that report it, to send with the check. The
    /// count then starts afresh.
    pub fn on_check(&mut self, now: f64, every: u64) -> Vec<(&'static str, String)> {
        self.checks += 1;
        let over = now - self.since;
        if every == 0 || over < every as f64 {
            return Vec::new();
        }
        let report = std::mem::replace(self, Self::new(now));
        vec![
            ("checks", report.checks.to_string()),
            ("over_ms", (over as u32).to_string()),
            ("propagation_us", report.propagation_us),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_goes_with_the_first_check_once_the_interval_has_passed() {
        let mut figures = Figures::new(1_000.0);
        figures.propagated(1_500.0, 1_502.25);
        assert!(figures.on_check(2_000.0, 60_000).is_empty(), "not yet");
        figures.propagated(3_000.0, 2_999.0); // another clock's rounding: never negative
        let fields = figures.on_check(61_500.0, 60_000);
        assert_eq!(
            fields,
            vec![
                ("checks", "2".to_owned()),
                ("over_ms", "60500".to_owned()),
                ("propagation_us", "2250,0".to_owned())
            ]
        );
        assert_eq!(figures, Figures::new(61_500.0), "counting afresh");
        assert!(figures.on_check(70_000.0, 0).is_empty(), "0: reports are off");
    }

    #[test]
    fn at_most_kept_propagation_times_wait_for_a_report() {
        let mut figures = Figures::new(0.0);
        for n in 0..100 {
            figures.propagated(0.0, f64::from(n));
        }
        let fields = figures.on_check(1_000.0, 1_000);
        assert_eq!(fields[2].1.split(',').count(), KEPT);
    }
}
