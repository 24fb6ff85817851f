//! Server-side sessions: issue, authenticate (idle and absolute expiry), rotate on login, end on
//! logout, and switch the active platform with a compare-and-set on the session version.

use crate::clock::Timestamp;
use crate::domain::{parse_id, Password};
use crate::error::{Error, Result};
use crate::platforms::{platforms_of, Platform};
use crate::token::{new_public_id, SessionToken};
use crate::users::{user_from_row, User};
use crate::Engine;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long is dead.
    pub idle_timeout: Duration,
    /// A session is dead this long after login, however busy.
    pub absolute_lifetime: Duration,
    /// `last_seen_at` is written at most this often, so reads do not write on every hit. The idle
    /// deadline is therefore conservative by up to this much.
    pub touch_interval: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_lifetime: Duration::from_secs(12 * 3600),
            touch_interval: Duration::from_secs(60),
        }
    }
}

/// Where a request came from, recorded on the session.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

fn clip(s: Option<String>, max: usize) -> Option<String> {
    s.map(|s| s.chars().take(max).collect())
}

/// Why a session ended, as stored in `end_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Logout,
    Rotated,
    Expired,
    Revoked,
}

impl EndReason {
    fn as_str(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::Rotated => "rotated",
            EndReason::Expired => "expired",
            EndReason::Revoked => "revoked",
        }
    }

    fn error(reason: Option<&str>) -> Error {
        if reason == Some("expired") {
            Error::SessionExpired
        } else {
            Error::SessionRevoked
        }
    }
}

/// Whether resolving a session counts as activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Touch {
    IfDue,
    Never,
}

/// A live session as the engine sees it. `id` is internal; `public_id` is what clients see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub public_id: String,
    pub user_id: i64,
    pub active_platform_id: Option<i64>,
    pub version: i64,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub idle_expires_at: Timestamp,
    pub absolute_expires_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Everything a page or client needs about the current session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    pub user: User,
    pub session: Session,
    pub platform: Option<Platform>,
    pub platforms: Vec<Platform>,
}

const SESSION_COLUMNS: &str = "id, public_id, user_id, active_platform_id, version, created_at, last_seen_at, \
                               absolute_expires_at, ended_at, end_reason, ip, user_agent";

struct SessionRow {
    session: Session,
    ended: Option<Option<String>>,
}

impl SessionPolicy {
    fn row(&self, row: &AnyRow) -> Result<SessionRow> {
        let last_seen_at = Timestamp(row.try_get("last_seen_at")?);
        let absolute_expires_at = Timestamp(row.try_get("absolute_expires_at")?);
        let ended_at: Option<i64> = row.try_get("ended_at")?;
        Ok(SessionRow {
            session: Session {
                id: row.try_get("id")?,
                public_id: row.try_get("public_id")?,
                user_id: row.try_get("user_id")?,
                active_platform_id: row.try_get("active_platform_id")?,
                version: row.try_get("version")?,
                created_at: Timestamp(row.try_get("created_at")?),
                last_seen_at,
                idle_expires_at: last_seen_at.plus(self.idle_timeout).min(absolute_expires_at),
                absolute_expires_at,
                ip: row.try_get("ip")?,
                user_agent: row.try_get("user_agent")?,
            },
            ended: ended_at.map(|_| row.try_get::<Option<String>, _>("end_reason").ok().flatten()),
        })
    }
}

enum SwitchOutcome {
    Switched,
    Conflict,
}

impl Engine {
    /// Checks credentials and starts a new session. `previous` (the token the browser still
    /// held, if any) is ended in the same transaction: every login rotates the token.
    pub async fn login(
        &self,
        email: &str,
        password: Password,
        meta: ClientMeta,
        previous: Option<&SessionToken>,
    ) -> Result<(SessionToken, SessionState)> {
        let user = self.check_credentials(email, password).await?;
        let (token, session) = self.start_session(user.id, meta, previous).await?;
        tracing::info!(user_id = user.id, session = %session.public_id, "signed in");
        Ok((token, self.state_of(&session).await?))
    }

