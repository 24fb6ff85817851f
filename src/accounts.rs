//! Accountable sessions: a user's list of sessions and ending them (one, all others, all), the
//! password change and re-authentication, and what administrators may do (see every account
//! and session, end any session, disable and enable accounts, grant the role). Each change and
//! its audit rows commit together.

use crate::audit::{record, AuditEntry, AuditKind};
use crate::clock::Timestamp;
use crate::domain::{Email, Password};
use crate::engine::Engine;
use crate::error::{Entity, Error, Result};
use crate::ids::{PublicSessionId, SessionId, UserId};
use crate::model::{EndReason, Session, SessionState, User};
use crate::sessions::{
    begin_session, end_sessions, live_session_ids, ClientMeta, NewSession, SessionRecord, SessionStart, SESSION_COLUMNS,
};
use crate::token::SessionToken;
use crate::users::{UserRecord, USER_COLUMNS};

/// An account as an administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOverview {
    pub user: User,
    pub created_at: Timestamp,
    /// Sessions not ended and within both deadlines.
    pub live_sessions: u64,
}

#[derive(sqlx::FromRow)]
struct OverviewRecord {
    #[sqlx(flatten)]
    user: UserRecord,
    created_at: Timestamp,
}

impl Engine {
    /// The live sessions of `user`, most recently used first.
    pub async fn sessions_of(&self, user: UserId) -> Result<Vec<Session>> {
        let now = self.now();
        let records: Vec<SessionRecord> = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND ended_at IS NULL \
             AND absolute_expires_at > $2 AND last_seen_at > $3 ORDER BY last_seen_at DESC, id DESC"
        ))
        .bind(user)
        .bind(now)
        .bind(Timestamp(
            now.millis().saturating_sub(self.policy().idle_timeout.as_millis() as i64),
        ))
        .fetch_all(self.db().reader())
        .await?;
        records.into_iter().map(|r| self.policy().session(r)).collect()
    }

    /// Ends one of the caller's own live sessions (the current one too). Another user's session,
    /// or one that is not live, is `NotFound`: the answer does not tell them apart.
    #[tracing::instrument(skip_all, fields(session = %caller.public_id))]
    pub async fn revoke_own_session(&self, caller: &Session, meta: &ClientMeta, target: &PublicSessionId) -> Result<()> {
        let audit = AuditEntry::new(AuditKind::SessionRevoked)
            .actor(caller.user_id)
            .from(meta)
            .detail("user");
        self.revoke(Some(caller.user_id), target, EndReason::RevokedByUser, audit).await
    }

    /// Ends every live session of the caller's user except the caller's. Returns how many.
    #[tracing::instrument(skip_all, fields(session = %caller.public_id))]
    pub async fn revoke_other_sessions(&self, caller: &Session, meta: &ClientMeta) -> Result<u64> {
        let audit = AuditEntry::new(AuditKind::SessionRevoked)
            .actor(caller.user_id)
            .from(meta)
            .detail("user");
        let (policy, now, user, me) = (self.policy().clone(), self.now(), caller.user_id, caller.id);
        self.db()
            .transaction(move |c| {
                Box::pin(async move {
                    let others: Vec<SessionId> = live_session_ids(c, &policy, now, user)
                        .await?
                        .into_iter()
                        .filter(|id| *id != me)
                        .collect();
                    end_sessions(c, now, &others, EndReason::RevokedByUser, &audit).await
                })
            })
            .await
    }

    /// "This wasn't me": the caller says `target`, one of their sessions, is not theirs. Every
    /// session of the account ends (the caller's own too), the audit record says why, and a
    /// critical alert is raised. Another user's session answers `NotFound`, like one that does
    /// not exist. Returns how many sessions ended.
    #[tracing::instrument(skip_all, fields(session = %caller.public_id))]
    pub async fn disown_session(&self, caller: &Session, meta: &ClientMeta, target: &PublicSessionId) -> Result<u64> {
        let owner: Option<UserId> = sqlx::query_scalar("SELECT user_id FROM sessions WHERE public_id = $1")
            .bind(target.as_str())
            .fetch_optional(self.db().reader())
            .await?;
        if owner != Some(caller.user_id) {
            return Err(Error::NotFound(Entity::Session));
        }
        let revoked = AuditEntry::new(AuditKind::SessionRevoked)
            .actor(caller.user_id)
            .from(meta)
            .detail("disowned");
        let disowned = AuditEntry::by_session(AuditKind::SessionDisowned, caller, meta);
        let (policy, now, user) = (self.policy().clone(), self.now(), caller.user_id);
        let named = target.as_str().to_owned();
        let ended = self
            .db()
            .transaction(move |c| {
                Box::pin(async move {
                    let all = live_session_ids(c, &policy, now, user).await?;
                    let ended = end_sessions(c, now, &all, EndReason::RevokedByUser, &revoked).await?;
                    let why = format!("session {named} was not theirs; {ended} sessions ended");
                    record(&mut *c, now, &disowned.detail(why)).await?;
                    Ok(ended)
                })
            })
            .await?;
        tracing::warn!(user_id = %user, disowned = %target, ended, "a session was disowned");
        self.alert_disowned(user, target, ended).await;
        Ok(ended)
    }

    /// Ends every live session of the caller's user, the caller's own included ("sign out
    /// everywhere"). Returns how many others ended.
    #[tracing::instrument(skip_all, fields(session = %caller.public_id))]
    pub async fn sign_out_everywhere(&self, caller: &Session, meta: &ClientMeta) -> Result<u64> {
        let revoked = AuditEntry::new(AuditKind::SessionRevoked)
            .actor(caller.user_id)
            .from(meta)
            .detail("user");
        let everywhere = AuditEntry::by_session(AuditKind::SignedOutEverywhere, caller, meta);
        let (policy, now, user, me) = (self.policy().clone(), self.now(), caller.user_id, caller.id);
        self.db()
            .transaction(move |c| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE sessions SET ended_at = $1, end_reason = $2, version = version + 1 WHERE id = $3 AND ended_at IS NULL",
                    )
                    .bind(now)
                    .bind(EndReason::Logout)
                    .bind(me)
                    .execute(&mut *c)
                    .await?;
                    let others = live_session_ids(c, &policy, now, user).await?;
                    let ended = end_sessions(c, now, &others, EndReason::RevokedByUser, &revoked).await?;
                    record(&mut *c, now, &everywhere.detail(format!("{ended} other sessions ended"))).await?;
                    Ok(ended)
                })
            })
            .await
    }

    /// Ends a live session: one of `owner`'s if given (else anyone's), audited with `audit`.
    async fn revoke(&self, owner: Option<UserId>, target: &PublicSessionId, reason: EndReason, audit: AuditEntry) -> Result<()> {
        let (now, target) = (self.now(), target.clone());
        self.db()
            .transaction(move |c| {
                Box::pin(async move {
                    let found: Option<(SessionId, UserId)> =
                        sqlx::query_as("SELECT id, user_id FROM sessions WHERE public_id = $1 AND ended_at IS NULL")
                            .bind(&target)
                            .fetch_optional(&mut *c)
                            .await?;
                    let Some((id, _)) = found.filter(|(_, user)| owner.is_none_or(|o| o == *user)) else {
                        return Err(Error::NotFound(Entity::Session));
                    };
                    end_sessions(c, now, &[id], reason, &audit).await?;
                    Ok(())
                })
            })
            .await
    }

    /// Whether a password was entered in `session` recently enough for a sensitive action.
    pub fn require_recent_auth(&self, session: &Session) -> Result<()> {
        if self.now() < self.policy().reauth_until(session.reauthenticated_at) {
            Ok(())
        } else {
            Err(Error::ReauthenticationRequired)
        }
    }

    /// The password hash of `user`.
    async fn password_hash(&self, user: UserId) -> Result<String> {
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(user)
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(Error::Unauthenticated)
    }

    /// Checks the password of the session's user; a wrong one is audited as `kind` refused and
    /// answered `Invalid` on `field`.
    async fn confirm_password(
        &self,
        session: &Session,
        meta: &ClientMeta,
        password: Password,
        kind: AuditKind,
        field: &'static str,
    ) -> Result<()> {
        let hash = self.password_hash(session.user_id).await?;
        if self.hasher().verify(password, Some(hash)).await? {
            return Ok(());
        }
        self.audit(AuditEntry::by_session(kind, session, meta).refused().detail("wrong password"))
            .await?;
        Err(Error::invalid(field, "is not your current password"))
    }

    /// "Enter your password again": a correct password makes the session's authentication recent.
    /// Returns until when it counts as recent. It also clears the session's flag (see `Session::flagged_at`).
    #[tracing::instrument(skip_all, fields(session = %session.public_id))]
    pub async fn reauthenticate(&self, session: &Session, meta: &ClientMeta, password: Password) -> Result<Timestamp> {
        self.confirm_password(session, meta, password, AuditKind::Reauthenticated, "password")
            .await?;
        let (now, id) = (self.now(), session.id);
        let audit = AuditEntry::by_session(AuditKind::Reauthenticated, session, meta);
        self.db()
            .transaction(move |c| {
                Box::pin(async move {
                    let updated =
                        sqlx::query("UPDATE sessions SET reauthenticated_at = $1, flagged_at = NULL WHERE id = $2 AND ended_at IS NULL")
                            .bind(now)
                            .bind(id)
                            .execute(&mut *c)
                            .await?;
                    if updated.rows_affected() == 0 {
                        return Err(Error::SessionEnded(EndReason::Logout));
                    }
                    record(&mut *c, now, &audit).await
                })
            })
            .await?;
        Ok(self.policy().reauth_until(now))
    }

    /// Changes the password of the session's user. Needs a recent authentication and the
    /// current password. The session is rotated (a new token; the old one is dead) and, with
    /// `end_others`, every other session of the user ends.
    #[tracing::instrument(skip_all, fields(session = %session.public_id))]
    pub async fn change_password(
        &self,
        session: &Session,
        meta: &ClientMeta,
        token: &SessionToken,
        current: Password,
        new: Password,
        end_others: bool,
    ) -> Result<(SessionToken, SessionState)> {
        self.require_recent_auth(session)?;
        self.confirm_password(session, meta, current, AuditKind::PasswordChanged, "current_password")
            .await?;
        let hash = self.hasher().hash(new).await?;
        let issued = SessionToken::generate();
        let (policy, now, user, previous, meta) = (self.policy().clone(), self.now(), session.user_id, token.hash(), meta.clone());
        let new_token = issued.clone();
        let fingerprint = self.stored_fingerprint(&meta);
        let record_ = self
            .db()
            .transaction(move |c| {
                Box::pin(async move {
                    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                        .bind(hash)
                        .bind(user)
                        .execute(&mut *c)
                        .await?;
                    let new = NewSession {
                        user_id: user,
                        token: &new_token,
                        meta: &meta,
                        previous: Some(&previous),
                        start: SessionStart::PasswordChange,
                        fingerprint,
                    };
                    let fresh = begin_session(c, &policy, now, new).await?;
                    let mut ended = 0;
                    if end_others {
                        let others: Vec<SessionId> = live_session_ids(c, &policy, now, user)
                            .await?
                            .into_iter()
                            .filter(|id| *id != fresh.id())
                            .collect();
                        let audit = AuditEntry::new(AuditKind::SessionRevoked)
                            .actor(user)
                            .from(&meta)
                            .detail("password_change");
                        ended = end_sessions(c, now, &others, EndReason::PasswordChanged, &audit).await?;
                    }
                    let mut entry = AuditEntry::new(AuditKind::PasswordChanged)
                        .actor(user)
                        .subject(user)
                        .from(&meta)
                        .detail(format!("{ended} other sessions ended"));
                    entry.session = Some(fresh.public_id().clone());
                    record(&mut *c, now, &entry).await?;
                    Ok(fresh)
                })
            })
            .await?;
        let fresh = self.policy().session(record_)?;
        tracing::info!(session = %fresh.public_id, "password changed");
        Ok((issued, self.state_of(fresh).await?))
    }

    /// The caller, if they are an administrator with a live account; else `Forbidden`, and the
    /// refusal goes on the audit record (`access_denied`, the detail saying what was asked).
    pub async fn require_admin(&self, session: &Session, meta: &ClientMeta, what: &str) -> Result<User> {
        match self.user(session.user_id).await? {
            Some(user) if user.is_admin && !user.disabled => Ok(user),
            _ => {
                tracing::warn!(session = %session.public_id, what, "administrator access denied");
                let entry = AuditEntry::by_session(AuditKind::AccessDenied, session, meta)
                    .refused()
                    .detail(what);
                self.audit(entry).await?;
                Err(Error::Forbidden)
            }
        }
    }

    /// An administrator action: the caller must be an admin with a recent authentication.
    async fn admin_action(&self, session: &Session, meta: &ClientMeta, what: &str) -> Result<User> {
        let admin = self.require_admin(session, meta, what).await?;
        self.require_recent_auth(session)?;
        Ok(admin)
    }

    /// Every account with its number of live sessions (administrators only).
    pub async fn users_overview(&self, admin: &Session, meta: &ClientMeta) -> Result<Vec<UserOverview>> {
        self.require_admin(admin, meta, "accounts").await?;
        let now = self.now();
        let records: Vec<OverviewRecord> = sqlx::query_as(&format!("SELECT {USER_COLUMNS}, created_at FROM users ORDER BY id"))
            .fetch_all(self.db().reader())
            .await?;
        let counts: Vec<(UserId, i64)> = sqlx::query_as(
            "SELECT user_id, COUNT(*) FROM sessions WHERE ended_at IS NULL AND absolute_expires_at > $1 AND last_seen_at > $2 \
             GROUP BY user_id",
        )
        .bind(now)
        .bind(Timestamp(
            now.millis().saturating_sub(self.policy().idle_timeout.as_millis() as i64),
        ))
        .fetch_all(self.db().reader())
        .await?;
        Ok(records
            .into_iter()
            .map(|r| {
                let user = User::from(r.user);
                let live = counts.iter().find(|(id, _)| *id == user.id).map_or(0, |(_, n)| *n as u64);
                UserOverview {
                    user,
                    created_at: r.created_at,
                    live_sessions: live,
                }
            })
            .collect())
    }

    /// One account and its live sessions (administrators only).
    pub async fn user_sessions_for_admin(&self, admin: &Session, meta: &ClientMeta, user: UserId) -> Result<(UserOverview, Vec<Session>)> {
        self.require_admin(admin, meta, "account sessions").await?;
        let record: OverviewRecord = sqlx::query_as(&format!("SELECT {USER_COLUMNS}, created_at FROM users WHERE id = $1"))
            .bind(user)
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(Error::NotFound(Entity::User))?;
        let sessions = self.sessions_of(user).await?;
        let overview = UserOverview {
            user: record.user.into(),
            created_at: record.created_at,
            live_sessions: sessions.len() as u64,
        };
        Ok((overview, sessions))
    }

    /// Ends any live session (administrators, recently authenticated).
    #[tracing::instrument(skip_all, fields(session = %admin.public_id))]
    pub async fn admin_revoke_session(&self, admin: &Session, meta: &ClientMeta, target: &PublicSessionId) -> Result<()> {
        let actor = self.admin_action(admin, meta, "revoke session").await?;
        let audit = AuditEntry::new(AuditKind::SessionRevoked)
            .actor(actor.id)
            .from(meta)
            .detail("admin");
        self.revoke(None, target, EndReason::RevokedByAdmin, audit).await
    }

    /// Disables an account (every session ends at once; logins are refused as if the password
    /// were wrong) or enables it again (administrators, recently authenticated; not yourself).
    #[tracing::instrument(skip_all, fields(session = %admin.public_id, user = %user))]
    pub async fn set_disabled(&self, admin: &Session, meta: &ClientMeta, user: UserId, disabled: bool) -> Result<User> {
        let actor = self
            .admin_action(admin, meta, if disabled { "disable account" } else { "enable account" })
            .await?;
        if user == actor.id {
            return Err(Error::invalid("user_id", "you cannot disable or enable your own account"));
        }
        let (policy, now, meta) = (self.policy().clone(), self.now(), meta.clone());
        let record_: UserRecord = self
            .db()
            .transaction(move |c| {
                Box::pin(async move {
                    let disabled_at = disabled.then_some(now);
                    let record_: UserRecord =
                        sqlx::query_as(&format!("UPDATE users SET disabled_at = $1 WHERE id = $2 RETURNING {USER_COLUMNS}"))
                            .bind(disabled_at)
                            .bind(user)
                            .fetch_optional(&mut *c)
                            .await?
                            .ok_or(Error::NotFound(Entity::User))?;
                    let mut ended = 0;
                    if disabled {
                        let live = live_session_ids(c, &policy, now, user).await?;
                        let audit = AuditEntry::new(AuditKind::SessionRevoked)
                            .actor(actor.id)
                            .from(&meta)
                            .detail("user_disabled");
                        ended = end_sessions(c, now, &live, EndReason::UserDisabled, &audit).await?;
                    }
                    let kind = if disabled {
                        AuditKind::UserDisabled
                    } else {
                        AuditKind::UserEnabled
                    };
                    let mut entry = AuditEntry::new(kind).actor(actor.id).subject(user).from(&meta);
                    if disabled {
                        entry = entry.detail(format!("{ended} sessions ended"));
                    }
                    record(&mut *c, now, &entry).await?;
                    Ok(record_)
                })
            })
            .await?;
        Ok(record_.into())
    }

    /// Grants or revokes the administrator role (from the command line; the actor is nobody).
    pub async fn set_admin(&self, email: &Email, admin: bool) -> Result<User> {
        let now = self.now();
        let email = email.clone();
        let record_: UserRecord = self
            .db()
            .transaction(move |c| {
                Box::pin(async move {
                    let record_: UserRecord =
                        sqlx::query_as(&format!("UPDATE users SET is_admin = $1 WHERE email = $2 RETURNING {USER_COLUMNS}"))
                            .bind(i64::from(admin))
                            .bind(&email)
                            .fetch_optional(&mut *c)
                            .await?
                            .ok_or(Error::NotFound(Entity::User))?;
                    let user = User::from(record_.clone());
                    let kind = if admin { AuditKind::AdminGranted } else { AuditKind::AdminRevoked };
                    record(&mut *c, now, &AuditEntry::new(kind).subject(user.id).detail("command line")).await?;
                    Ok(record_)
                })
            })
            .await?;
        Ok(record_.into())
    }
}
