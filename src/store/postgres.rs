//! PostgreSQL, for many server instances on one database: one pool for reads and writes.
//! Switches stay compare-and-set `UPDATE`s, safe at the default isolation level.
//!
//! The session cache hears about writes on the channel `switchboard_changes_<schema>` (migration
//! 0007 sends the changed user's id from a trigger): [`ChangeListener`] holds one connection per
//! instance listening on it, and [`changed_users`] tells the writing instance what its own
//! transaction changed.

use super::PoolSettings;
use crate::cache::SessionCache;
use crate::error::{Error, Result};
use crate::ids::UserId;
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgListener;
use sqlx::{AnyConnection, AnyPool};
use std::sync::Arc;
use std::time::Duration;

/// The read and write pools: the same pool twice.
pub(super) async fn connect(url: &str, settings: &PoolSettings) -> Result<(AnyPool, AnyPool)> {
    let pool = AnyPoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        .min_connections(settings.min_connections)
        .acquire_timeout(settings.acquire_timeout)
        .connect(url)
        .await
        .map_err(|e| Error::Internal(format!("cannot open the postgres database: {e}")))?;
    Ok((pool.clone(), pool))
}

/// [`super::Db::side`]: one connection beside the pool, opened when first used.
pub(super) fn side_pool(url: &str, settings: &PoolSettings) -> Result<AnyPool> {
    AnyPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(settings.acquire_timeout)
        .connect_lazy(url)
        .map_err(|e| Error::Internal(format!("cannot open the postgres database: {e}")))
}

/// The users the open transaction on `c` changed so far (collected by the trigger in the
/// transaction-local setting `switchboard.changed`, as `,1,2`).
pub(super) async fn changed_users(c: &mut AnyConnection) -> Result<Vec<UserId>> {
    let changed: Option<String> = sqlx::query_scalar("SELECT current_setting('switchboard.changed', true)")
        .fetch_one(&mut *c)
        .await?;
    Ok(changed
        .unwrap_or_default()
        .split(',')
        .filter_map(|id| id.parse().ok())
        .filter_map(|id| UserId::parse(id).ok())
        .collect())
}

/// How long the listener waits before connecting again after losing its connection.
const RECONNECT_AFTER: Duration = Duration::from_millis(250);

/// The instance's listening connection, run by a task of its own: while it listens the cache
/// serves, and every user named on the channel is forgotten; when the connection is lost the
/// cache stops serving (and empties) until a new connection listens again. Stopped by
/// [`ChangeListener::stop`] or when dropped.
pub(super) struct ChangeListener {
    stop: tokio::sync::watch::Sender<bool>,
}

impl ChangeListener {
    /// Connects (waiting for the first attempt, so a server starts with its cache serving) and
    /// keeps listening in the background. The cache starts serving, empty, each time a
    /// connection listens (here for the first, in `run` for the others).
    pub(super) async fn start(url: &str, cache: Arc<SessionCache>) -> Self {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let url = url.to_owned();
        let first = listen(&url).await;
        if first.is_ok() {
            cache.serve(true);
        }
        tokio::spawn(run(url, cache, first, stopped));
        Self { stop }
    }

    pub(super) fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// A notification's payload, `user_id,sent_ms` (migration 0008; before it, `user_id`): the user
/// whose state changed (`None`: unreadable, so everything is forgotten) and when the write was
/// made, in milliseconds since the Unix epoch on the database's clock.
fn parse_notification(payload: &str) -> (Option<UserId>, Option<i64>) {
    let (user, sent) = match payload.split_once(',') {
        Some((user, sent)) => (user, sent.parse().ok()),
        None => (payload, None),
    };
    (user.parse().ok().and_then(|id| UserId::parse(id).ok()), sent)
}

/// A connection listening on this schema's channel.
async fn listen(url: &str) -> Result<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    let schema: String = sqlx::query_scalar("SELECT current_schema()").fetch_one(&mut listener).await?;
    listener.listen(&format!("switchboard_changes_{schema}")).await?;
    Ok(listener)
}

async fn run(url: String, cache: Arc<SessionCache>, first: Result<PgListener>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let mut next = first;
    loop {
        match next {
            Ok(mut listener) => {
                tracing::info!("the session cache is listening for changes");
                loop {
                    tokio::select! {
                        _ = stopped.changed() => {
                            cache.serve(false);
                            return;
                        }
                        heard = listener.try_recv() => match heard {
                            Ok(Some(notification)) => {
                                let (user, sent_ms) = parse_notification(notification.payload());
                                match user {
                                    Some(user) => cache.forget_user(user),
                                    None => cache.forget_all(),
                                }
                                if let Some(sent_ms) = sent_ms {
                                    cache.heard(sent_ms);
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                tracing::warn!(error = %e, "the session cache's listener failed");
                                break;
                            }
                        },
                    }
                }
                cache.serve(false);
                tracing::warn!("the session cache lost its listener: serving from the database until it is back");
            }
            Err(e) => {
                cache.serve(false);
                tracing::warn!(error = %e, "the session cache cannot listen for changes: serving from the database");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RECONNECT_AFTER) => {}
            _ = stopped.changed() => return,
        }
        next = listen(&url).await;
        if next.is_ok() {
            cache.serve(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_name_the_user_and_may_say_when() {
        let user = |id| UserId::parse(id).ok();
        assert_eq!(parse_notification("42,1800000000123"), (user(42), Some(1_800_000_000_123)));
        assert_eq!(parse_notification("42"), (user(42), None));
        assert_eq!(parse_notification("42,soon"), (user(42), None));
        assert_eq!(parse_notification("x,1"), (None, Some(1)));
        assert_eq!(parse_notification(""), (None, None));
    }
}