    /// Issues a fresh session for `user_id`, ending `previous` if given. The active platform is
    /// the one the user used last, else their first.
    pub async fn start_session(&self, user_id: i64, meta: ClientMeta, previous: Option<&SessionToken>) -> Result<(SessionToken, Session)> {
        let token = SessionToken::generate();
        let hash = token.hash();
        let previous = previous.map(SessionToken::hash);
        let now = self.now();
        let absolute = now.plus(self.policy().absolute_lifetime);
        let public_id = new_public_id();
        let (ip, user_agent) = (clip(meta.ip, 64), clip(meta.user_agent, 512));
        let policy = self.policy().clone();
        let session = self
            .db()
            .transaction(move |c| {
                Box::pin(async move {
                    if let Some(previous) = previous {
                        sqlx::query(
                            "UPDATE sessions SET ended_at = $1, end_reason = $2, version = version + 1 \
                             WHERE token_hash = $3 AND ended_at IS NULL",
                        )
                        .bind(now.millis())
                        .bind(EndReason::Rotated.as_str())
                        .bind(previous.as_str())
                        .execute(&mut *c)
                        .await?;
                    }
                    let last_used: Option<i64> = sqlx::query(
                        "SELECT active_platform_id FROM sessions WHERE user_id = $1 AND active_platform_id IS NOT NULL \
                         ORDER BY last_seen_at DESC, id DESC LIMIT 1",
                    )
                    .bind(user_id)
                    .fetch_optional(&mut *c)
                    .await?
                    .map(|r| r.try_get("active_platform_id"))
                    .transpose()?;
                    let platform: Option<i64> = match last_used {
                        Some(id) => Some(id),
                        None => sqlx::query("SELECT id FROM platforms WHERE user_id = $1 ORDER BY id LIMIT 1")
                            .bind(user_id)
                            .fetch_optional(&mut *c)
                            .await?
                            .map(|r| r.try_get("id"))
                            .transpose()?,
                    };
                    let row = sqlx::query(&format!(
                        "INSERT INTO sessions (public_id, token_hash, user_id, active_platform_id, version, created_at, \
                         last_seen_at, absolute_expires_at, ip, user_agent) \
                         VALUES ($1, $2, $3, $4, 1, $5, $5, $6, $7, $8) RETURNING {SESSION_COLUMNS}"
                    ))
                    .bind(public_id)
                    .bind(hash.as_str())
                    .bind(user_id)
                    .bind(platform)
                    .bind(now.millis())
                    .bind(absolute.millis())
                    .bind(ip)
                    .bind(user_agent)
                    .fetch_one(&mut *c)
                    .await?;
                    Ok(policy.row(&row)?.session)
                })
            })
            .await?;
        Ok((token, session))
    }

    /// Resolves a token to its live session, enforcing both deadlines server-side. Writes only
    /// when the session expires or `last_seen_at` is older than the touch interval.
    pub async fn authenticate(&self, token: &SessionToken) -> Result<Session> {
        self.resolve(token, Touch::IfDue).await
    }

    /// Like [`Engine::authenticate`], but never counts as activity: `last_seen_at` is left alone,
    /// so background checks (a browser tab asking "am I still signed in?") do not keep an idle
    /// session alive. An expired session is still ended.
    pub async fn peek(&self, token: &SessionToken) -> Result<Session> {
        self.resolve(token, Touch::Never).await
    }

    /// Counts as activity now, whatever the touch interval: the idle deadline moves to
    /// `now + idle_timeout` (capped by the absolute deadline). "Stay signed in" calls this.
    pub async fn extend(&self, session: &Session) -> Result<SessionState> {
        let now = self.now();
        let idle_cutoff = Timestamp(now.millis() - self.policy().idle_timeout.as_millis() as i64);
        // Only a session that is still live: not ended and within both deadlines.
        let touched = sqlx::query(
            "UPDATE sessions SET last_seen_at = $1 \
             WHERE id = $2 AND ended_at IS NULL AND last_seen_at > $3 AND absolute_expires_at > $1",
        )
        .bind(now.millis())
        .bind(session.id)
        .bind(idle_cutoff.millis())
        .execute(self.db().writer())
        .await?;
        if touched.rows_affected() == 0 {
            return Err(Error::SessionRevoked);
        }
        self.state_of(session).await
    }

