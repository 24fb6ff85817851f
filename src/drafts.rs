//! Platform-scoped content. Every operation acts on the session's active platform as the
//! database has it at that moment (a subquery on the session row), never on a platform the
//! client names, so content cannot leak across platforms or users.

use crate::clock::Timestamp;
use crate::domain::{parse_id, DraftBody, DraftTitle};
use crate::error::{Error, Result};
use crate::sessions::Session;
use crate::Engine;
use sqlx::any::AnyRow;
use sqlx::Row;

/// How many drafts one platform connection may hold.
pub const MAX_DRAFTS_PER_PLATFORM: i64 = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub id: i64,
    pub platform_id: i64,
    pub title: String,
    pub body: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const ACTIVE: &str = "(SELECT active_platform_id FROM sessions WHERE id = $1 AND ended_at IS NULL)";
const COLUMNS: &str = "id, platform_id, title, body, created_at, updated_at";

fn draft_from_row(row: &AnyRow) -> Result<Draft> {
    Ok(Draft {
        id: row.try_get("id")?,
        platform_id: row.try_get("platform_id")?,
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        created_at: Timestamp(row.try_get("created_at")?),
        updated_at: Timestamp(row.try_get("updated_at")?),
    })
}

impl Engine {
    /// The drafts of the active platform, newest first. Empty when no platform is active.
    pub async fn drafts(&self, session: &Session) -> Result<Vec<Draft>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM drafts WHERE platform_id = {ACTIVE} AND user_id = $2 ORDER BY id DESC"
        ))
        .bind(session.id)
        .bind(session.user_id)
        .fetch_all(self.db().reader())
        .await?
        .iter()
        .map(draft_from_row)
        .collect()
    }

    pub async fn add_draft(&self, session: &Session, title: DraftTitle, body: DraftBody) -> Result<Draft> {
        let (session_id, user_id, now) = (session.id, session.user_id, self.now());
        self.db()
            .transaction(move |c| {
                Box::pin(async move {
                    let active: Option<i64> = sqlx::query(&format!("SELECT {ACTIVE} AS p"))
                        .bind(session_id)
                        .fetch_one(&mut *c)
                        .await?
                        .try_get("p")?;
                    let platform_id = active.ok_or(Error::NoActivePlatform)?;
                    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM drafts WHERE platform_id = $1")
                        .bind(platform_id)
                        .fetch_one(&mut *c)
                        .await?
                        .try_get("n")?;
                    if count >= MAX_DRAFTS_PER_PLATFORM {
                        return Err(Error::LimitReached(format!(
                            "at most {MAX_DRAFTS_PER_PLATFORM} drafts per platform"
                        )));
                    }
                    let row = sqlx::query(&format!(
                        "INSERT INTO drafts (user_id, platform_id, title, body, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $5) RETURNING {COLUMNS}"
                    ))
                    .bind(user_id)
                    .bind(platform_id)
                    .bind(title.as_str())
                    .bind(body.as_str())
                    .bind(now.millis())
                    .fetch_one(&mut *c)
                    .await?;
                    draft_from_row(&row)
                })
            })
            .await
    }

    /// Edits a draft of the active platform; a draft of another platform or user is `NotFound`.
    pub async fn edit_draft(&self, session: &Session, draft_id: i64, title: DraftTitle, body: DraftBody) -> Result<Draft> {
        let draft_id = parse_id("draft_id", draft_id)?;
        let row = sqlx::query(&format!(
            "UPDATE drafts SET title = $3, body = $4, updated_at = $5 \
             WHERE id = $6 AND user_id = $2 AND platform_id = {ACTIVE} RETURNING {COLUMNS}"
        ))
        .bind(session.id)
        .bind(session.user_id)
        .bind(title.as_str())
        .bind(body.as_str())
        .bind(self.now().millis())
        .bind(draft_id)
        .fetch_optional(self.db().writer())
        .await?
        .ok_or(Error::NotFound("draft"))?;
        draft_from_row(&row)
    }

    pub async fn delete_draft(&self, session: &Session, draft_id: i64) -> Result<()> {
        let draft_id = parse_id("draft_id", draft_id)?;
        let deleted = sqlx::query(&format!(
            "DELETE FROM drafts WHERE id = $3 AND user_id = $2 AND platform_id = {ACTIVE}"
        ))
        .bind(session.id)
        .bind(session.user_id)
        .bind(draft_id)
        .execute(self.db().writer())
        .await?;
        if deleted.rows_affected() == 0 {
            return Err(Error::NotFound("draft"));
        }
        Ok(())
    }
}
