//! The countdown to the idle timeout and when its warning shows.

/// `29:41` or `1:02:03`.
pub fn countdown(ms: i64) -> String {
    let secs = (ms.max(0) + 999) / 1000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Whether the idle warning shows: close to the deadline, not dismissed for this deadline.
pub fn warning_due(left_ms: Option<i64>, warn_ms: u64, idle_expires_ms: i64, dismissed_for: Option<i64>) -> bool {
    left_ms.is_some_and(|left| left <= warn_ms as i64 && left > 0) && dismissed_for != Some(idle_expires_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::fixtures::*;

    #[test]
    fn every_tab_counts_down_from_the_same_server_deadline() {
        let k = signed_in("s1", 1, 1, "2026-01-01T00:30:00Z", T0);
        assert_eq!(k.idle_left_ms(None), Some(30 * 60_000), "server-rendered: server time");
        assert_eq!(k.idle_left_ms(Some(61_000.0)), Some(29 * 60_000), "a minute after it arrived");
        assert_eq!(countdown(29 * 60_000 + 41_000), "29:41");
        assert_eq!(countdown(3_723_000), "1:02:03");
        assert_eq!(countdown(400), "0:01");
        let exp = time(EXP).millis();
        assert!(warning_due(Some(60_000), 120_000, exp, None));
        assert!(!warning_due(Some(60_000), 120_000, exp, Some(exp)), "dismissed for this deadline");
        assert!(warning_due(Some(60_000), 120_000, exp, Some(exp - 1)), "a new deadline warns again");
        assert!(!warning_due(Some(180_000), 120_000, exp, None));
        assert!(!warning_due(Some(0), 120_000, exp, None), "at zero the session is over, not warned");
    }
}
