//! Finding the live session behind a token: from the session cache when it may answer, else from
//! the database, with both deadlines enforced, the throttled touch of `last_seen_at`, and the
//! fingerprint compared on every lookup.

use super::*;

/// Whether resolving a session counts as activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Touch {
    IfDue,
    Never,
}

impl Engine {
    /// Resolves a token to its live session, enforcing both deadlines server-side. Writes only
    /// when the session expires or `last_seen_at` is older than the touch interval.
    /// The client (`meta`) is compared with the session's fingerprint (see [`Engine::check_fingerprint`]).
    pub async fn authenticate(&self, token: &SessionToken, meta: &ClientMeta) -> Result<Session> {
        Ok(self.resolve(token, meta, Touch::IfDue).await?.0)
    }

    /// [`Engine::authenticate`] (or, when the request is not the user's activity,
    /// [`Engine::peek`]) with the session's user, read in the same statement: the web layer's
    /// lookup, so a page or `session_state` needs no second read for the user.
    pub async fn authenticate_with_user(&self, token: &SessionToken, meta: &ClientMeta, activity: bool) -> Result<(Session, User)> {
        self.resolve(token, meta, if activity { Touch::IfDue } else { Touch::Never }).await
    }

    /// Like [`Engine::authenticate`], but never counts as activity: `last_seen_at` is left alone,
    /// so background checks (a browser tab asking "am I still signed in?") do not keep an idle
    /// session alive. An expired session is still ended.
    pub async fn peek(&self, token: &SessionToken, meta: &ClientMeta) -> Result<Session> {
        Ok(self.resolve(token, meta, Touch::Never).await?.0)
    }

    /// Why a session that refused a write is not live: its stored reason, else (still unmarked,
    /// but past a deadline) expiry.
    pub(super) async fn why_ended(&self, id: SessionId) -> Result<EndReason> {
        let reason: Option<Option<EndReason>> = sqlx::query_scalar("SELECT end_reason FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db().reader())
            .await?;
        Ok(reason.flatten().unwrap_or(EndReason::Expired))
    }

    #[tracing::instrument(name = "authenticate", skip_all, fields(touch = ?touch, session = tracing::field::Empty))]
    async fn resolve(&self, token: &SessionToken, meta: &ClientMeta, touch: Touch) -> Result<(Session, User)> {
        /// The session row and its user's, in one statement.
        #[derive(sqlx::FromRow)]
        struct Found {
            #[sqlx(flatten)]
            record: SessionRecord,
            #[sqlx(flatten)]
            user: SessionUser,
        }
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let sql = SQL.get_or_init(|| {
            let session: Vec<String> = SESSION_COLUMNS.split(", ").map(|c| format!("s.{}", c.trim())).collect();
            format!(
                "SELECT {}, {USER_COLUMNS_AS_USER} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
                session.join(", ")
            )
        });
        let hash = token.hash();
        if let Some(found) = self.cached_session(hash.as_str(), meta).await? {
            return Ok(found);
        }
        let since = self.db().cache().epoch();
        let here = self.db().read_here(sql, |statement| {
            use rusqlite::OptionalExtension;
            statement
                .query_row([hash.as_str()], |row| {
                    Ok(Found {
                        record: SessionRecord::from_local(row)?,
                        user: SessionUser::from_local(row)?,
                    })
                })
                .optional()
        });
        let found = match here {
            Some(found) => found,
            None => sqlx::query_as(sql).bind(hash.as_str()).fetch_optional(self.db().reader()).await?,
        };
        let Found { mut record, user: owner } = found.ok_or(Error::Unauthenticated)?;
        let (user, public_id, fingerprint) = (record.user_id, record.public_id.clone(), record.fingerprint.take());
        let mut session = match self.policy().session(record) {
            Err(Error::SessionEnded(reason)) => {
                self.detect_ended_token(user, &public_id, reason).await;
                return Err(Error::SessionEnded(reason));
            }
            other => other?,
        };
        tracing::Span::current().record("session", tracing::field::display(&session.public_id));
        let now = self.now();
        if now >= session.idle_expires_at {
            self.expire(&session).await?;
            tracing::info!(session = %session.public_id, "session expired");
            return Err(Error::SessionEnded(EndReason::Expired));
        }
        self.check_fingerprint(&mut session, fingerprint.as_deref(), meta).await?;
        let owner = User::from(owner);
        if touch == Touch::IfDue && now.since(session.last_seen_at) >= self.policy().touch_interval {
            // A transaction of its own, so that on SQLite touches that fall due together share
            // a commit (group commit) instead of queueing for an fsync each.
            let id = session.id;
            let touched = self
                .db()
                .transaction(move |c| {
                    Box::pin(async move {
                        let touched = sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND ended_at IS NULL")
                            .bind(now)
                            .bind(id)
                            .execute(&mut *c)
                            .await?;
                        Ok(touched.rows_affected())
                    })
                })
                .await?;
            if touched == 0 {
                return Err(Error::SessionEnded(self.why_ended(session.id).await?));
            }
            session.last_seen_at = now;
            session.idle_expires_at = self.policy().idle_deadline(now, session.absolute_expires_at);
        }
        if let Some(since) = since {
            let cache = self.db().cache();
            cache.keep_session(hash.as_str(), since, session.clone(), owner.clone(), fingerprint);
        }
        Ok((session, owner))
    }

    /// The live session behind `token_hash` from the cache, if it holds one that needs nothing
    /// from the database: within its idle deadline and not due a touch by the clock (either
    /// goes to the database, which also refreshes a `last_seen_at` another instance moved). The
    /// fingerprint is compared as on every lookup.
    async fn cached_session(&self, token_hash: &str, meta: &ClientMeta) -> Result<Option<(Session, User)>> {
        let cache = self.db().cache();
        if !cache.holds(token_hash) || !self.db().catch_up().await {
            return Ok(None);
        }
        let Some(hit) = cache.session(token_hash) else {
            return Ok(None);
        };
        let now = self.now();
        let fresh = now.since(hit.session.last_seen_at) < self.policy().touch_interval;
        if now >= hit.session.idle_expires_at || !fresh {
            return Ok(None);
        }
        let (mut session, user) = (hit.session, hit.user);
        self.check_fingerprint(&mut session, hit.fingerprint.as_deref(), meta).await?;
        Ok(Some((session, user)))
    }

    /// Marks a session found past a deadline as expired, with its audit row (the client is the
    /// one the session was started from).
    async fn expire(&self, session: &Session) -> Result<()> {
        let now = self.now();
        let mut audit = AuditEntry::new(AuditKind::SessionExpired).subject(session.user_id);
        audit.ip = session.ip.clone();
        audit.user_agent = session.user_agent.clone();
        let id = session.id;
        self.db()
            .transaction(move |c| Box::pin(async move { end_sessions(c, now, &[id], EndReason::Expired, &audit).await }))
            .await?;
        Ok(())
    }
}
