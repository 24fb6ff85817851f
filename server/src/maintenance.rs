//! `switchboard maintenance cleanup | stats | optimize`: the cleanup run by hand, figures about
//! the sessions, and the database's own upkeep. Each works beside a running server (SQLite's
//! writes wait their turn; the server's cache notices what changed) and fails with a message and
//! a non-zero exit when the database cannot be reached.

use crate::config::Settings;
use clap::Subcommand;
use std::io::{IsTerminal, Write};
use std::time::Instant;
use switchboard::cleanup::SweepReport;
use switchboard::Engine;

#[derive(Subcommand)]
pub enum MaintenanceCommand {
    /// Run the cleanup now, as the server's task does every cleanup_interval: end expired
    /// sessions, delete ended ones past session_retention and audit rows past
    /// audit.retention_days. Shows its progress on a terminal.
    Cleanup,
    /// Print figures about the sessions: live, by platform, by length, the accounts with most.
    Stats {
        /// How many accounts to list.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
        top: u32,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Refresh the query planner's statistics (SQLite PRAGMA optimize; PostgreSQL VACUUM ANALYZE).
    Optimize {
        /// SQLite: also rebuild the file to give back the space of deleted rows (VACUUM; it holds
        /// the write lock while it runs, so requests' writes wait).
        #[arg(long)]
        vacuum: bool,
    },
}

/// Runs `command` on the database the settings name.
pub async fn run(settings: &Settings, engine: &Engine, command: MaintenanceCommand) -> Result<(), String> {
    match command {
        MaintenanceCommand::Cleanup => cleanup(settings, engine).await,
        MaintenanceCommand::Stats { top, json } => stats(engine, top, json).await,
        MaintenanceCommand::Optimize { vacuum } => {
            let started = Instant::now();
            let ran = engine.db().optimize(vacuum).await.map_err(|e| e.to_string())?;
            for statement in ran {
                println!("ran {statement}");
            }
            println!("optimized in {:.1} s", started.elapsed().as_secs_f64());
            Ok(())
        }
    }
}

async fn cleanup(settings: &Settings, engine: &Engine) -> Result<(), String> {
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let show = |r: SweepReport| {
        if terminal {
            eprint!(
                "\rcleanup: {} sessions ended as expired, {} old sessions deleted …",
                r.expired, r.deleted
            );
            let _ = std::io::stderr().flush();
        }
    };
    let report = engine
        .sweep_sessions_reporting(settings.session_retention.0, settings.cleanup_batch, &show)
        .await
        .map_err(|e| e.to_string())?;
    if terminal {
        eprintln!();
    }
    let audit = engine
        .sweep_audit(settings.audit_retention(), settings.cleanup_batch)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{} sessions ended as expired, {} ended sessions deleted (older than {}), {} audit rows deleted (older than {} days), in {:.1} s",
        report.expired,
        report.deleted,
        settings.session_retention,
        audit,
        settings.audit.retention_days,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn stats(engine: &Engine, top: u32, json: bool) -> Result<(), String> {
    let stats = engine.session_stats(top).await.map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let printed = if json {
        writeln!(out, "{}", serde_json::to_string(&stats).map_err(|e| e.to_string())?)
    } else {
        let mut text = format!(
            "live sessions: {}\nended sessions kept: {}\n\nlive sessions by active platform:\n",
            stats.live, stats.ended
        );
        for (kind, n) in &stats.by_platform {
            text.push_str(&format!("  {kind:<10} {n}\n"));
        }
        text.push_str("\nended sessions by length:\n");
        for (bucket, n) in &stats.lengths {
            text.push_str(&format!("  {bucket:<20} {n}\n"));
        }
        text.push_str(&format!("\naccounts with the most live sessions (top {top}):\n"));
        for (email, n) in &stats.top_users {
            text.push_str(&format!("  {n:>6}  {email}\n"));
        }
        write!(out, "{text}")
    };
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = printed;
    Ok(())
}
