//! Accounts: registration and credential checks (argon2id).

use crate::domain::{DisplayName, Email, Password};
use crate::engine::Engine;
use crate::error::{is_unique_violation, Error, Result};
use crate::ids::UserId;
use crate::model::User;

pub(crate) const USER_COLUMNS: &str = "id, email, display_name, is_admin, disabled_at";
/// [`USER_COLUMNS`] of `users u` as [`SessionUser`] reads them beside a session row (whose `id`
/// and `created_at` they would otherwise clash with); the user's id is the session's `user_id`.
pub(crate) const USER_COLUMNS_AS_USER: &str =
    "u.email AS user_email, u.display_name AS user_display_name, u.is_admin AS user_is_admin, u.disabled_at AS user_disabled_at";

/// A user row as stored.
#[derive(Clone, sqlx::FromRow)]
pub(crate) struct UserRecord {
    id: UserId,
    email: Email,
    display_name: DisplayName,
    /// 0 or 1 (an integer in both databases).
    is_admin: i64,
    disabled_at: Option<crate::clock::Timestamp>,
}

/// A user row read beside a session row ([`USER_COLUMNS_AS_USER`]).
#[derive(sqlx::FromRow)]
pub(crate) struct SessionUser {
    user_id: UserId,
    user_email: Email,
    user_display_name: DisplayName,
    user_is_admin: i64,
    user_disabled_at: Option<crate::clock::Timestamp>,
}

impl SessionUser {
    /// From a row read on the caller's thread (SQLite, see `Db::read_here`).
    pub(crate) fn from_local(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            user_id: row.get("user_id")?,
            user_email: row.get("user_email")?,
            user_display_name: row.get("user_display_name")?,
            user_is_admin: row.get("user_is_admin")?,
            user_disabled_at: row.get("user_disabled_at")?,
        })
    }
}

impl From<SessionUser> for User {
    fn from(r: SessionUser) -> Self {
        UserRecord {
            id: r.user_id,
            email: r.user_email,
            display_name: r.user_display_name,
            is_admin: r.user_is_admin,
            disabled_at: r.user_disabled_at,
        }
        .into()
    }
}

impl From<UserRecord> for User {
    fn from(r: UserRecord) -> Self {
        User {
            id: r.id,
            email: r.email,
            display_name: r.display_name,
            is_admin: r.is_admin == 1,
            disabled: r.disabled_at.is_some(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Credentials {
    #[sqlx(flatten)]
    user: UserRecord,
    password_hash: String,
}

impl Engine {
    /// Creates an account. Fails with `EmailTaken` when the email is in use.
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, email: &Email, password: Password, name: &DisplayName) -> Result<User> {
        let hash = self.hasher().hash(password).await?;
        let record: UserRecord = sqlx::query_as(&format!(
            "INSERT INTO users (email, display_name, password_hash, is_admin, created_at) \
             VALUES ($1, $2, $3, 0, $4) RETURNING {USER_COLUMNS}"
        ))
        .bind(email)
        .bind(name)
        .bind(hash)
        .bind(self.now())
        .fetch_one(self.db().writer())
        .await
        .map_err(|e| if is_unique_violation(&e) { Error::EmailTaken } else { e.into() })?;
        let user = User::from(record);
        tracing::info!(user_id = %user.id, "account created");
        Ok(user)
    }

    /// Checks an email and password. Unknown email, wrong password and a disabled account give
    /// the same error and take the same time.
    pub async fn check_credentials(&self, email: &str, password: Password) -> Result<User> {
        let found: Option<Credentials> = match Email::parse(email) {
            Ok(email) => {
                sqlx::query_as(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"))
                    .bind(email)
                    .fetch_optional(self.db().reader())
                    .await?
            }
            Err(_) => None,
        };
        let (user, hash) = match found {
            Some(c) => (Some(c.user), Some(c.password_hash)),
            None => (None, None),
        };
        match (self.hasher().verify(password, hash).await?, user.map(User::from)) {
            (true, Some(user)) if !user.disabled => Ok(user),
            _ => Err(Error::InvalidCredentials),
        }
    }

    /// One account by email, if it exists.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let Ok(email) = Email::parse(email) else { return Ok(None) };
        let record: Option<UserRecord> = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"))
            .bind(email)
            .fetch_optional(self.db().reader())
            .await?;
        Ok(record.map(User::from))
    }

    /// One account by id, if it exists.
    pub async fn user(&self, id: UserId) -> Result<Option<User>> {
        let record: Option<UserRecord> = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db().reader())
            .await?;
        Ok(record.map(User::from))
    }

    pub async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.db().reader())
            .await?)
    }
}
