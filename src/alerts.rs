//! Suspicious activity: detectors that raise an alert record (kind, severity, user, session,
//! address, evidence), each at most once per thing within the policy's window. Every alert goes
//! to the structured log (target `switchboard::alert`) and to the listener the server installs
//! (the webhook); administrators read them at `/admin/alerts`.

use crate::audit::{alert_slot, AuditKind};
use crate::clock::Timestamp;
use crate::engine::Engine;
use crate::error::Result;
use crate::fingerprint::Tier;
use crate::ids::{PublicSessionId, UserId};
use crate::model::EndReason;
use crate::throttle::{counted_rows, BY_ACCOUNT, BY_ADDRESS, BY_TIME};

pub use crate::engine::AlertListener;
pub use crate::model::{Alert, AlertKind, Severity};

/// An alert to raise; `key` names the thing it is about (one alert per key per window).
struct Raise {
    kind: AlertKind,
    severity: Severity,
    user: Option<UserId>,
    session: Option<PublicSessionId>,
    ip: Option<String>,
    evidence: String,
    key: String,
}

#[derive(sqlx::FromRow)]
struct AlertRecord {
    id: i64,
    at: Timestamp,
    kind: String,
    severity: String,
    user_id: Option<UserId>,
    session_public_id: Option<String>,
    ip: Option<String>,
    evidence: String,
    cleared_at: Option<Timestamp>,
}

/// The columns of an [`AlertRecord`].
const ALERT_COLUMNS: &str = "id, at, kind, severity, user_id, session_public_id, ip, evidence, cleared_at";

/// A condition an alert rule watches (the server's `alert_rules`): raised once while it holds,
/// however many instances watch it, and cleared when it no longer does.
#[derive(Debug, Clone)]
pub struct Condition {
    pub kind: AlertKind,
    pub severity: Severity,
    /// What it is about, as stable as the condition: the rule's name, and for an instance's own
    /// condition the instance (`pool_saturated@host:3000`).
    pub about: String,
    /// What was seen, as a JSON object.
    pub evidence: String,
}

/// The `dedupe_key` of a condition's alerts (migration 0008 keeps one open per key).
fn condition_key(about: &str) -> String {
    format!("rule:{about}")
}

impl AlertRecord {
    fn alert(self) -> Option<Alert> {
        Some(Alert {
            id: self.id,
            at: self.at,
            kind: AlertKind::parse(&self.kind)?,
            severity: Severity::parse(&self.severity)?,
            user: self.user_id,
            session: self.session_public_id.and_then(|s| PublicSessionId::parse(&s).ok()),
            ip: self.ip,
            evidence: self.evidence,
            cleared_at: self.cleared_at,
        })
    }
}

