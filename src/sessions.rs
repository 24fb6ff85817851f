//! Server-side sessions: issue, authenticate (idle and absolute expiry), rotate on login, end on
//! logout, and switch the active platform with a compare-and-set on the session version.

use crate::audit::{record, AuditEntry, AuditKind};
pub use crate::cleanup::SweepReport;
use crate::clock::Timestamp;
use crate::domain::Password;
use crate::engine::Engine;
use crate::error::{Entity, Error, Result};
use crate::fingerprint::Fingerprint;
use crate::ids::{PlatformId, PublicSessionId, SessionId, SessionVersion, UserId};
pub use crate::model::ClientMeta;
use crate::model::{EndReason, Session, SessionState, User};
use crate::policy::{DriftAction, SessionPolicy, WhenFull};
use crate::throttle::Verdict;
use crate::token::{new_public_id, SessionToken, TokenHash};
use crate::users::{SessionUser, USER_COLUMNS_AS_USER};
use sqlx::AnyConnection;

fn clip(s: Option<String>, max: usize) -> Option<String> {
    s.map(|s| s.chars().take(max).collect())
}

/// Whether resolving a session counts as activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Touch {
    IfDue,
    Never,
}

/// The columns of a session row, in the order of [`SessionRecord`].
pub(crate) const SESSION_COLUMNS: &str = "id, public_id, user_id, active_platform_id, version, created_at, last_seen_at, \
                                          absolute_expires_at, ended_at, end_reason, ip, user_agent, reauthenticated_at, \
                                          fingerprint, flagged_at";

/// A session row as stored, ended or not. The policy turns it into a [`Session`].
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SessionRecord {
    id: SessionId,
    public_id: PublicSessionId,
    user_id: UserId,
    active_platform_id: Option<PlatformId>,
    version: SessionVersion,
    created_at: Timestamp,
    last_seen_at: Timestamp,
    absolute_expires_at: Timestamp,
    ended_at: Option<Timestamp>,
    end_reason: Option<EndReason>,
    ip: Option<String>,
    user_agent: Option<String>,
    reauthenticated_at: Option<Timestamp>,
    fingerprint: Option<String>,
    flagged_at: Option<Timestamp>,
}

impl SessionRecord {
    pub(crate) fn id(&self) -> SessionId {
        self.id
    }

    pub(crate) fn public_id(&self) -> &PublicSessionId {
        &self.public_id
    }
}

impl SessionPolicy {
    /// The session a record describes, or why it has ended. (Deadlines are checked against the
    /// clock by the caller: this only reads what is stored.)
    pub(crate) fn session(&self, r: SessionRecord) -> Result<Session> {
        if r.ended_at.is_some() {
            // A row ended before reasons were recorded reads as revoked.
            return Err(Error::SessionEnded(r.end_reason.unwrap_or(EndReason::Logout)));
        }
        Ok(Session {
            idle_expires_at: self.idle_deadline(r.last_seen_at, r.absolute_expires_at),
            id: r.id,
            public_id: r.public_id,
            user_id: r.user_id,
            active_platform_id: r.active_platform_id,
            version: r.version,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            absolute_expires_at: r.absolute_expires_at,
            ip: r.ip,
            user_agent: r.user_agent,
            reauthenticated_at: r.reauthenticated_at.unwrap_or(r.created_at),
            flagged_at: r.flagged_at,
        })
    }
}

/// How a session begins, for its audit row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStart {
    Login,
    Registration,
    /// The password changed: the new session replaces the one it was changed in.
    PasswordChange,
}

