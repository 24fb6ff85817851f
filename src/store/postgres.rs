//! PostgreSQL, for many server instances on one database: one pool for reads and writes.
//! Switches stay compare-and-set `UPDATE`s, safe at the default isolation level.

use super::PoolSettings;
use crate::error::{Error, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

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