/// `"text"` as a JSON string.
fn json_text(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Engine {
    /// The newest alerts first, `limit` of them, older than `before_id` when given.
    pub async fn alerts(&self, limit: u32, before_id: Option<i64>) -> Result<Vec<Alert>> {
        let records: Vec<AlertRecord> = sqlx::query_as(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE id < $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(i64::from(limit.min(1000)))
        .fetch_all(self.db().reader())
        .await?;
        Ok(records.into_iter().filter_map(AlertRecord::alert).collect())
    }

    /// Every kind of alert with how many this process has raised since it began (for metrics).
    pub fn alert_counts(&self) -> Vec<(AlertKind, u64)> {
        AlertKind::ALL
            .iter()
            .map(|&kind| (kind, self.db().tally().get(alert_slot(kind))))
            .collect()
    }

    /// Records the alert unless one with the same key was raised within the window; logs it and
    /// tells the listener. A detector's own failure is logged, never the caller's failure.
    async fn raise(&self, r: Raise) {
        if let Err(e) = self.try_raise(r).await {
            tracing::warn!(error = %e, "could not record an alert");
        }
    }

    async fn try_raise(&self, r: Raise) -> Result<()> {
        let now = self.now();
        let since = now.minus(self.alert_policy().window);
        let recent: Option<i64> = sqlx::query_scalar("SELECT id FROM alerts WHERE dedupe_key = $1 AND at > $2 LIMIT 1")
            .bind(&r.key)
            .bind(since)
            .fetch_optional(self.db().reader())
            .await?;
        if recent.is_some() {
            return Ok(());
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO alerts (at, kind, severity, user_id, session_public_id, ip, evidence, dedupe_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(now)
        .bind(r.kind.as_str())
        .bind(r.severity.as_str())
        .bind(r.user)
        .bind(r.session.as_ref().map(|s| s.as_str().to_owned()))
        .bind(r.ip.as_deref())
        .bind(&r.evidence)
        .bind(&r.key)
        .fetch_one(self.db().writer())
        .await?;
        self.raised(id, now, r);
        Ok(())
    }

    /// The alert `r` just recorded as `id`: counted, logged and sent.
    fn raised(&self, id: i64, at: Timestamp, r: Raise) -> Alert {
        self.db().tally().add(alert_slot(r.kind), 1);
        let alert = Alert {
            id,
            at,
            kind: r.kind,
            severity: r.severity,
            user: r.user,
            session: r.session,
            ip: r.ip,
            evidence: r.evidence,
            cleared_at: None,
        };
        self.announce(&alert);
        alert
    }

    /// Logs `alert` and tells the listener (the webhook).
    fn announce(&self, alert: &Alert) {
        let status = if alert.cleared_at.is_some() { "cleared" } else { "raised" };
        tracing::warn!(
            target: "switchboard::alert",
            alert_id = alert.id,
            kind = alert.kind.as_str(),
            severity = alert.severity.as_str(),
            user_id = ?alert.user.map(|u| u.get()),
            session = ?alert.session.as_ref().map(|s| s.as_str()),
            ip = ?alert.ip,
            evidence = %alert.evidence,
            status,
            "alert"
        );
        if let Some(listener) = self.alert_listener() {
            listener(alert);
        }
    }

    /// Raises `condition` unless an alert of it is open (not cleared): records, logs and sends
    /// it, and returns it. Through [`crate::Db::side`], so it works while the pool is saturated.
    /// Instances that raise the same condition at once record, and send, one alert.
    pub async fn raise_condition(&self, condition: Condition) -> Result<Option<Alert>> {
        let now = self.now();
        let key = condition_key(&condition.about);
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO alerts (at, kind, severity, evidence, dedupe_key) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(now)
        .bind(condition.kind.as_str())
        .bind(condition.severity.as_str())
        .bind(&condition.evidence)
        .bind(&key)
        .fetch_optional(self.db().side())
        .await?;
        let Some(id) = id else { return Ok(None) };
        let raise = Raise {
            kind: condition.kind,
            severity: condition.severity,
            user: None,
            session: None,
            ip: None,
            evidence: condition.evidence,
            key,
        };
        Ok(Some(self.raised(id, now, raise)))
    }

    /// Clears the open alert of the condition `about`, if there is one: records when, logs it,
    /// sends it again with its `cleared_at`, and returns it. One instance clears it.
    pub async fn clear_condition(&self, about: &str) -> Result<Option<Alert>> {
        let record: Option<AlertRecord> = sqlx::query_as(&format!(
            "UPDATE alerts SET cleared_at = $1 WHERE dedupe_key = $2 AND cleared_at IS NULL RETURNING {ALERT_COLUMNS}"
        ))
        .bind(self.now())
        .bind(condition_key(about))
        .fetch_optional(self.db().side())
        .await?;
        let Some(alert) = record.and_then(AlertRecord::alert) else {
            return Ok(None);
        };
        self.announce(&alert);
        Ok(Some(alert))
    }

    /// The conditions whose alert is open, by `about`.
    pub async fn open_conditions(&self) -> Result<Vec<String>> {
        let keys: Vec<String> = sqlx::query_scalar("SELECT dedupe_key FROM alerts WHERE cleared_at IS NULL AND dedupe_key LIKE 'rule:%'")
            .fetch_all(self.db().side())
            .await?;
        Ok(keys
            .into_iter()
            .filter_map(|k| k.strip_prefix("rule:").map(str::to_owned))
            .collect())
    }

    /// Failed logins over every account since `since` (the failed-login rate's rule).
    pub async fn failed_logins_since(&self, since: Timestamp) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) {}", counted_rows(AuditKind::LoginFailed, BY_TIME));
        Ok(sqlx::query_scalar(&sql).bind(since).fetch_one(self.db().reader()).await?)
    }

    /// How many audit rows `count` finds within the alert window, when that reaches `threshold`
    /// (and detectors are on, and `threshold` is not 0).
    async fn reached(&self, threshold: u32, count: (AuditKind, &str), binds: &[&str]) -> Option<i64> {
        let policy = self.alert_policy();
        if !policy.enabled || threshold == 0 {
            return None;
        }
        let since = self.now().minus(policy.window);
        let n = self.count_recent(count, binds, since).await.ok()?;
        (n >= i64::from(threshold)).then_some(n)
    }

    /// After a failed login: a burst for the account, or from the address.
    pub(crate) async fn detect_failed_logins(&self, email: &str, ip: &str, user: Option<UserId>) {
        let policy = self.alert_policy().clone();
        let (kind, window) = (AuditKind::LoginFailed, policy.window.as_secs());
        if let Some(n) = self.reached(policy.failed_logins_per_account, (kind, BY_ACCOUNT), &[email]).await {
            self.raise(Raise {
                kind: AlertKind::FailedLoginsForAccount,
                severity: Severity::Warning,
                user,
                session: None,
                ip: Some(ip.to_owned()),
                evidence: format!("{{\"email\":{},\"failures\":{n},\"window_secs\":{window}}}", json_text(email)),
                key: format!("failed_logins_for_account:{email}"),
            })
            .await;
        }
        if ip.is_empty() {
            return;
        }
        if let Some(n) = self.reached(policy.failed_logins_per_address, (kind, BY_ADDRESS), &[ip]).await {
            self.raise(Raise {
                kind: AlertKind::FailedLoginsFromAddress,
                severity: Severity::Warning,
                user: None,
                session: None,
                ip: Some(ip.to_owned()),
                evidence: format!("{{\"failures\":{n},\"window_secs\":{window}}}"),
                key: format!("failed_logins_from_address:{ip}"),
            })
            .await;
        }
    }

    /// After a login: many new sessions for one account.
    pub(crate) async fn detect_new_sessions(&self, user: UserId, ip: Option<&str>) {
        let policy = self.alert_policy().clone();
        if !policy.enabled || policy.new_sessions_per_account == 0 {
            return;
        }
        let since = self.now().minus(policy.window);
        let count: Result<i64, _> =
            sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM sessions WHERE user_id = $1 AND created_at > $2 LIMIT 1000) AS recent")
                .bind(user)
                .bind(since)
                .fetch_one(self.db().reader())
                .await;
        if let Ok(n) = count {
            if n >= i64::from(policy.new_sessions_per_account) {
                self.raise(Raise {
                    kind: AlertKind::ManyNewSessions,
                    severity: Severity::Warning,
                    user: Some(user),
                    session: None,
                    ip: ip.map(str::to_owned),
                    evidence: format!("{{\"new_sessions\":{n},\"window_secs\":{}}}", policy.window.as_secs()),
                    key: format!("many_new_sessions:{user}"),
                })
                .await;
            }
        }
    }

    /// A token of a session that has ended was presented again.
    pub(crate) async fn detect_ended_token(&self, user: UserId, session: &PublicSessionId, reason: EndReason) {
        let policy = self.alert_policy();
        if !policy.enabled || !policy.ended_token_use {
            return;
        }
        // A token that timed out or was signed out is often just an old tab; one that was
        // revoked, evicted or ended by a password change or a disabled account is worth a look.
        let severity = match reason {
            EndReason::Expired | EndReason::Logout | EndReason::Rotated => Severity::Info,
            _ => Severity::Warning,
        };
        self.raise(Raise {
            kind: AlertKind::EndedTokenUsed,
            severity,
            user: Some(user),
            session: Some(session.clone()),
            ip: None,
            evidence: format!("{{\"end_reason\":{}}}", json_text(reason.as_str())),
            key: format!("ended_token_used:{}", session.as_str()),
        })
        .await;
    }

    /// The user said a session of theirs was not them: always raised (critical).
    pub(crate) async fn alert_disowned(&self, user: UserId, session: &PublicSessionId, ended: u64) {
        if !self.alert_policy().enabled {
            return;
        }
        self.raise(Raise {
            kind: AlertKind::SessionDisowned,
            severity: Severity::Critical,
            user: Some(user),
            session: Some(session.clone()),
            ip: None,
            evidence: format!("{{\"sessions_ended\":{ended}}}"),
            key: format!("session_disowned:{}", session.as_str()),
        })
        .await;
    }

    /// A session was used from a client unlike the one it began on (its drift was past the
    /// policy's `Alert` action): a warning, critical when the session was revoked for it.
    pub(crate) async fn alert_drift(&self, user: UserId, session: &PublicSessionId, ip: Option<&str>, tier: Tier, evidence: String) {
        if !self.alert_policy().enabled {
            return;
        }
        let severity = match tier {
            Tier::Small => Severity::Info,
            Tier::Medium => Severity::Warning,
            Tier::Large => Severity::Critical,
        };
        self.raise(Raise {
            kind: AlertKind::FingerprintDrift,
            severity,
            user: Some(user),
            session: Some(session.clone()),
            ip: ip.map(str::to_owned),
            evidence,
            key: format!("fingerprint_drift:{}:{}", session.as_str(), tier.as_str()),
        })
        .await;
    }

    /// After a refused CSRF check: many from one address.
    pub async fn detect_csrf_failures(&self, ip: &str) {
        if ip.is_empty() {
            return;
        }
        let (threshold, window) = (self.alert_policy().csrf_failures_per_address, self.alert_policy().window.as_secs());
        if let Some(n) = self.reached(threshold, (AuditKind::CsrfRefused, BY_ADDRESS), &[ip]).await {
            self.raise(Raise {
                kind: AlertKind::CsrfFailures,
                severity: Severity::Warning,
                user: None,
                session: None,
                ip: Some(ip.to_owned()),
                evidence: format!("{{\"refusals\":{n},\"window_secs\":{window}}}"),
                key: format!("csrf_failures:{ip}"),
            })
            .await;
        }
    }
}
