//! The state a page needs, and switching the active platform with a compare-and-set.

use super::*;
use crate::audit::{bind_entry, insert_entry_sql, slot, Outcome, SWITCH_CONFLICTS};
use crate::store::Backend;
use std::sync::LazyLock;

/// A switch's update: `$1` the platform, `$2` the session, `$3` its user, `$4` the expected
/// version (NULL: any).
fn switch_update() -> String {
    format!(
        "UPDATE sessions SET active_platform_id = $1, version = version + 1 \
         WHERE id = $2 AND ended_at IS NULL AND version = COALESCE($4, version) \
         AND EXISTS (SELECT 1 FROM platforms WHERE id = $1 AND user_id = $3) RETURNING {SESSION_COLUMNS}"
    )
}

/// The update and its audit row as one statement list on SQLite (`changes()`: the rows the
/// update itself changed, not its triggers').
static SWITCH_SQLITE: LazyLock<String> = LazyLock::new(|| format!("{}; {}", switch_update(), insert_entry_sql(5, " WHERE changes() = 1")));

/// The same as one statement on PostgreSQL.
static SWITCH_POSTGRES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH switched AS ({}), audited AS ({}) SELECT * FROM switched",
        switch_update(),
        insert_entry_sql(5, " FROM switched")
    )
});

impl Engine {
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
    /// One statement list on success, the update and its audit row: ownership is checked inside
    /// the update, and the audit row is written only if it changed the session. It is one trip
    /// to the database (on SQLite, to its one writer, with this work's savepoint), because
    /// every other writer waits while it runs. Then the new state's reads (the user, the
    /// platforms); one more read only to explain a refusal.
    pub async fn switch_platform(
        &self,
        session: &Session,
        meta: &ClientMeta,
        platform_id: PlatformId,
        expected_version: Option<SessionVersion>,
    ) -> Result<SessionState> {
        let switched = self.switch_platform_session(session, meta, platform_id, expected_version).await?;
        self.state_of(switched).await
    }

    /// [`Engine::switch_platform`] without the reads of the new state: the session as switched.
    /// For a caller that builds the state with what it already has (the web layer has the user,
    /// read with the session, so only the platforms are read).
    #[tracing::instrument(skip_all, fields(session = %session.public_id, platform_id = %platform_id))]
    pub async fn switch_platform_session(
        &self,
        session: &Session,
        meta: &ClientMeta,
        platform_id: PlatformId,
        expected_version: Option<SessionVersion>,
    ) -> Result<Session> {
        let sql: &'static str = match self.db().backend() {
            Backend::Sqlite => &SWITCH_SQLITE,
            Backend::Postgres => &SWITCH_POSTGRES,
        };
        let (now, id, user) = (self.now(), session.id, session.user_id);
        let audit = AuditEntry::by_session(AuditKind::PlatformSwitched, session, meta).detail(format!("platform {platform_id}"));
        let switched: Option<SessionRecord> = self
            .db()
            .transaction_opening(move |c, begin| {
                Box::pin(async move {
                    let sql = format!("{begin} {sql}");
                    let query = sqlx::query_as(&sql).bind(platform_id).bind(id).bind(user).bind(expected_version);
                    // Every row: a statement list runs to its end only if all of it is read.
                    let mut rows: Vec<SessionRecord> = bind_entry!(query, now, &audit).fetch_all(&mut *c).await?;
                    Ok(rows.pop())
                })
            })
            .await?;
        if let Some(record) = switched {
            self.db().tally().add(slot(AuditKind::PlatformSwitched, Outcome::Ok), 1);
            let session = self.policy().session(record)?;
            tracing::info!(version = %session.version, "platform switched");
            return Ok(session);
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
            Some(expected) if expected != current.version => {
                self.db().tally().add(SWITCH_CONFLICTS, 1);
                Err(Error::VersionConflict {
                    expected,
                    current: Box::new(self.state_of(current).await?),
                })
            }
            _ => Err(Error::NotFound(Entity::Platform)),
        }
    }
}
