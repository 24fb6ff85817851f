//! Throttles against password guessing and mass registration, counted from the audit log: every
//! failed login is already recorded there with the attempted email and the client address, so
//! every server instance on one database sees the same counts and nothing more is written.
//!
//! - An (account, address) pair with `pair_limit` failures in `window` is refused (`429`) until
//!   the oldest of them leaves the window. Only that pair: the real user, elsewhere, is not
//!   locked out by someone guessing at their account.
//! - An account with `account_slow_after` failures (from anywhere) is slowed, never refused.
//! - An address with `address_slow_after` failures (any account) is slowed; with
//!   `address_limit` it is refused.
//! - An address that created `registration_limit` accounts in `registration_window` may not
//!   create more until the oldest leaves that window.
//!
//! Slowing is a delay before the password is checked: `delay`, doubling with each further
//! failure, at most `max_delay`.

use crate::audit::AuditKind;
use crate::clock::Timestamp;
use crate::engine::Engine;
use crate::error::{Error, Result};
pub use crate::policy::ThrottlePolicy;
use std::time::Duration;

/// Rows counted at most: past every limit, counting further changes nothing, and a flood of
/// failures must not make each check slower.
const COUNT_CAP: i64 = 1_000;

/// Rows of one kind by attempted email (`detail`) and client address, since `$3`.
pub(crate) const BY_PAIR: &str = "detail = $1 AND ip = $2 AND at > $3";
/// By attempted email, since `$2`.
pub(crate) const BY_ACCOUNT: &str = "detail = $1 AND at > $2";
/// By client address, since `$2`.
pub(crate) const BY_ADDRESS: &str = "ip = $1 AND at > $2";
/// All of the kind, since `$1`.
pub(crate) const BY_TIME: &str = "at > $1";

/// Every count the throttles and the detectors make of the audit log: a kind, and a filter. Each
/// has an index of its own, partial to that kind (migration 0009), so the many rows no count
/// reads (a sweep's expiries above all) are written to none of them.
pub const COUNTED: [(AuditKind, &str); 6] = [
    (AuditKind::LoginFailed, BY_PAIR),
    (AuditKind::LoginFailed, BY_ACCOUNT),
    (AuditKind::LoginFailed, BY_ADDRESS),
    (AuditKind::LoginFailed, BY_TIME),
    (AuditKind::Registered, BY_ADDRESS),
    (AuditKind::CsrfRefused, BY_ADDRESS),
];

/// The rows of `kind` that match `filter`. The kind is written into the statement, not bound:
/// a database uses a partial index only when the statement itself says it reads what the index
/// holds (`kind = 'login_failed'`), and a bound `$1` says nothing before it is bound.
pub fn counted_rows(kind: AuditKind, filter: &str) -> String {
    format!("FROM audit_events WHERE kind = '{}' AND {filter}", kind.as_str())
}

/// What a login attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Go ahead, after this delay.
    Proceed(Duration),
    Refuse {
        retry_after: Duration,
    },
}

impl Engine {
    /// Checks the throttles for a login to `email` (normalised) from `ip`.
    pub(crate) async fn login_verdict(&self, email: &str, ip: &str) -> Result<Verdict> {
        let policy = self.throttle_policy();
        if !policy.enabled {
            return Ok(Verdict::Proceed(Duration::ZERO));
        }
        let since = self.now().minus(policy.window);
        let kind = AuditKind::LoginFailed;
        if let Some(retry_after) = self
            .past_limit((kind, BY_PAIR), &[email, ip], policy.pair_limit, policy.window)
            .await?
        {
            return Ok(Verdict::Refuse { retry_after });
        }
        let address = self.count_recent((kind, BY_ADDRESS), &[ip], since).await?;
        if address >= i64::from(policy.address_limit) {
            let retry_after = self
                .retry_after((kind, BY_ADDRESS), &[ip], policy.address_limit, policy.window)
                .await?;
            return Ok(Verdict::Refuse { retry_after });
        }
        let account = self.count_recent((kind, BY_ACCOUNT), &[email], since).await?;
        let delay = policy
            .delay_for(clamp(account), policy.account_slow_after)
            .max(policy.delay_for(clamp(address), policy.address_slow_after));
        Ok(Verdict::Proceed(delay))
    }

    /// Refuses a registration from `ip` past `registration_limit` in `registration_window`.
    pub async fn check_registration(&self, ip: &str) -> Result<()> {
        let policy = self.throttle_policy();
        if !policy.enabled {
            return Ok(());
        }
        let (count, window) = ((AuditKind::Registered, BY_ADDRESS), policy.registration_window);
        if let Some(retry_after) = self.past_limit(count, &[ip], policy.registration_limit, window).await? {
            return Err(Error::TooManyAttempts { retry_after });
        }
        Ok(())
    }

    /// How many audit rows `count` ([`COUNTED`]) finds (text binds, then `since`), up to
    /// [`COUNT_CAP`].
    pub(crate) async fn count_recent(&self, count: (AuditKind, &str), binds: &[&str], since: Timestamp) -> Result<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 {} LIMIT {COUNT_CAP}) AS recent",
            counted_rows(count.0, count.1)
        );
        let mut query = sqlx::query_scalar::<_, i64>(&sql);
        for bind in binds {
            query = query.bind(*bind);
        }
        Ok(query.bind(since).fetch_one(self.db().reader()).await?)
    }

    /// `Some(wait)` when the rows `count` finds within `window` have reached `limit`: how long
    /// until they drop below it.
    async fn past_limit(&self, count: (AuditKind, &str), binds: &[&str], limit: u32, window: Duration) -> Result<Option<Duration>> {
        if self.count_recent(count, binds, self.now().minus(window)).await? < i64::from(limit) {
            return Ok(None);
        }
        Ok(Some(self.retry_after(count, binds, limit, window).await?))
    }

    /// When the rows `count` finds within `window` drop below `limit`: the `limit`-th newest
    /// leaves the window then. At least a second.
    async fn retry_after(&self, count: (AuditKind, &str), binds: &[&str], limit: u32, window: Duration) -> Result<Duration> {
        let since = self.now().minus(window);
        let sql = format!(
            "SELECT at {} ORDER BY at DESC LIMIT 1 OFFSET {}",
            counted_rows(count.0, count.1),
            limit.saturating_sub(1)
        );
        let mut query = sqlx::query_scalar::<_, Timestamp>(&sql);
        for bind in binds {
            query = query.bind(*bind);
        }
        let at = query.bind(since).fetch_optional(self.db().reader()).await?;
        let free_at = at.map_or(self.now(), |at| at.plus(window));
        Ok(free_at.since(self.now()).max(Duration::from_secs(1)))
    }
}

fn clamp(count: i64) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}
