//! docs/DEPLOYMENT.md's "Upgrading, and rolling back", followed step by step with the real tools
//! (`sqlite3`, `pg_dump`, `pg_restore`, `psql`, this build's `switchboard`) on both databases: a
//! database at the previous release's schema (every migration but the last) with an account in
//! it is backed up, migrated and used by this build, then restored; the previous schema and its
//! data come back exactly, what was written after the backup is gone, and the upgrade can be
//! made again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use switchboard::testing::TestDatabase;

/// Runs `program` with `args`, feeding `stdin`; panics with its output unless it succeeds.
fn run(program: &str, args: &[&str], env: &[(&str, &str)], stdin: &str) -> String {
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} could not start ({e}): `make test` installs it"));
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{program} {args:?} failed: {stdout}{stderr}");
    stdout.into_owned()
}

/// This build's `switchboard` on `url`.
fn switchboard(url: &str, args: &[&str], stdin: &str) -> String {
    run(
        env!("CARGO_BIN_EXE_switchboard"),
        args,
        &[("SWITCHBOARD_PROFILE", "test"), ("SWITCHBOARD_DATABASE_URL", url)],
        stdin,
    )
}

/// The migrations of `backend` (`sqlite`, `postgres`) in order.
fn migrations(backend: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(backend);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

/// Applies every migration of `backend` but the last, as the previous release left the database,
/// and adds an account; returns the previous release's last migration's version.
async fn previous_release(url: &str, backend: &str, scratch: &Path) -> i64 {
    let all = migrations(backend);
    let dir = scratch.join("previous-migrations");
    std::fs::create_dir_all(&dir).unwrap();
    for file in &all[..all.len() - 1] {
        std::fs::copy(file, dir.join(file.file_name().unwrap())).unwrap();
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let previous = sqlx::migrate::Migrator::new(dir.as_path()).await.unwrap();
    previous.run(&pool).await.unwrap();
    sqlx::query(
        "INSERT INTO users (email, display_name, password_hash, is_admin, created_at) VALUES ('before@example.org', 'Before', 'x', 0, 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let version = previous.iter().last().unwrap().version;
    pool.close().await;
    version
}

/// The applied migrations' versions and the accounts' emails, as they are now: read with the
/// database's own client, so no connection of this process is open while the files change.
fn schema_and_accounts(backend: &str, url: &str, file: &str) -> (String, String) {
    let out = match backend {
        "sqlite" => {
            let sql = "SELECT 'versions', group_concat(version) FROM (SELECT version FROM _sqlx_migrations ORDER BY version); \
                       SELECT 'emails', group_concat(email) FROM (SELECT email FROM users ORDER BY email);";
            run("sqlite3", &["-batch", "-separator", " ", file, sql], &[], "")
        }
        _ => {
            let sql = "SELECT 'versions', string_agg(version::TEXT, ',' ORDER BY version) FROM _sqlx_migrations \
                       UNION ALL SELECT 'emails', string_agg(email, ',' ORDER BY email) FROM users";
            run("psql", &[url, "-v", "ON_ERROR_STOP=1", "-AtF", " ", "-c", sql], &[], "")
        }
    };
    let value = |name: &str| {
        out.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name} in {out:?}"))
            .to_owned()
    };
    (value("versions"), value("emails"))
}

async fn upgrade_and_roll_back(backend: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let database = match backend {
        "sqlite" => TestDatabase::sqlite().await,
        _ => TestDatabase::postgres().await,
    };
    let url = match backend {
        "sqlite" => format!("{}?mode=rwc", database.url()),
        _ => database.url().to_owned(),
    };
    let file = database.url().trim_start_matches("sqlite://").to_owned();
    let previous = previous_release(&url, backend, scratch.path()).await;
    let before = schema_and_accounts(backend, &url, &file);
    assert!(before.0.ends_with(&format!(",{previous}")), "{before:?}");
    assert_eq!(before.1, "before@example.org");

    // 1. Back up.
    let backup = scratch.path().join("before-upgrade");
    let backup = backup.to_str().unwrap();
    let schema = url
        .rsplit_once("search_path%3D")
        .map(|(_, schema)| schema.to_owned())
        .unwrap_or_default();
    match backend {
        "sqlite" => run("sqlite3", &[&file, &format!(".backup {backup}")], &[], ""),
        _ => run(
            "pg_dump",
            &["--format=custom", &format!("--file={backup}"), &format!("--schema={schema}"), &url],
            &[],
            "",
        ),
    };

    // 2. Upgrade, and use it.
    switchboard(&url, &["migrate"], "");
    switchboard(&url, &["user", "add", "--email", "after@example.org"], "a long enough password\n");
    let upgraded = schema_and_accounts(backend, &url, &file);
    assert_eq!(
        upgraded.0.split(',').count(),
        migrations(backend).len(),
        "every migration applied: {upgraded:?}"
    );
    assert_eq!(upgraded.1, "after@example.org,before@example.org");

    // 3. Roll back: restore the backup.
    match backend {
        "sqlite" => {
            for stale in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{file}{stale}"));
            }
            std::fs::copy(backup, &file).unwrap();
        }
        _ => {
            run(
                "psql",
                &[&url, "-v", "ON_ERROR_STOP=1", "-qc", &format!("DROP SCHEMA {schema} CASCADE")],
                &[],
                "",
            );
            run("pg_restore", &[&format!("--dbname={url}"), backup], &[], "");
        }
    }
    assert_eq!(
        schema_and_accounts(backend, &url, &file),
        before,
        "the previous schema and data, exactly"
    );

    // And the upgrade can be made again.
    switchboard(&url, &["migrate"], "");
    assert_eq!(schema_and_accounts(backend, &url, &file).0, upgraded.0);
}

#[tokio::test]
async fn sqlite_upgrade_and_roll_back_as_documented() {
    upgrade_and_roll_back("sqlite").await;
}

#[tokio::test]
async fn postgres_upgrade_and_roll_back_as_documented() {
    upgrade_and_roll_back("postgres").await;
}
