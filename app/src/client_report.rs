//! A leader tab's sync figures as the server reads them from a session check (server side;
//! the browser's side is `sync::figures`), for `/metrics`.

use crate::error::{ApiError, ErrorCode};

/// A leader tab's sync figures, sent with a session check (`sync::figures`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientReport {
    /// Session checks the tab made over `over`.
    pub checks: u32,
    pub over: std::time::Duration,
    /// How long knowledge took to reach the tab from the tab that got it from the server.
    pub propagation: Vec<std::time::Duration>,
}

impl ClientReport {
    /// Most propagation times in one report.
    pub const MOST_TIMES: usize = 64;

    /// The report in a check's fields, if it carries one (`checks` and `over_ms` together).
    pub fn parse(checks: Option<u32>, over_ms: Option<u64>, propagation_us: Option<&str>) -> Result<Option<Self>, ApiError> {
        let invalid = |field: &str, problem: &str| Err(ApiError::new(ErrorCode::InvalidInput, problem).with_field(field));
        let (checks, over_ms) = match (checks, over_ms) {
            (None, None) if propagation_us.is_none() => return Ok(None),
            (Some(checks), Some(over_ms)) => (checks, over_ms),
            _ => return invalid("checks", "a report needs checks and over_ms together"),
        };
        if !(1_000..=86_400_000).contains(&over_ms) {
            return invalid("over_ms", "over_ms must be between 1000 and 86400000");
        }
        if checks > 100_000 {
            return invalid("checks", "checks must be at most 100000");
        }
        let mut propagation = Vec::new();
        for time in propagation_us.unwrap_or("").split(',').filter(|t| !t.is_empty()) {
            match time.parse::<u64>() {
                Ok(us) if us <= 3_600_000_000 && propagation.len() < Self::MOST_TIMES => {
                    propagation.push(std::time::Duration::from_micros(us))
                }
                _ => {
                    return invalid(
                        "propagation_us",
                        "propagation_us must be at most 64 comma-separated whole numbers of microseconds, each at most an hour",
                    )
                }
            }
        }
        Ok(Some(Self {
            checks,
            over: std::time::Duration::from_millis(over_ms),
            propagation,
        }))
    }
}