/// Ends the live session behind `hash` (the browser's previous token) as rotated, with its audit
/// row. Returns the ended session's public id and user.
async fn rotate(c: &mut AnyConnection, now: Timestamp, hash: &TokenHash, meta: &ClientMeta) -> Result<Option<(PublicSessionId, UserId)>> {
    let ended: Option<(PublicSessionId, UserId)> = sqlx::query_as(
        "UPDATE sessions SET ended_at = $1, end_reason = $2, version = version + 1 \
         WHERE token_hash = $3 AND ended_at IS NULL RETURNING public_id, user_id",
    )
    .bind(now)
    .bind(EndReason::Rotated)
    .bind(hash.as_str())
    .fetch_optional(&mut *c)
    .await?;
    if let Some((public_id, user)) = &ended {
        let mut entry = AuditEntry::new(AuditKind::SessionRotated).actor(*user).subject(*user).from(meta);
        entry.session = Some(public_id.clone());
        record(&mut *c, now, &entry).await?;
    }
    Ok(ended)
}

/// Ends sessions `ids` of `user` for `reason`, one audit row each (`detail` says by whom).
pub(crate) async fn end_sessions(
    c: &mut AnyConnection,
    now: Timestamp,
    ids: &[SessionId],
    reason: EndReason,
    audit: &AuditEntry,
) -> Result<u64> {
    let mut ended = 0;
    for id in ids {
        let row: Option<(PublicSessionId, UserId)> = sqlx::query_as(
            "UPDATE sessions SET ended_at = $1, end_reason = $2, version = version + 1 \
             WHERE id = $3 AND ended_at IS NULL RETURNING public_id, user_id",
        )
        .bind(now)
        .bind(reason)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?;
        if let Some((public_id, user)) = row {
            let mut entry = audit.clone().subject(user);
            entry.session = Some(public_id);
            record(&mut *c, now, &entry).await?;
            ended += 1;
        }
    }
    Ok(ended)
}

impl SessionPolicy {
    /// The cut-off before which `last_seen_at` means idle-expired.
    pub(crate) fn idle_cutoff(&self, now: Timestamp) -> Timestamp {
        Timestamp(now.millis().saturating_sub(self.idle_timeout.as_millis() as i64))
    }
}

/// The live sessions of `user` (not ended, within both deadlines), least recently used first.
pub(crate) async fn live_session_ids(
    c: &mut AnyConnection,
    policy: &SessionPolicy,
    now: Timestamp,
    user: UserId,
) -> Result<Vec<SessionId>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM sessions WHERE user_id = $1 AND ended_at IS NULL AND absolute_expires_at > $2 AND last_seen_at > $3 \
         ORDER BY last_seen_at, id",
    )
    .bind(user)
    .bind(now)
    .bind(policy.idle_cutoff(now))
    .fetch_all(&mut *c)
    .await?)
}

/// What a new session is made of.
pub(crate) struct NewSession<'a> {
    pub user_id: UserId,
    pub token: &'a SessionToken,
    pub meta: &'a ClientMeta,
    /// The browser's previous session token, ended as rotated.
    pub previous: Option<&'a TokenHash>,
    pub start: SessionStart,
    /// The client's fingerprint, stored encoded (`None`: nothing recorded).
    pub fingerprint: Option<String>,
}

