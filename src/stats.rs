//! Figures about sessions for operators: `/metrics` and `switchboard maintenance stats`.

use crate::engine::Engine;
use crate::error::Result;

impl Engine {
    /// Sessions that are live now: not ended, and within both their idle and absolute deadlines
    /// (a session past a deadline the cleanup has not reached yet is not counted).
    pub async fn live_session_count(&self) -> Result<u64> {
        let now = self.now();
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM sessions s WHERE {LIVE}"))
            .bind(self.policy().idle_cutoff(now))
            .bind(now)
            .fetch_one(self.db().reader())
            .await?;
        Ok(count.max(0) as u64)
    }
}

/// What `switchboard maintenance stats` prints: the live sessions and how they are spread.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionStats {
    /// Sessions live now (as [`Engine::live_session_count`]).
    pub live: u64,
    /// Sessions ended and not yet deleted.
    pub ended: u64,
    /// Live sessions by the kind of their active platform (`none`: no platform chosen).
    pub by_platform: Vec<(String, u64)>,
    /// Ended sessions by how long they lasted, from login to end.
    pub lengths: Vec<(&'static str, u64)>,
    /// The accounts with the most live sessions, most first: (email, sessions).
    pub top_users: Vec<(String, u64)>,
}

/// The buckets of [`SessionStats::lengths`]: each one's label and its upper bound in ms.
const LENGTHS: [(&str, i64); 5] = [
    ("under 5 minutes", 5 * 60_000),
    ("5 minutes to 1 hour", 3_600_000),
    ("1 to 4 hours", 4 * 3_600_000),
    ("4 to 12 hours", 12 * 3_600_000),
    ("12 hours or more", i64::MAX),
];

/// A live session, as SQL on `sessions s` (binds: `$1` the idle cut-off, `$2` now).
const LIVE: &str = "s.ended_at IS NULL AND s.last_seen_at > $1 AND s.absolute_expires_at > $2";

impl Engine {
    /// Live sessions, by platform kind and by account (the top `top`), and how long ended ones
    /// lasted.
    pub async fn session_stats(&self, top: u32) -> Result<SessionStats> {
        let now = self.now();
        let cutoff = self.policy().idle_cutoff(now);
        let reader = self.db().reader();
        let by_platform: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT COALESCE(p.kind, 'none') AS kind, COUNT(*) FROM sessions s \
             LEFT JOIN platforms p ON p.id = s.active_platform_id WHERE {LIVE} \
             GROUP BY COALESCE(p.kind, 'none') ORDER BY COUNT(*) DESC, kind"
        ))
        .bind(cutoff)
        .bind(now)
        .fetch_all(reader)
        .await?;
        let top_users: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT u.email, COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE {LIVE} \
             GROUP BY u.email ORDER BY COUNT(*) DESC, u.email LIMIT $3"
        ))
        .bind(cutoff)
        .bind(now)
        .bind(i64::from(top))
        .fetch_all(reader)
        .await?;
        let bucket = LENGTHS
            .iter()
            .enumerate()
            .map(|(i, (_, below))| format!("WHEN s.ended_at - s.created_at < {below} THEN {i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let lengths: Vec<(i64, i64)> = sqlx::query_as(&format!(
            "SELECT CAST(CASE {bucket} ELSE {} END AS BIGINT) AS bucket, COUNT(*) FROM sessions s \
             WHERE s.ended_at IS NOT NULL GROUP BY 1 ORDER BY 1",
            LENGTHS.len() - 1
        ))
        .fetch_all(reader)
        .await?;
        let count = |n: i64| n.max(0) as u64;
        let ended = lengths.iter().map(|(_, n)| count(*n)).sum();
        Ok(SessionStats {
            live: by_platform.iter().map(|(_, n)| count(*n)).sum(),
            ended,
            by_platform: by_platform.into_iter().map(|(kind, n)| (kind, count(n))).collect(),
            lengths: LENGTHS
                .iter()
                .enumerate()
                .map(|(i, (label, _))| (*label, lengths.iter().find(|(b, _)| *b == i as i64).map_or(0, |(_, n)| count(*n))))
                .collect(),
            top_users: top_users.into_iter().map(|(email, n)| (email, count(n))).collect(),
        })
    }
}
