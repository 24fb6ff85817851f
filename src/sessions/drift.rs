//! A session's fingerprint: what a new session stores, and what a drift from it does.

use super::*;

impl Engine {
    /// The client's fingerprint as a new session stores it (`None` when nothing is recorded).
    pub(crate) fn stored_fingerprint(&self, meta: &ClientMeta) -> Option<String> {
        let fingerprint = self.fingerprint_of(meta);
        (!fingerprint.is_empty()).then(|| fingerprint.encode())
    }

    /// Compares the client with the fingerprint the session recorded (`stored`) and applies what
    /// the policy says for the drift's tier (see [`DriftAction`]). Below `Revoke` the drift is
    /// accepted: the session takes the client's fingerprint, so the same change is reported
    /// once, by whichever concurrent request wins the compare-and-set. On a challenge the
    /// session's `reauthenticated_at` moves to the epoch (here and in `session`). On `Revoke`
    /// the session ends as `suspicious`, the user's other live sessions are flagged and lose
    /// their recent password, and the answer is `SessionEnded`. No write without a drift.
    pub(super) async fn check_fingerprint(&self, session: &mut Session, stored: Option<&str>, meta: &ClientMeta) -> Result<()> {
        let policy = self.fingerprint_policy();
        let Some(stored) = stored.and_then(Fingerprint::decode).filter(|_| policy.enabled) else {
            return Ok(());
        };
        let current = self.fingerprint_of(meta);
        let drift = stored.drift(&current);
        let Some(tier) = policy.tier(drift.score) else {
            return Ok(());
        };
        let action = policy.action(tier);
        if action == DriftAction::Ignore {
            return Ok(());
        }
        let changed: Vec<String> = drift.changed.iter().map(|t| format!("\"{}\"", t.as_str())).collect();
        let evidence = format!(
            "{{\"score\":{},\"tier\":\"{}\",\"changed\":[{}]}}",
            drift.score,
            tier.as_str(),
            changed.join(",")
        );
        tracing::warn!(session = %session.public_id, score = drift.score, tier = tier.as_str(), action = action.as_str(), "fingerprint drift");
        let audit = AuditEntry::by_session(AuditKind::FingerprintDrift, session, meta).detail(evidence.clone());
        let (now, id, user) = (self.now(), session.id, session.user_id);
        if action == DriftAction::Revoke {
            let revoked = AuditEntry::new(AuditKind::SessionRevoked)
                .actor(user)
                .from(meta)
                .detail("fingerprint");
            let ended = self
                .db()
                .transaction(move |c| {
                    Box::pin(async move {
                        let ended = end_sessions(c, now, &[id], EndReason::Suspicious, &revoked).await?;
                        if ended > 0 {
                            record_entry(c, now, &audit).await?;
                            sqlx::query(
                                "UPDATE sessions SET flagged_at = $1, reauthenticated_at = 0 \
                                 WHERE user_id = $2 AND id <> $3 AND ended_at IS NULL",
                            )
                            .bind(now)
                            .bind(user)
                            .bind(id)
                            .execute(&mut *c)
                            .await?;
                        }
                        Ok(ended)
                    })
                })
                .await?;
            if ended > 0 {
                self.alert_drift(user, &session.public_id, meta.ip.as_deref(), tier, evidence).await;
            }
            return Err(Error::SessionEnded(EndReason::Suspicious));
        }
        let challenge = action >= DriftAction::Challenge;
        let sql = format!(
            "UPDATE sessions SET fingerprint = $1{} WHERE id = $2 AND ended_at IS NULL AND fingerprint = $3",
            if challenge { ", reauthenticated_at = 0" } else { "" }
        );
        let (new, old) = (current.encode(), stored.encode());
        let won = self
            .db()
            .transaction(move |c| {
                Box::pin(async move {
                    let won = sqlx::query(&sql)
                        .bind(new)
                        .bind(id)
                        .bind(old)
                        .execute(&mut *c)
                        .await?
                        .rows_affected()
                        > 0;
                    if won {
                        record_entry(c, now, &audit).await?;
                    }
                    Ok(won)
                })
            })
            .await?;
        if challenge {
            session.reauthenticated_at = Timestamp(0);
        }
        if won && action >= DriftAction::Alert {
            self.alert_drift(user, &session.public_id, meta.ip.as_deref(), tier, evidence).await;
        }
        Ok(())
    }
}