/// Starts a session on `c`: rotates out the browser's previous one, makes room under the
/// per-user limit (evicting the least recently used, or refusing), inserts the new row with the
/// platform used last (else the first), and writes the audit rows.
pub(crate) async fn begin_session(
    c: &mut AnyConnection,
    policy: &SessionPolicy,
    now: Timestamp,
    new: NewSession<'_>,
) -> Result<SessionRecord> {
    let NewSession {
        user_id,
        token,
        meta,
        previous,
        start,
        fingerprint,
    } = new;
    if let Some(previous) = previous {
        rotate(c, now, previous, meta).await?;
    }
    let live = live_session_ids(c, policy, now, user_id).await?;
    let room = policy.max_per_user.max(1) as usize - 1;
    if live.len() > room {
        match policy.when_full {
            WhenFull::Refuse => return Err(Error::TooManySessions),
            WhenFull::EvictOldest => {
                let evict = &live[..live.len() - room];
                let audit = AuditEntry::new(AuditKind::SessionRevoked).detail("eviction").from(meta);
                end_sessions(c, now, evict, EndReason::Evicted, &audit).await?;
            }
        }
    }
    let (ip, user_agent) = (clip(meta.ip.clone(), 64), clip(meta.user_agent.clone(), 512));
    let record: SessionRecord = sqlx::query_as(&format!(
        "INSERT INTO sessions (public_id, token_hash, user_id, active_platform_id, version, created_at, \
         last_seen_at, absolute_expires_at, ip, user_agent, reauthenticated_at, fingerprint) \
         VALUES ($1, $2, $3, COALESCE(\
           (SELECT active_platform_id FROM sessions WHERE user_id = $3 AND active_platform_id IS NOT NULL \
            ORDER BY last_seen_at DESC, id DESC LIMIT 1), \
           (SELECT id FROM platforms WHERE user_id = $3 ORDER BY id LIMIT 1)), \
         1, $4, $4, $5, $6, $7, $4, $8) RETURNING {SESSION_COLUMNS}"
    ))
    .bind(new_public_id())
    .bind(token.hash().as_str())
    .bind(user_id)
    .bind(now)
    .bind(now.plus(policy.absolute_lifetime))
    .bind(ip)
    .bind(user_agent)
    .bind(fingerprint)
    .fetch_one(&mut *c)
    .await?;
    let kind = match start {
        SessionStart::Login => Some(AuditKind::LoginSucceeded),
        SessionStart::Registration => Some(AuditKind::Registered),
        SessionStart::PasswordChange => None, // the password change writes its own row
    };
    if let Some(kind) = kind {
        let mut entry = AuditEntry::new(kind).actor(user_id).subject(user_id).from(meta);
        entry.session = Some(record.public_id.clone());
        record_entry(c, now, &entry).await?;
    }
    Ok(record)
}

async fn record_entry(c: &mut AnyConnection, now: Timestamp, entry: &AuditEntry) -> Result<()> {
    record(&mut *c, now, entry).await
}

