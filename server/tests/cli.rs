//! The `switchboard` binary's subcommands, run as a user would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn switchboard(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn config_check_prints_settings_with_secrets_masked() {
    let out = switchboard(
        &["config", "check"],
        &[
            ("SWITCHBOARD_DATABASE_URL", "postgres://app:hunter2@db/sb"),
            ("SWITCHBOARD_IDLE_TIMEOUT", "20m"),
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("idle_timeout = \"20m\""), "{stdout}");
    assert!(stdout.contains("postgres://app:****@db/sb"), "{stdout}");
    assert!(!stdout.contains("hunter2"));
}

#[test]
fn bad_settings_stop_with_the_key_named() {
    let out = switchboard(&["config", "check"], &[("SWITCHBOARD_ABSOLUTE_LIFETIME", "forever")], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("absolute_lifetime"), "{}", text(&out.stderr));
    let out = switchboard(
        &["config", "check"],
        &[("SWITCHBOARD_PROFILE", "prod"), ("SWITCHBOARD_COOKIE_SECURE", "false")],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cookie_secure"), "{}", text(&out.stderr));
    let out = switchboard(&["serve"], &[("SWITCHBOARD_PROFILE", "staging")], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("profile"));
}

#[test]
fn migrate_and_add_users() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/nested/sb.db", dir.path().display());
    let env = [("SWITCHBOARD_DATABASE_URL", url.as_str()), ("SWITCHBOARD_PROFILE", "test")];
    let out = switchboard(&["migrate"], &env, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("nested/sb.db").exists());

    let out = switchboard(
        &["user", "add", "--email", "Root@Example.org", "--admin"],
        &env,
        "a long admin password\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("created root@example.org"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("as administrator"), "{}", text(&out.stdout));

    let out = switchboard(&["user", "add", "--email", "ann@example.org"], &env, "a long user password\n");
    assert!(
        out.status.success() && !text(&out.stdout).contains("administrator"),
        "{}",
        text(&out.stdout)
    );
    let out = switchboard(&["user", "admin", "ann@example.org", "--grant"], &env, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("is now an administrator"), "{}", text(&out.stdout));
    let out = switchboard(&["user", "admin", "ANN@example.org", "--revoke"], &env, "");
    assert!(text(&out.stdout).contains("is no longer an administrator"), "{}", text(&out.stdout));
    let out = switchboard(&["user", "admin", "nobody@example.org", "--grant"], &env, "");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no account with the email nobody@example.org"),
        "{}",
        text(&out.stderr)
    );
    let out = switchboard(&["user", "admin", "ann@example.org"], &env, "");
    assert_eq!(out.status.code(), Some(2), "--grant or --revoke is required");

    let again = switchboard(&["user", "add", "--email", "root@example.org"], &env, "another long password\n");
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already exists"), "{}", text(&again.stderr));

    let short = switchboard(&["user", "add", "--email", "x@example.org"], &env, "short\n");
    assert!(!short.status.success());
    assert!(text(&short.stderr).contains("password"), "{}", text(&short.stderr));
}
