//! `switchboard`: serve the app, migrate the database, add users, check the configuration.

use clap::{Parser, Subcommand};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use switchboard::domain::{DisplayName, Email, Password};
use switchboard_server::config::{LogFormat, Profile, Settings};
use switchboard_server::maintenance::MaintenanceCommand;

#[derive(Parser)]
#[command(name = "switchboard", version, about = "Session management for multi-platform web apps")]
struct Cli {
    /// A TOML settings file (default: ./switchboard.toml if it exists).
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    /// dev, test or prod.
    #[arg(long, global = true, env = "SWITCHBOARD_PROFILE", default_value = "dev")]
    profile: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the app (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Clean up, look at the sessions, optimize the database (beside a running server too).
    Maintenance {
        #[command(subcommand)]
        command: MaintenanceCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account. The password is read from standard input (one line).
    Add {
        #[arg(long)]
        email: String,
        /// Display name (default: the part of the email before @).
        #[arg(long)]
        name: Option<String>,
        /// Make the account an administrator (the /admin pages and /api/admin/*).
        #[arg(long)]
        admin: bool,
    },
    /// Grant or revoke the administrator role of an existing account.
    Admin {
        /// The account's email.
        email: String,
        #[arg(long, conflicts_with = "revoke", required_unless_present = "revoke")]
        grant: bool,
        #[arg(long)]
        revoke: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the settings and print the effective values (secrets masked).
    Check,
}

fn load_settings(cli: &Cli) -> Result<Settings, String> {
    let profile = Profile::parse(&cli.profile).map_err(|e| e.to_string())?;
    let default_file = PathBuf::from("switchboard.toml");
    let file = cli.config.clone().or_else(|| default_file.exists().then_some(default_file));
    let env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("SWITCHBOARD_")).collect();
    Settings::load(profile, file.as_deref(), &env).map_err(|e| e.to_string())
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log).unwrap_or_else(|_| "info".into());
    let lines = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    match settings.log_format {
        // Colours only for a person at a terminal: a file or a collector gets plain text.
        LogFormat::Text => lines.with_ansi(std::io::stdout().is_terminal()).init(),
        // One object a line, with the spans it happened in, outermost first: a request's first
        // (its id, method, path, session).
        LogFormat::Json => lines.json().with_current_span(false).with_span_list(true).init(),
    }
    // A panic anywhere (a handler, a render task) goes to the log with where it happened.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        tracing::error!(panic = %message, at = %at, "panicked");
    }));
}

/// glibc gives threads that allocate at the same moment arenas of their own, up to eight per
/// core, and what is freed in one arena is reused only there: the server's small allocations,
/// made and freed on tokio's threads and sqlx's SQLite threads, leave holes in each. One arena
/// per core is as many as the server's threads can use at once: 2 MiB less resident with
/// 100,000 cached sessions, and no slower (docs/BENCHMARKS.md). `MALLOC_ARENA_MAX`, when set,
/// wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY: `mallopt` only sets a tuning parameter of the allocator; it is called before
        // any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, i32::try_from(cores).unwrap_or(i32::MAX));
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    let settings = match load_settings(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings).await,
            Command::Migrate => migrate(settings).await,
            Command::User {
                command: UserCommand::Add { email, name, admin },
            } => add_user(settings, email, name, admin).await,
            Command::User {
                command: UserCommand::Admin { email, grant, .. },
            } => set_admin(settings, email, grant).await,
            Command::Maintenance { command } => maintenance(settings, command).await,
            Command::Config {
                command: ConfigCommand::Check,
            } => {
                // A closed pipe (`| head`) is not an error worth a panic.
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}# ok: the settings are valid", settings.masked_toml());
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(settings: Settings) -> Result<(), String> {
    switchboard_server::open_database(&settings).await.map_err(|e| e.to_string())?;
    println!("migrations applied to {}", settings.database_url);
    Ok(())
}

async fn engine(settings: &Settings) -> Result<switchboard::Engine, String> {
    let db = switchboard_server::open_database(settings).await.map_err(|e| e.to_string())?;
    Ok(engine_on(db, settings))
}

/// The CLI's engine on `db`: the settings' session policy and the wall clock.
fn engine_on(db: switchboard::Db, settings: &Settings) -> switchboard::Engine {
    switchboard::Engine::new(db, settings.session_policy(), std::sync::Arc::new(switchboard::SystemClock))
}