impl Engine {
    /// Checks credentials and starts a new session. `previous` (the token the browser still
    /// held, if any) is ended in the same transaction: every login rotates the token. A failed
    /// attempt is audited with the attempted email (normalised), never the password.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: &str,
        password: Password,
        meta: ClientMeta,
        previous: Option<&SessionToken>,
    ) -> Result<(SessionToken, SessionState)> {
        let attempted = email.trim().to_lowercase().chars().take(254).collect::<String>();
        match self.login_verdict(&attempted, meta.ip.as_deref().unwrap_or("")).await? {
            Verdict::Refuse { retry_after } => {
                let entry = AuditEntry::new(AuditKind::LoginThrottled).refused().from(&meta).detail(attempted);
                self.audit(entry).await?;
                return Err(Error::TooManyAttempts { retry_after });
            }
            Verdict::Proceed(delay) if !delay.is_zero() => tokio::time::sleep(delay).await,
            Verdict::Proceed(_) => {}
        }
        let user = match self.check_credentials(email, password).await {
            Ok(user) => user,
            Err(Error::InvalidCredentials) => {
                let mut entry = AuditEntry::new(AuditKind::LoginFailed)
                    .refused()
                    .from(&meta)
                    .detail(attempted.clone());
                entry.subject = self.user_by_email(&attempted).await?.map(|u| u.id);
                let subject = entry.subject;
                self.audit(entry).await?;
                self.detect_failed_logins(&attempted, meta.ip.as_deref().unwrap_or(""), subject)
                    .await;
                return Err(Error::InvalidCredentials);
            }
            Err(e) => return Err(e),
        };
        let ip = meta.ip.clone();
        let (token, session) = self.start_session(user.id, meta, previous, SessionStart::Login).await?;
        tracing::info!(user_id = %user.id, session = %session.public_id, "signed in");
        self.detect_new_sessions(user.id, ip.as_deref()).await;
        let state = self.state_with_user(session, user).await?;
        Ok((token, state))
    }

    /// Issues a fresh session for `user_id`, ending `previous` if given, within the per-user
    /// limit. The active platform is the one the user used last, else their first.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn start_session(
        &self,
        user_id: UserId,
        meta: ClientMeta,
        previous: Option<&SessionToken>,
        start: SessionStart,
    ) -> Result<(SessionToken, Session)> {
        let token = SessionToken::generate();
        let previous = previous.map(SessionToken::hash);
        let now = self.now();
        let policy = self.policy().clone();
        let issued = token.clone();
        let fingerprint = self.stored_fingerprint(&meta);
        let record = self
            .db()
            .transaction(move |c| {
                Box::pin(async move {
                    let new = NewSession {
                        user_id,
                        token: &issued,
                        meta: &meta,
                        previous: previous.as_ref(),
                        start,
                        fingerprint,
                    };
                    begin_session(c, &policy, now, new).await
                })
            })
            .await?;
        Ok((token, self.policy().session(record)?))
    }

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

    /// Counts as activity now, whatever the touch interval: the idle deadline moves to
    /// `now + idle_timeout` (capped by the absolute deadline). "Stay signed in" calls this.
    #[tracing::instrument(skip_all, fields(session = %session.public_id))]
    pub async fn extend(&self, session: &Session, meta: &ClientMeta) -> Result<SessionState> {
        let now = self.now();
        let idle_cutoff = self.policy().idle_cutoff(now);
        let (id, audit) = (session.id, AuditEntry::by_session(AuditKind::SessionExtended, session, meta));
        // Only a session that is still live: not ended and within both deadlines.
        let record = self
            .db()
            .transaction(move |c| {
                Box::pin(async move {
                    let record: Option<SessionRecord> = sqlx::query_as(&format!(
                        "UPDATE sessions SET last_seen_at = $1 \
                         WHERE id = $2 AND ended_at IS NULL AND last_seen_at > $3 AND absolute_expires_at > $1 \
                         RETURNING {SESSION_COLUMNS}"
                    ))
                    .bind(now)
                    .bind(id)
                    .bind(idle_cutoff)
                    .fetch_optional(&mut *c)
                    .await?;
                    if record.is_some() {
                        record_entry(c, now, &audit).await?;
                    }
                    Ok(record)
                })
            })
            .await?;
        match record {
            Some(record) => self.state_of(self.policy().session(record)?).await,
            None => Err(Error::SessionEnded(self.why_ended(session.id).await?)),
        }
    }

    /// Why a session that refused a write is not live: its stored reason, else (still unmarked,
    /// but past a deadline) expiry.
    async fn why_ended(&self, id: SessionId) -> Result<EndReason> {
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
        let Found { mut record, user: owner } = sqlx::query_as(sql)
            .bind(hash.as_str())
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(Error::Unauthenticated)?;
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

    /// Ends the session behind `token`, if it is live. Idempotent.
    #[tracing::instrument(skip_all)]
    pub async fn logout(&self, token: &SessionToken, meta: &ClientMeta) -> Result<()> {
        let (now, hash, meta) = (self.now(), token.hash(), meta.clone());
        let ended = self
            .db()
            .transaction(move |c| {
                Box::pin(async move {
                    let ended: Option<(PublicSessionId, UserId)> = sqlx::query_as(
                        "UPDATE sessions SET ended_at = $1, end_reason = $2, version = version + 1 \
                         WHERE token_hash = $3 AND ended_at IS NULL RETURNING public_id, user_id",
                    )
                    .bind(now)
                    .bind(EndReason::Logout)
                    .bind(hash.as_str())
                    .fetch_optional(&mut *c)
                    .await?;
                    if let Some((public_id, user)) = &ended {
                        let mut entry = AuditEntry::new(AuditKind::Logout).actor(*user).subject(*user).from(&meta);
                        entry.session = Some(public_id.clone());
                        record_entry(c, now, &entry).await?;
                    }
                    Ok(ended)
                })
            })
            .await?;
        if ended.is_some() {
            tracing::info!("signed out");
        }
        Ok(())
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
    async fn check_fingerprint(&self, session: &mut Session, stored: Option<&str>, meta: &ClientMeta) -> Result<()> {
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

    /// The full state of a live session the caller has just read or written: its user, platforms
    /// and active platform. Two reads (user, platforms); the session itself is not read again.
    pub async fn state_of(&self, session: Session) -> Result<SessionState> {
        let user = self.user(session.user_id).await?.ok_or(Error::Unauthenticated)?;
        self.state_with_user(session, user).await
    }

    /// [`Engine::state_of`] when the caller already has the session's user (read with the
    /// session by [`Engine::authenticate_with_user`]): one read, the platforms.
    pub async fn state_with_user(&self, session: Session, user: User) -> Result<SessionState> {
        let platforms = self.platforms_of(session.user_id).await?;
        let platform = session
            .active_platform_id
            .and_then(|id| platforms.iter().find(|p| p.id == id).cloned());
        Ok(SessionState {
            user,
            session,
            platform,
            platforms,
        })
    }

    /// Makes `platform_id` the session's active platform. With `expected_version`, only if the
    /// session is still at that version (else `VersionConflict` carrying the current state);
    /// without it, unconditionally. Another user's or an unknown platform is `NotFound`. A session
    /// ended concurrently (logout) stays ended: the update requires `ended_at IS NULL`.
    ///
    /// One `UPDATE … RETURNING` on success (ownership is checked inside it); one more read only
    /// to explain a refusal.
    #[tracing::instrument(skip_all, fields(session = %session.public_id, platform_id = %platform_id))]
    pub async fn switch_platform(
        &self,
        session: &Session,
        meta: &ClientMeta,
        platform_id: PlatformId,
        expected_version: Option<SessionVersion>,
    ) -> Result<SessionState> {
        const SET: &str = "UPDATE sessions SET active_platform_id = $1, version = version + 1 \
                           WHERE id = $2 AND ended_at IS NULL \
                           AND EXISTS (SELECT 1 FROM platforms WHERE id = $1 AND user_id = $3)";
        let sql = match expected_version {
            Some(_) => format!("{SET} AND version = $4 RETURNING {SESSION_COLUMNS}"),
            None => format!("{SET} RETURNING {SESSION_COLUMNS}"),
        };
        let (now, id, user) = (self.now(), session.id, session.user_id);
        let audit = AuditEntry::by_session(AuditKind::PlatformSwitched, session, meta).detail(format!("platform {platform_id}"));
        let switched: Option<SessionRecord> = self
            .db()
            .transaction(move |c| {
                Box::pin(async move {
                    let query = sqlx::query_as(&sql).bind(platform_id).bind(id).bind(user);
                    let switched: Option<SessionRecord> = match expected_version {
                        Some(v) => query.bind(v),
                        None => query,
                    }
                    .fetch_optional(&mut *c)
                    .await?;
                    if switched.is_some() {
                        record_entry(c, now, &audit).await?;
                    }
                    Ok(switched)
                })
            })
            .await?;
        if let Some(record) = switched {
            let state = self.state_of(self.policy().session(record)?).await?;
            tracing::info!(version = %state.session.version, "platform switched");
            return Ok(state);
        }
        // Refused: say why. Ownership first (an unknown platform is 404 whatever the version).
        #[derive(sqlx::FromRow)]
        struct Refusal {
            owned: i64,
            #[sqlx(flatten)]
            record: SessionRecord,
        }
        let refusal: Refusal = sqlx::query_as(&format!(
            "SELECT (SELECT COUNT(*) FROM platforms WHERE id = $1 AND user_id = $3) AS owned, {SESSION_COLUMNS} \
             FROM sessions WHERE id = $2"
        ))
        .bind(platform_id)
        .bind(session.id)
        .bind(session.user_id)
        .fetch_one(self.db().reader())
        .await?;
        if refusal.owned == 0 {
            return Err(Error::NotFound(Entity::Platform));
        }
        let current = self.policy().session(refusal.record)?;
        match expected_version {
            Some(expected) if expected != current.version => Err(Error::VersionConflict {
                expected,
                current: Box::new(self.state_of(current).await?),
            }),
            _ => Err(Error::NotFound(Entity::Platform)),
        }
    }
}
