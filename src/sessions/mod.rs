//! Server-side sessions: issue, authenticate (idle and absolute expiry), rotate on login, end on
//! logout, and switch the active platform with a compare-and-set on the session version.
//!
//! This module starts and ends sessions; finding the one behind a token is in `lookup`, what a
//! fingerprint drift does in `drift`, and a page's state and switching in `switching`.

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

mod drift;
mod lookup;
mod switching;

fn clip(s: Option<String>, max: usize) -> Option<String> {
    s.map(|s| s.chars().take(max).collect())
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
    /// The record from a row of [`SESSION_COLUMNS`] read on the caller's thread (SQLite, see
    /// `Db::read_here`); the pool's reads decode it with `sqlx::FromRow`.
    pub(crate) fn from_local(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            public_id: row.get("public_id")?,
            user_id: row.get("user_id")?,
            active_platform_id: row.get("active_platform_id")?,
            version: row.get("version")?,
            created_at: row.get("created_at")?,
            last_seen_at: row.get("last_seen_at")?,
            absolute_expires_at: row.get("absolute_expires_at")?,
            ended_at: row.get("ended_at")?,
            end_reason: row.get("end_reason")?,
            ip: row.get("ip")?,
            user_agent: row.get("user_agent")?,
            reauthenticated_at: row.get("reauthenticated_at")?,
            fingerprint: row.get("fingerprint")?,
            flagged_at: row.get("flagged_at")?,
        })
    }

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

/// Ends the live session behind `hash` for `reason` (a sign-out, or a login rotating the
/// browser's previous token), with its audit row of `kind`. Returns the ended session's public id
/// and user; `None` if no live session has that token.
async fn end_by_token(
    c: &mut AnyConnection,
    now: Timestamp,
    hash: &TokenHash,
    reason: EndReason,
    kind: AuditKind,
    meta: &ClientMeta,
) -> Result<Option<(PublicSessionId, UserId)>> {
    let ended: Option<(PublicSessionId, UserId)> = sqlx::query_as(
        "UPDATE sessions SET ended_at = $1, end_reason = $2, version = version + 1 \
         WHERE token_hash = $3 AND ended_at IS NULL RETURNING public_id, user_id",
    )
    .bind(now)
    .bind(reason)
    .bind(hash.as_str())
    .fetch_optional(&mut *c)
    .await?;
    if let Some((public_id, user)) = &ended {
        let mut entry = AuditEntry::new(kind).actor(*user).subject(*user).from(meta);
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
        end_by_token(c, now, previous, EndReason::Rotated, AuditKind::SessionRotated, meta).await?;
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

    /// Ends the session behind `token`, if it is live. Idempotent.
    #[tracing::instrument(skip_all)]
    pub async fn logout(&self, token: &SessionToken, meta: &ClientMeta) -> Result<()> {
        let (now, hash, meta) = (self.now(), token.hash(), meta.clone());
        let ended = self
            .db()
            .transaction(move |c| Box::pin(async move { end_by_token(c, now, &hash, EndReason::Logout, AuditKind::Logout, &meta).await }))
            .await?;
        if ended.is_some() {
            tracing::info!("signed out");
        }
        Ok(())
    }
}