/// Maintenance works on the schema as it is: it never migrates (that is `switchboard migrate`'s
/// decision), and refuses a schema this build does not match.
async fn maintenance(settings: Settings, command: MaintenanceCommand) -> Result<(), String> {
    let db = switchboard::Db::connect(settings.database_url.expose(), &settings.pool_settings())
        .await
        .map_err(|e| format!("cannot reach the database {}: {e}", settings.database_url))?;
    let pending = db
        .pending_migrations()
        .await
        .map_err(|e| format!("cannot read the schema's version: {e}"))?;
    if !pending.is_empty() {
        return Err(format!(
            "the database is {} migration(s) behind this build ({pending:?}): run `switchboard migrate` first",
            pending.len()
        ));
    }
    switchboard_server::maintenance::run(&settings, &engine_on(db, &settings), command).await
}

async fn set_admin(settings: Settings, email: String, grant: bool) -> Result<(), String> {
    let email = Email::parse(&email).map_err(|e| e.to_string())?;
    let user = engine(&settings).await?.set_admin(&email, grant).await.map_err(|e| match e {
        switchboard::Error::NotFound(_) => format!("no account with the email {}", email.as_str()),
        other => other.to_string(),
    })?;
    println!(
        "{} (id {}) {} an administrator",
        user.email.as_str(),
        user.id,
        if user.is_admin { "is now" } else { "is no longer" }
    );
    Ok(())
}

async fn add_user(settings: Settings, email: String, name: Option<String>, admin: bool) -> Result<(), String> {
    let email = Email::parse(&email).map_err(|e| e.to_string())?;
    let name = name.unwrap_or_else(|| email.as_str().split('@').next().unwrap_or("user").to_owned());
    let name = DisplayName::parse(&name).map_err(|e| e.to_string())?;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password for {} (input is shown; pipe it in to avoid that): ", email.as_str());
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    let password = Password::parse_new(line.trim_end_matches(['\r', '\n'])).map_err(|e| e.to_string())?;
    let engine = engine(&settings).await?;
    let mut user = engine.register(&email, password, &name).await.map_err(|e| e.to_string())?;
    if admin {
        user = engine.set_admin(&user.email, true).await.map_err(|e| e.to_string())?;
    }
    println!(
        "created {} (id {}){}",
        user.email.as_str(),
        user.id,
        if user.is_admin { " as administrator" } else { "" }
    );
    Ok(())
}

async fn serve(settings: Settings) -> Result<(), String> {
    init_logging(&settings);
    let profile = settings.profile();
    let bind = settings.bind;
    tracing::info!(profile = profile.as_str(), database = %settings.database_url, "starting");
    if !settings.site_root.join("pkg").is_dir() {
        tracing::warn!(site_root = %settings.site_root.display(), "no built site found: run `make build` first; pages will not hydrate");
    }
    let state = switchboard_server::build_default_state(settings).await.map_err(|e| e.to_string())?;
    if profile == Profile::Dev && switchboard::seed::seed_demo(&state.ctx.engine).await.map_err(|e| e.to_string())? {
        tracing::info!("seeded a demo account with two platforms");
    }
    switchboard_server::spawn_cleanup(&state);
    switchboard_server::spawn_alert_rules(&state);
    switchboard_server::spawn_dashboard(&state);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    if profile == Profile::Dev {
        tracing::info!(
            "sign in at http://{bind}/login as {} with password {} (dev profile demo account)",
            switchboard::seed::DEMO_EMAIL,
            switchboard::seed::DEMO_PASSWORD
        );
    }
    tracing::info!("listening on http://{bind}");
    if let (true, Some(metrics_bind)) = (state.settings.metrics.enabled, state.settings.metrics.bind) {
        let listener = tokio::net::TcpListener::bind(metrics_bind)
            .await
            .map_err(|e| format!("cannot listen on {metrics_bind} (metrics.bind): {e}"))?;
        tracing::info!("metrics on http://{metrics_bind}{}", switchboard_server::http::metrics::PATH);
        let app = switchboard_server::http::metrics::listener_router(state.clone());
        let limits = state.settings.http.clone();
        tokio::spawn(async move {
            switchboard_server::http::serve(listener, app, &limits, std::future::pending(), std::time::Duration::ZERO).await;
        });
    }
    let app = switchboard_server::http::router(state.clone());
    let grace = state.settings.shutdown_grace.0;
    let stop = {
        let state = state.clone();
        async move {
            shutdown_signal().await;
            state.begin_stop();
        }
    };
    switchboard_server::http::serve(listener, app, &state.settings.http, stop, grace).await;
    state.ctx.engine.db().close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C (SIGINT) or SIGTERM (what containers and systemd send).
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
