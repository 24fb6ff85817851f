//! Accounts: registration, credential checks (argon2id), administrator creation.

use crate::domain::{DisplayName, Email, Password};
use crate::error::{is_unique_violation, Error, Result};
use crate::Engine;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sqlx::Row;
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub is_admin: bool,
}

pub(crate) fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        is_admin: row.try_get::<i64, _>("is_admin")? == 1,
    })
}

async fn hash_password(password: Password) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}

/// A hash to verify against when the email is unknown, so both failures take the same time.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"decoy password, never valid", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

async fn verify_password(password: Password, hash: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| decoy_hash().to_owned());
        let parsed = PasswordHash::new(&hash).map_err(|e| Error::Internal(format!("stored hash unreadable: {e}")))?;
        let ok = Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok();
        Ok(known && ok)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}

impl Engine {
    /// Creates an account. Fails with `EmailTaken` when the email is in use.
    pub async fn register(&self, email: &Email, password: Password, name: &DisplayName, admin: bool) -> Result<User> {
        let hash = hash_password(password).await?;
        let row = sqlx::query(
            "INSERT INTO users (email, display_name, password_hash, is_admin, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id, email, display_name, is_admin",
        )
        .bind(email.as_str())
        .bind(name.as_str())
        .bind(hash)
        .bind(i64::from(admin))
        .bind(self.now().millis())
        .fetch_one(self.db().writer())
        .await
        .map_err(|e| if is_unique_violation(&e) { Error::EmailTaken } else { e.into() })?;
        let user = user_from_row(&row)?;
        tracing::info!(user_id = user.id, admin, "account created");
        Ok(user)
    }

    /// Checks an email and password. Unknown email and wrong password give the same error and
    /// take the same time.
    pub async fn check_credentials(&self, email: &str, password: Password) -> Result<User> {
        let email = Email::parse(email).map_err(|_| Error::InvalidCredentials);
        let row = match &email {
            Ok(email) => {
                sqlx::query("SELECT id, email, display_name, is_admin, password_hash FROM users WHERE email = $1")
                    .bind(email.as_str())
                    .fetch_optional(self.db().reader())
                    .await?
            }
            Err(_) => None,
        };
        let hash = row.as_ref().map(|r| r.try_get::<String, _>("password_hash")).transpose()?;
        if !verify_password(password, hash).await? {
            return Err(Error::InvalidCredentials);
        }
        match row {
            Some(row) => user_from_row(&row),
            None => Err(Error::InvalidCredentials),
        }
    }

    pub async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(self.db().reader())
            .await?
            .try_get("n")?)
    }
}
