//! A user's platform connections (a Mastodon account, a Pixelfed account, ...). The first one
//! added becomes active; removing the active one moves its sessions to another or to none.

use crate::clock::Timestamp;
use crate::domain::{parse_id, Handle, InstanceUrl, PlatformKind, PlatformLabel};
use crate::error::{Error, Result};
use crate::sessions::Session;
use crate::Engine;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

/// How many platform connections one user may have.
pub const MAX_PLATFORMS_PER_USER: i64 = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub id: i64,
    pub kind: PlatformKind,
    pub label: String,
    pub instance_url: String,
    pub handle: String,
    pub created_at: Timestamp,
}

/// What a new platform connection consists of, already validated.
#[derive(Debug, Clone)]
pub struct NewPlatform {
    pub kind: PlatformKind,
    pub label: PlatformLabel,
    pub instance_url: InstanceUrl,
    pub handle: Handle,
}

fn platform_from_row(row: &AnyRow) -> Result<Platform> {
    let kind: String = row.try_get("kind")?;
    Ok(Platform {
        id: row.try_get("id")?,
        kind: PlatformKind::parse(&kind).map_err(|_| Error::Internal(format!("unknown platform kind {kind:?} in store")))?,
        label: row.try_get("label")?,
        instance_url: row.try_get("instance_url")?,
        handle: row.try_get("handle")?,
        created_at: Timestamp(row.try_get("created_at")?),
    })
}

pub(crate) async fn platforms_of<'e, E: Executor<'e, Database = Any>>(db: E, user_id: i64) -> Result<Vec<Platform>> {
    sqlx::query("SELECT id, kind, label, instance_url, handle, created_at FROM platforms WHERE user_id = $1 ORDER BY id")
        .bind(user_id)
        .fetch_all(db)
        .await?
        .iter()
        .map(platform_from_row)
        .collect()
}

impl Engine {
    pub async fn platforms(&self, session: &Session) -> Result<Vec<Platform>> {
        platforms_of(self.db().reader(), session.user_id).await
    }

    /// Adds a connection. If the user had none, it becomes active in every live session of theirs.
    pub async fn add_platform(&self, session: &Session, new: NewPlatform) -> Result<Platform> {
        let user_id = session.user_id;
        let now = self.now();
        let platform = self
            .db()
            .transaction(move |c| {
                Box::pin(async move {
                    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM platforms WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_one(&mut *c)
                        .await?
                        .try_get("n")?;
                    if count >= MAX_PLATFORMS_PER_USER {
                        return Err(Error::LimitReached(format!(
                            "at most {MAX_PLATFORMS_PER_USER} platforms per account"
                        )));
                    }
                    let row = sqlx::query(
                        "INSERT INTO platforms (user_id, kind, label, instance_url, handle, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, kind, label, instance_url, handle, created_at",
                    )
                    .bind(user_id)
                    .bind(new.kind.as_str())
                    .bind(new.label.as_str())
                    .bind(new.instance_url.as_str())
                    .bind(new.handle.as_str())
                    .bind(now.millis())
                    .fetch_one(&mut *c)
                    .await?;
                    let platform = platform_from_row(&row)?;
                    sqlx::query(
                        "UPDATE sessions SET active_platform_id = $1, version = version + 1 \
                         WHERE user_id = $2 AND ended_at IS NULL AND active_platform_id IS NULL",
                    )
                    .bind(platform.id)
                    .bind(user_id)
                    .execute(&mut *c)
                    .await?;
                    Ok(platform)
                })
            })
            .await?;
        tracing::info!(user_id, platform_id = platform.id, kind = platform.kind.as_str(), "platform added");
        Ok(platform)
    }

    pub async fn rename_platform(&self, session: &Session, platform_id: i64, label: PlatformLabel) -> Result<Platform> {
        let platform_id = parse_id("platform_id", platform_id)?;
        let row = sqlx::query(
            "UPDATE platforms SET label = $1 WHERE id = $2 AND user_id = $3 \
             RETURNING id, kind, label, instance_url, handle, created_at",
        )
        .bind(label.as_str())
        .bind(platform_id)
        .bind(session.user_id)
        .fetch_optional(self.db().writer())
        .await?
        .ok_or(Error::NotFound("platform"))?;
        platform_from_row(&row)
    }

    /// Removes a connection and its drafts. Sessions that had it active move to the user's
    /// first remaining platform, or to none; their version grows so every tab learns of it.
    pub async fn remove_platform(&self, session: &Session, platform_id: i64) -> Result<()> {
        let platform_id = parse_id("platform_id", platform_id)?;
        let user_id = session.user_id;
        self.db()
            .transaction(move |c| {
                Box::pin(async move {
                    sqlx::query("DELETE FROM drafts WHERE platform_id = $1 AND user_id = $2")
                        .bind(platform_id)
                        .bind(user_id)
                        .execute(&mut *c)
                        .await?;
                    let deleted = sqlx::query("DELETE FROM platforms WHERE id = $1 AND user_id = $2")
                        .bind(platform_id)
                        .bind(user_id)
                        .execute(&mut *c)
                        .await?;
                    if deleted.rows_affected() == 0 {
                        return Err(Error::NotFound("platform"));
                    }
                    let next: Option<i64> = sqlx::query("SELECT id FROM platforms WHERE user_id = $1 ORDER BY id LIMIT 1")
                        .bind(user_id)
                        .fetch_optional(&mut *c)
                        .await?
                        .map(|r| r.try_get("id"))
                        .transpose()?;
                    // ON DELETE SET NULL has already cleared the reference; find those sessions by
                    // user and a NULL platform, and move them on.
                    sqlx::query(
                        "UPDATE sessions SET active_platform_id = $1, version = version + 1 \
                         WHERE user_id = $2 AND ended_at IS NULL AND active_platform_id IS NULL",
                    )
                    .bind(next)
                    .bind(user_id)
                    .execute(&mut *c)
                    .await?;
                    Ok(())
                })
            })
            .await?;
        tracing::info!(user_id, platform_id, "platform removed");
        Ok(())
    }
}
