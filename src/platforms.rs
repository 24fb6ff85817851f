//! A user's platform connections (a Mastodon account, a Pixelfed account, ...). The first one
//! added becomes active; removing the active one moves its sessions to another or to none.

use crate::clock::Timestamp;
use crate::domain::{Handle, InstanceUrl, PlatformKind, PlatformLabel};
use crate::engine::Engine;
use crate::error::{Entity, Error, Result};
use crate::ids::{PlatformId, UserId};
use crate::model::{Platform, Session};

/// How many platform connections one user may have.
pub const MAX_PLATFORMS_PER_USER: i64 = 50;

/// What a new platform connection consists of, already validated.
#[derive(Debug, Clone)]
pub struct NewPlatform {
    pub kind: PlatformKind,
    pub label: PlatformLabel,
    pub instance_url: InstanceUrl,
    pub handle: Handle,
}

const PLATFORM_COLUMNS: &str = "id, kind, label, instance_url, handle, created_at";

/// A platform row as stored.
#[derive(sqlx::FromRow)]
struct PlatformRecord {
    id: PlatformId,
    kind: PlatformKind,
    label: PlatformLabel,
    instance_url: InstanceUrl,
    handle: Handle,
    created_at: Timestamp,
}

impl PlatformRecord {
    /// From a row of [`PLATFORM_COLUMNS`] read on the caller's thread (SQLite, see
    /// `Db::read_here`).
    fn from_local(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            kind: row.get("kind")?,
            label: row.get("label")?,
            instance_url: row.get("instance_url")?,
            handle: row.get("handle")?,
            created_at: row.get("created_at")?,
        })
    }
}

impl From<PlatformRecord> for Platform {
    fn from(r: PlatformRecord) -> Self {
        Platform {
            id: r.id,
            kind: r.kind,
            label: r.label,
            instance_url: r.instance_url,
            handle: r.handle,
            created_at: r.created_at,
        }
    }
}

impl Engine {
    /// A user's platforms, in the order they were added.
    pub async fn platforms_of(&self, user_id: UserId) -> Result<Vec<Platform>> {
        let cache = self.db().cache();
        if cache.serving() && self.db().catch_up().await {
            if let Some(platforms) = cache.platforms(user_id) {
                return Ok(platforms);
            }
        }
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let sql = SQL.get_or_init(|| format!("SELECT {PLATFORM_COLUMNS} FROM platforms WHERE user_id = $1 ORDER BY id"));
        let since = cache.epoch();
        let here = self.db().read_here(sql, |statement| {
            statement
                .query_map([user_id.get()], PlatformRecord::from_local)?
                .collect::<rusqlite::Result<Vec<_>>>()
        });
        let records: Vec<PlatformRecord> = match here {
            Some(records) => records,
            None => sqlx::query_as(sql).bind(user_id).fetch_all(self.db().reader()).await?,
        };
        let platforms: Vec<Platform> = records.into_iter().map(Platform::from).collect();
        if let Some(since) = since {
            cache.keep_platforms(user_id, since, &platforms);
        }
        Ok(platforms)
    }

    /// Adds a connection. If the user had none, it becomes active in every live session of theirs.
    /// Every live session of the user gets a new version: its state (the platform list) changed,
    /// and a version is how every tab on every device tells newer state from older.
    #[tracing::instrument(skip_all, fields(session = %session.public_id))]
    pub async fn add_platform(&self, session: &Session, new: NewPlatform) -> Result<Platform> {
        let user_id = session.user_id;
        let now = self.now();
        let platform = self
            .db()
            .transaction(move |c| {
                Box::pin(async move {
                    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM platforms WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_one(&mut *c)
                        .await?;
                    if count >= MAX_PLATFORMS_PER_USER {
                        return Err(Error::LimitReached(format!(
                            "at most {MAX_PLATFORMS_PER_USER} platforms per account"
                        )));
                    }
                    let record: PlatformRecord = sqlx::query_as(&format!(
                        "INSERT INTO platforms (user_id, kind, label, instance_url, handle, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {PLATFORM_COLUMNS}"
                    ))
                    .bind(user_id)
                    .bind(new.kind)
                    .bind(new.label)
                    .bind(new.instance_url)
                    .bind(new.handle)
                    .bind(now)
                    .fetch_one(&mut *c)
                    .await?;
                    sqlx::query(
                        "UPDATE sessions SET active_platform_id = COALESCE(active_platform_id, $1), version = version + 1 \
                         WHERE user_id = $2 AND ended_at IS NULL",
                    )
                    .bind(record.id)
                    .bind(user_id)
                    .execute(&mut *c)
                    .await?;
                    Ok(Platform::from(record))
                })
            })
            .await?;
        tracing::info!(platform_id = %platform.id, kind = platform.kind.as_str(), "platform added");
        Ok(platform)
    }

    /// Renames a connection; every live session of the user gets a new version (see
    /// [`Engine::add_platform`]).
    #[tracing::instrument(skip_all, fields(session = %session.public_id, platform_id = %platform_id))]
    pub async fn rename_platform(&self, session: &Session, platform_id: PlatformId, label: PlatformLabel) -> Result<Platform> {
        let user_id = session.user_id;
        let sql = format!("UPDATE platforms SET label = $1 WHERE id = $2 AND user_id = $3 RETURNING {PLATFORM_COLUMNS}");
        let record: Option<PlatformRecord> = self
            .db()
            .transaction(move |c| {
                Box::pin(async move {
                    let record: Option<PlatformRecord> = sqlx::query_as(&sql)
                        .bind(label)
                        .bind(platform_id)
                        .bind(user_id)
                        .fetch_optional(&mut *c)
                        .await?;
                    if record.is_some() {
                        bump_live_sessions(c, user_id).await?;
                    }
                    Ok(record)
                })
            })
            .await?;
        Ok(record.ok_or(Error::NotFound(Entity::Platform))?.into())
    }

    /// Removes a connection and its drafts. Every live session of the user that had it active
    /// moves to the user's first remaining platform, or to none, so no tab on any device keeps
    /// pointing at it; the others keep their active platform. Every live session of the user gets
    /// a new version (see [`Engine::add_platform`]).
    #[tracing::instrument(skip_all, fields(session = %session.public_id, platform_id = %platform_id))]
    pub async fn remove_platform(&self, session: &Session, platform_id: PlatformId) -> Result<()> {
        let user_id = session.user_id;
        self.db()
            .transaction(move |c| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE sessions SET version = version + 1, active_platform_id = CASE \
                         WHEN active_platform_id = $2 \
                         THEN (SELECT id FROM platforms WHERE user_id = $1 AND id <> $2 ORDER BY id LIMIT 1) \
                         ELSE active_platform_id END \
                         WHERE user_id = $1 AND ended_at IS NULL",
                    )
                    .bind(user_id)
                    .bind(platform_id)
                    .execute(&mut *c)
                    .await?;
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
                        return Err(Error::NotFound(Entity::Platform));
                    }
                    Ok(())
                })
            })
            .await?;
        tracing::info!("platform removed");
        Ok(())
    }
}

/// A new version for every live session of `user_id`, whose platform list changed.
async fn bump_live_sessions(c: &mut sqlx::AnyConnection, user_id: UserId) -> Result<()> {
    sqlx::query("UPDATE sessions SET version = version + 1 WHERE user_id = $1 AND ended_at IS NULL")
        .bind(user_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}
