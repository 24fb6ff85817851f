//! SQLite, the embedded default. WAL mode with `synchronous = FULL`, so a committed logout or
//! revocation survives a crash or power cut. Writes go through a pool of exactly one connection
//! and open with `BEGIN IMMEDIATE`, so concurrent requests queue in the process instead of failing
//! with "database is locked"; other processes (the CLI) wait up to the busy timeout. Reads use
//! their own pool and never wait for writers (WAL).

use super::PoolSettings;
use crate::error::{Error, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

/// How a write transaction starts: take the write lock at once, not at the first write.
pub(super) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// The read pool and the one-connection write pool.
pub(super) async fn connect(url: &str, settings: &PoolSettings) -> Result<(AnyPool, AnyPool)> {
    let url = prepare_url(url)?;
    let busy_ms = settings.busy_timeout.as_millis() as u64;
    let options = move |max: u32, min: u32| {
        AnyPoolOptions::new()
            .max_connections(max)
            .min_connections(min)
            .acquire_timeout(settings.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    conn.execute(
                        format!(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA busy_timeout = {busy_ms}; PRAGMA foreign_keys = ON;"
                        )
                        .as_str(),
                    )
                    .await?;
                    Ok(())
                })
            })
    };
    let failed = |e: sqlx::Error| Error::Internal(format!("cannot open the sqlite database: {e}"));
    let write = options(1, 0).connect(&url).await.map_err(failed)?;
    let read = options(settings.max_connections.max(1), settings.min_connections)
        .connect(&url)
        .await
        .map_err(failed)?;
    Ok((read, write))
}

/// Turns `sqlite://data/x.db` into a URL that creates the file, and makes its folder.
fn prepare_url(url: &str) -> Result<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
        return Err(Error::invalid(
            "database_url",
            "SQLite needs a file path, e.g. sqlite://data/switchboard.db",
        ));
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::invalid("database_url", format!("cannot create {}: {e}", parent.display())))?;
        }
    }
    let query = if query.contains("mode=") {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".into()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_create_the_file_and_reject_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/db.sqlite");
        let url = prepare_url(&format!("sqlite://{}", path.display())).unwrap();
        assert!(url.ends_with("?mode=rwc"), "{url}");
        assert!(path.parent().unwrap().is_dir());
        assert!(prepare_url("sqlite::memory:").is_err());
        assert!(prepare_url("sqlite://x.db?mode=memory").is_err());
    }
}
