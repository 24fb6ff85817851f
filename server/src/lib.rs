//! The `switchboard` server: settings, start-up, the HTTP router and background maintenance.

pub mod alert_rules;
pub mod alerts;
pub mod cleanup;
pub mod config;
pub mod dashboard;
pub mod http;
pub mod maintenance;

pub use alert_rules::spawn_alert_rules;
pub use cleanup::spawn_cleanup;
pub use dashboard::spawn_dashboard;

use app::auth::ssr::{AppContext, CookiePolicy, Features};
use app::models::ClientSettings;
use axum::extract::FromRef;
use config::Settings;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use switchboard::csrf::CsrfKey;
use switchboard::secrets::SecretKey;
use switchboard::{Clock, Db, Engine, SystemClock};

/// Shared by every request. Cheap to clone: the layers and handlers clone it for every request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares.
pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub ctx: AppContext,
    pub settings: Arc<Settings>,
    /// The browser build, by its content-hashed name.
    pub assets: http::assets::Assets,
    /// When this process built its state (`switchboard_uptime_seconds`).
    pub started: std::time::Instant,
    /// How the cleanup task is doing (readiness and metrics).
    pub cleanup: Arc<cleanup::CleanupStatus>,
    /// Requests counted and timed by route (`/metrics`).
    pub requests: http::metrics::RequestMetrics,
    /// Becomes `true` when the server begins to stop: long-lived answers (push streams) end
    /// then, so they do not hold the stop up for the whole grace period.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Tells long-lived answers to end: the server is stopping.
    pub fn begin_stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Opens and migrates the database (without the session cache: see [`serving_database`]).
pub async fn open_database(settings: &Settings) -> Result<Db, switchboard::Error> {
    let db = Db::connect(settings.database_url.expose(), &settings.pool_settings()).await?;
    db.migrate().await?;
    Ok(db)
}

/// The database as the server uses it: opened, migrated, with the session cache on unless the
/// settings turn it off.
pub async fn serving_database(settings: &Settings) -> Result<Db, switchboard::Error> {
    let db = open_database(settings).await?;
    match settings.cache_settings() {
        Some(cache) => db.with_cache(cache).await,
        None => Ok(db),
    }
}

/// Builds the application state on an open database, with the given clock (the wall clock in
/// production; a manual one in tests of expiry).
pub async fn build_state(settings: Settings, db: Db, clock: Arc<dyn Clock>) -> Result<AppState, switchboard::Error> {
    let csrf = CsrfKey::load_or_create(&db).await?;
    let fingerprint_key = SecretKey::load_or_create(&db, "fingerprint_key_v1").await?;
    let engine = Engine::new(db, settings.session_policy(), clock)
        .with_defences(settings.throttle_policy(), settings.hash_limits())
        .with_alerts(settings.alert_policy(), alerts::webhook(&settings.alerts))
        .with_fingerprints(settings.fingerprint.clone(), fingerprint_key);
    let requests = http::metrics::RequestMetrics::default();
    let ctx = AppContext {
        engine,
        csrf,
        cookies: CookiePolicy {
            secure: settings.cookie_secure,
        },
        features: Features {
            registration: settings.features.registration,
        },
        client: ClientSettings {
            sync: settings.features.cross_tab_sync,
            registration: settings.features.registration,
            check_interval_ms: settings.sync_check_interval.millis(),
            idle_warning_ms: settings.idle_warning.millis(),
            push: settings.cache.enabled,
            report_every_ms: if settings.metrics.enabled {
                settings.metrics.client_report_interval.millis()
            } else {
                0
            },
        },
        dashboard: Arc::new(app::dashboard::History::new(
            settings.dashboard.history,
            settings.dashboard.interval.0,
        )),
        on_client_report: Arc::new(requests.client_report_observer()),
    };
    let assets = http::assets::Assets::load(&settings.site_root);
    let leptos_options = LeptosOptions::builder()
        .output_name(assets.output_name.as_str())
        .site_root(settings.site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(settings.bind)
        .build();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    ctx.engine.db().cache().on_notification_lag(requests.notification_lag_observer());
    Ok(AppState(Arc::new(Shared {
        leptos_options,
        ctx,
        settings: Arc::new(settings),
        assets,
        started: std::time::Instant::now(),
        cleanup: Arc::default(),
        requests,
        stopping,
        stop,
    })))
}

pub async fn build_default_state(settings: Settings) -> Result<AppState, switchboard::Error> {
    let db = serving_database(&settings).await?;
    build_state(settings, db, Arc::new(SystemClock)).await
}