    async fn resolve(&self, token: &SessionToken, touch: Touch) -> Result<Session> {
        let row = sqlx::query(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1"))
            .bind(token.hash().as_str())
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(Error::Unauthenticated)?;
        let SessionRow { mut session, ended } = self.policy().row(&row)?;
        if let Some(reason) = ended {
            return Err(EndReason::error(reason.as_deref()));
        }
        let now = self.now();
        if now >= session.idle_expires_at {
            self.end_session(session.id, EndReason::Expired).await?;
            tracing::info!(session = %session.public_id, "session expired");
            return Err(Error::SessionExpired);
        }
        if touch == Touch::IfDue && now.since(session.last_seen_at) >= self.policy().touch_interval {
            let touched = sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND ended_at IS NULL")
                .bind(now.millis())
                .bind(session.id)
                .execute(self.db().writer())
                .await?;
            if touched.rows_affected() == 0 {
                return Err(Error::SessionRevoked);
            }
            session.last_seen_at = now;
            session.idle_expires_at = now.plus(self.policy().idle_timeout).min(session.absolute_expires_at);
        }
        Ok(session)
    }

    /// Ends the session behind `token`, if it is live. Idempotent.
    pub async fn logout(&self, token: &SessionToken) -> Result<()> {
        let ended = sqlx::query(
            "UPDATE sessions SET ended_at = $1, end_reason = $2, version = version + 1 \
             WHERE token_hash = $3 AND ended_at IS NULL",
        )
        .bind(self.now().millis())
        .bind(EndReason::Logout.as_str())
        .bind(token.hash().as_str())
        .execute(self.db().writer())
        .await?;
        if ended.rows_affected() > 0 {
            tracing::info!("signed out");
        }
        Ok(())
    }

    /// Ends a live session by its internal id. Returns whether it was live.
    pub async fn end_session(&self, session_id: i64, reason: EndReason) -> Result<bool> {
        let ended =
            sqlx::query("UPDATE sessions SET ended_at = $1, end_reason = $2, version = version + 1 WHERE id = $3 AND ended_at IS NULL")
                .bind(self.now().millis())
                .bind(reason.as_str())
                .bind(session_id)
                .execute(self.db().writer())
                .await?;
        Ok(ended.rows_affected() > 0)
    }

    /// The full state of a session: user, platforms, the active one, the current version.
    pub async fn state_of(&self, session: &Session) -> Result<SessionState> {
        let row = sqlx::query(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"))
            .bind(session.id)
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(Error::Unauthenticated)?;
        let SessionRow { session, ended } = self.policy().row(&row)?;
        if let Some(reason) = ended {
            return Err(EndReason::error(reason.as_deref()));
        }
        let user_row = sqlx::query("SELECT id, email, display_name, is_admin FROM users WHERE id = $1")
            .bind(session.user_id)
            .fetch_one(self.db().reader())
            .await?;
        let user = user_from_row(&user_row)?;
        let platforms = platforms_of(self.db().reader(), session.user_id).await?;
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
    pub async fn switch_platform(&self, session: &Session, platform_id: i64, expected_version: Option<i64>) -> Result<SessionState> {
        let platform_id = parse_id("platform_id", platform_id)?;
        if let Some(v) = expected_version {
            parse_id("expected_version", v)?;
        }
        let (session_id, user_id) = (session.id, session.user_id);
        let outcome = self
            .db()
            .transaction(move |c| {
                Box::pin(async move {
                    let owned = sqlx::query("SELECT id FROM platforms WHERE id = $1 AND user_id = $2")
                        .bind(platform_id)
                        .bind(user_id)
                        .fetch_optional(&mut *c)
                        .await?;
                    if owned.is_none() {
                        return Err(Error::NotFound("platform"));
                    }
                    const SET: &str = "UPDATE sessions SET active_platform_id = $1, version = version + 1 \
                                       WHERE id = $2 AND ended_at IS NULL \
                                       AND EXISTS (SELECT 1 FROM platforms WHERE id = $1 AND user_id = $3)";
                    let updated = match expected_version {
                        Some(v) => {
                            sqlx::query(&format!("{SET} AND version = $4"))
                                .bind(platform_id)
                                .bind(session_id)
                                .bind(user_id)
                                .bind(v)
                                .execute(&mut *c)
                                .await?
                        }
                        None => {
                            sqlx::query(SET)
                                .bind(platform_id)
                                .bind(session_id)
                                .bind(user_id)
                                .execute(&mut *c)
                                .await?
                        }
                    };
                    if updated.rows_affected() == 1 {
                        return Ok(SwitchOutcome::Switched);
                    }
                    let now = sqlx::query("SELECT version, ended_at, end_reason FROM sessions WHERE id = $1")
                        .bind(session_id)
                        .fetch_one(&mut *c)
                        .await?;
                    if now.try_get::<Option<i64>, _>("ended_at")?.is_some() {
                        return Err(EndReason::error(now.try_get::<Option<String>, _>("end_reason")?.as_deref()));
                    }
                    match expected_version {
                        Some(v) if v != now.try_get::<i64, _>("version")? => Ok(SwitchOutcome::Conflict),
                        _ => Err(Error::NotFound("platform")),
                    }
                })
            })
            .await?;
        let state = self.state_of(session).await?;
        match outcome {
            SwitchOutcome::Switched => {
                tracing::info!(session = %session.public_id, platform_id, version = state.session.version, "platform switched");
                Ok(state)
            }
            SwitchOutcome::Conflict => Err(Error::VersionConflict {
                expected: expected_version.unwrap_or_default(),
                current: Box::new(state),
            }),
        }
    }
}

/// What one cleanup pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepReport {
    /// Live sessions found past a deadline and marked expired.
    pub expired: u64,
    /// Ended sessions older than the retention period, deleted.
    pub deleted: u64,
}

impl Engine {
    /// Marks sessions past either deadline as expired and deletes sessions that ended more than
    /// `retention` ago. Run periodically by the server (`cleanup_interval`).
    pub async fn sweep_sessions(&self, retention: Duration) -> Result<SweepReport> {
        let now = self.now();
        let idle_cutoff = now.millis().saturating_sub(self.policy().idle_timeout.as_millis() as i64);
        let expired = sqlx::query(
            "UPDATE sessions SET ended_at = $1, end_reason = 'expired', version = version + 1 \
             WHERE ended_at IS NULL AND (absolute_expires_at <= $1 OR last_seen_at <= $2)",
        )
        .bind(now.millis())
        .bind(idle_cutoff)
        .execute(self.db().writer())
        .await?
        .rows_affected();
        let deleted = sqlx::query("DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < $1")
            .bind(now.millis().saturating_sub(retention.as_millis() as i64))
            .execute(self.db().writer())
            .await?
            .rows_affected();
        Ok(SweepReport { expired, deleted })
    }
}
