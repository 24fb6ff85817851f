//! Platform-scoped content. Every operation acts on the session's active platform as the
//! database has it at that moment (a subquery on the session row), never on a platform the
//! client names, so content cannot leak across platforms or users.

use crate::clock::Timestamp;
use crate::domain::{DraftBody, DraftTitle};
use crate::engine::Engine;
use crate::error::{Entity, Error, Result};
use crate::ids::{DraftId, PlatformId};
use crate::model::{Draft, Session};

/// How many drafts one platform connection may hold.
pub const MAX_DRAFTS_PER_PLATFORM: i64 = 1000;

const ACTIVE: &str = "(SELECT active_platform_id FROM sessions WHERE id = $1 AND ended_at IS NULL)";
const COLUMNS: &str = "id, platform_id, title, body, created_at, updated_at";

/// A draft row as stored.
#[derive(sqlx::FromRow)]
struct DraftRecord {
    id: DraftId,
    platform_id: PlatformId,
    title: DraftTitle,
    body: DraftBody,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<DraftRecord> for Draft {
    fn from(r: DraftRecord) -> Self {
        Draft {
            id: r.id,
            platform_id: r.platform_id,
            title: r.title,
            body: r.body,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl Engine {
    /// The drafts of the active platform, newest first. Empty when no platform is active.
    pub async fn drafts(&self, session: &Session) -> Result<Vec<Draft>> {
        let records: Vec<DraftRecord> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM drafts WHERE platform_id = {ACTIVE} AND user_id = $2 ORDER BY id DESC"
        ))
        .bind(session.id)
        .bind(session.user_id)
        .fetch_all(self.db().reader())
        .await?;
        Ok(records.into_iter().map(Draft::from).collect())
    }

    #[tracing::instrument(skip_all, fields(session = %session.public_id))]
    pub async fn add_draft(&self, session: &Session, title: DraftTitle, body: DraftBody) -> Result<Draft> {
        let (session_id, user_id, now) = (session.id, session.user_id, self.now());
        self.db()
            .transaction(move |c| {
                Box::pin(async move {
                    let active: Option<PlatformId> = sqlx::query_scalar(&format!("SELECT {ACTIVE}"))
                        .bind(session_id)
                        .fetch_one(&mut *c)
                        .await?;
                    let platform_id = active.ok_or(Error::NoActivePlatform)?;
                    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM drafts WHERE platform_id = $1")
                        .bind(platform_id)
                        .fetch_one(&mut *c)
                        .await?;
                    if count >= MAX_DRAFTS_PER_PLATFORM {
                        return Err(Error::LimitReached(format!(
                            "at most {MAX_DRAFTS_PER_PLATFORM} drafts per platform"
                        )));
                    }
                    let record: DraftRecord = sqlx::query_as(&format!(
                        "INSERT INTO drafts (user_id, platform_id, title, body, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $5) RETURNING {COLUMNS}"
                    ))
                    .bind(user_id)
                    .bind(platform_id)
                    .bind(title)
                    .bind(body)
                    .bind(now)
                    .fetch_one(&mut *c)
                    .await?;
                    Ok(Draft::from(record))
                })
            })
            .await
    }

    /// Edits a draft of the active platform; a draft of another platform or user is `NotFound`.
    #[tracing::instrument(skip_all, fields(session = %session.public_id, draft_id = %draft_id))]
    pub async fn edit_draft(&self, session: &Session, draft_id: DraftId, title: DraftTitle, body: DraftBody) -> Result<Draft> {
        let record: DraftRecord = sqlx::query_as(&format!(
            "UPDATE drafts SET title = $3, body = $4, updated_at = $5 \
             WHERE id = $6 AND user_id = $2 AND platform_id = {ACTIVE} RETURNING {COLUMNS}"
        ))
        .bind(session.id)
        .bind(session.user_id)
        .bind(title)
        .bind(body)
        .bind(self.now())
        .bind(draft_id)
        .fetch_optional(self.db().writer())
        .await?
        .ok_or(Error::NotFound(Entity::Draft))?;
        Ok(record.into())
    }

    #[tracing::instrument(skip_all, fields(session = %session.public_id, draft_id = %draft_id))]
    pub async fn delete_draft(&self, session: &Session, draft_id: DraftId) -> Result<()> {
        let deleted = sqlx::query(&format!(
            "DELETE FROM drafts WHERE id = $3 AND user_id = $2 AND platform_id = {ACTIVE}"
        ))
        .bind(session.id)
        .bind(session.user_id)
        .bind(draft_id)
        .execute(self.db().writer())
        .await?;
        if deleted.rows_affected() == 0 {
            return Err(Error::NotFound(Entity::Draft));
        }
        Ok(())
    }
}
