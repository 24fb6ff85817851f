//! Settings, layered with figment: the profile's defaults, then an optional TOML file, then
//! `SWITCHBOARD_*` environment variables. Validated once at start-up; a bad value stops the
//! server with a message naming the key and where it came from. Every default is written once,
//! in [`Settings::default`] (the session policy's and the pool's in the engine).

mod env;
mod sections;
mod validate;
mod values;

pub use sections::*;
pub use values::{mask_url_password, DatabaseUrl, Profile, Secret, Span, TrustedProxies};

use env::{config_error, EnvVars};

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Provider};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    #[serde(skip)]
    pub profile: Option<Profile>,
    /// `sqlite://path` (default `sqlite://data/switchboard.db`) or `postgres://...`.
    pub database_url: DatabaseUrl,
    pub bind: SocketAddr,
    pub idle_timeout: Span,
    pub absolute_lifetime: Span,
    /// How often a session's last-seen time may be written.
    pub touch_interval: Span,
    /// Cookies only over HTTPS, with the `__Host-` prefix. Required in prod.
    pub cookie_secure: bool,
    /// The origin browsers use, e.g. `https://switchboard.example.org`; when unset, the request's
    /// Host header is the expected origin.
    pub public_origin: Option<String>,
    /// How long before the idle timeout the browser warns and offers "Stay signed in".
    pub idle_warning: Span,
    /// How often the leader tab of each browser checks the session with the server.
    pub sync_check_interval: Span,
    /// How often ended and expired sessions are cleaned up.
    pub cleanup_interval: Span,
    /// Rows the cleanup ends or deletes per short transaction (in chunks that give way to
    /// requests' writes on SQLite).
    pub cleanup_batch: u32,
    /// How long ended sessions are kept before deletion (for audits).
    pub session_retention: Span,
    /// Where the built site (WASM, JS, CSS, assets) is.
    pub site_root: PathBuf,
    /// A tracing filter, e.g. `info` or `switchboard=debug,info`.
    pub log: String,
    /// `text` (dev, test) or `json` (prod).
    pub log_format: LogFormat,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// After SIGTERM or Ctrl-C: how long requests in flight may take to finish.
    pub shutdown_grace: Span,
    /// The dev profile (a demo account with a published password, no `Secure` cookies) listens
    /// only on loopback unless this says otherwise.
    pub dev_allow_public_bind: bool,
    pub pool: PoolConfig,
    pub cache: CacheConfig,
    pub features: FeatureConfig,
    pub sessions: SessionsConfig,
    pub security: SecurityConfig,
    pub audit: AuditConfig,
    pub http: HttpConfig,
    pub throttle: ThrottleConfig,
    pub alerts: AlertsConfig,
    pub alert_rules: AlertRulesConfig,
    pub dashboard: DashboardConfig,
    pub metrics: MetricsConfig,
    /// Client fingerprints and what their drift does (see `switchboard::fingerprint`).
    pub fingerprint: switchboard::policy::FingerprintPolicy,
}

impl Default for Settings {
    /// Every default, once (the session policy's and the pool's come from the engine). Profiles
    /// change a few in [`Settings::defaults_for`].
    fn default() -> Self {
        let policy = switchboard::SessionPolicy::default();
        Self {
            profile: None,
            database_url: DatabaseUrl::new("sqlite://data/switchboard.db"),
            bind: SocketAddr::from(([127, 0, 0, 1], 3000)),
            idle_timeout: Span(policy.idle_timeout),
            absolute_lifetime: Span(policy.absolute_lifetime),
            touch_interval: Span(policy.touch_interval),
            cookie_secure: false,
            public_origin: None,
            idle_warning: Span(Duration::from_secs(2 * 60)),
            sync_check_interval: Span(Duration::from_secs(60)),
            cleanup_interval: Span(Duration::from_secs(10 * 60)),
            cleanup_batch: 100,
            session_retention: Span(Duration::from_secs(7 * 86_400)),
            site_root: PathBuf::from("target/site"),
            log: "info".into(),
            log_format: LogFormat::Text,
            max_body_bytes: 64 * 1024,
            shutdown_grace: Span(Duration::from_secs(10)),
            dev_allow_public_bind: false,
            pool: PoolConfig::default(),
            cache: CacheConfig::default(),
            features: FeatureConfig::default(),
            sessions: SessionsConfig::default(),
            security: SecurityConfig::default(),
            audit: AuditConfig::default(),
            http: HttpConfig::default(),
            throttle: ThrottleConfig::default(),
            alerts: AlertsConfig::default(),
            alert_rules: AlertRulesConfig::default(),
            dashboard: DashboardConfig::default(),
            metrics: MetricsConfig::default(),
            fingerprint: switchboard::policy::FingerprintPolicy::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid setting `{}`: {}", self.key, self.problem)
    }
}

impl std::error::Error for ConfigError {}

impl Settings {
    /// The defaults of a profile.
    pub fn defaults_for(profile: Profile) -> Settings {
        let mut s = Settings {
            profile: Some(profile),
            ..Settings::default()
        };
        match profile {
            Profile::Dev => {}
            Profile::Test => {
                s.log = "warn,switchboard=info".into();
                // Browser tests watch tabs check the session; a minute would make them slow.
                s.sync_check_interval = Span(Duration::from_secs(5));
            }
            Profile::Prod => {
                s.log_format = LogFormat::Json;
                s.cookie_secure = true;
                s.features.registration = false;
            }
        }
        s
    }

    /// Loads settings for `profile` from an optional TOML file and the given environment.
    pub fn load(profile: Profile, file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::defaults_for(profile)));
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).map_err(|e| ConfigError::new("config", format!("cannot read {}: {e}", path.display())))?;
            text.parse::<toml::Table>()
                .map_err(|e| ConfigError::new("config", format!("{} is not valid TOML: {e}", path.display())))?;
            figment = figment.merge(Toml::file_exact(path));
        }
        let mut settings: Settings = figment.merge(EnvVars(env)).extract().map_err(config_error)?;
        settings.profile = Some(profile);
        settings.validate()?;
        Ok(settings)
    }

    pub fn profile(&self) -> Profile {
        self.profile.unwrap_or(Profile::Dev)
    }

    /// The settings as TOML, with secrets masked (the password in a database URL).
    pub fn masked_toml(&self) -> String {
        let mut out = format!("# profile: {}\n", self.profile().as_str());
        out.push_str(&toml::to_string_pretty(self).unwrap_or_default());
        out
    }

    pub fn session_policy(&self) -> switchboard::SessionPolicy {
        switchboard::SessionPolicy {
            idle_timeout: self.idle_timeout.0,
            absolute_lifetime: self.absolute_lifetime.0,
            touch_interval: self.touch_interval.0,
            max_per_user: self.sessions.max_per_user,
            when_full: match self.sessions.when_full {
                WhenFull::EvictOldest => switchboard::WhenFull::EvictOldest,
                WhenFull::Refuse => switchboard::WhenFull::Refuse,
            },
            reauth_window: self.security.reauth_window.0,
        }
    }

    pub fn throttle_policy(&self) -> switchboard::throttle::ThrottlePolicy {
        let t = &self.throttle;
        switchboard::throttle::ThrottlePolicy {
            enabled: t.enabled,
            window: t.window.0,
            pair_limit: t.pair_limit,
            account_slow_after: t.account_slow_after,
            address_slow_after: t.address_slow_after,
            address_limit: t.address_limit,
            delay: t.delay.0,
            max_delay: t.max_delay.0,
            registration_limit: t.registration_limit,
            registration_window: t.registration_window.0,
        }
    }

    pub fn alert_policy(&self) -> switchboard::policy::AlertPolicy {
        let a = &self.alerts;
        switchboard::policy::AlertPolicy {
            enabled: a.enabled,
            window: a.window.0,
            failed_logins_per_account: a.failed_logins_per_account,
            failed_logins_per_address: a.failed_logins_per_address,
            new_sessions_per_account: a.new_sessions_per_account,
            csrf_failures_per_address: a.csrf_failures_per_address,
            ended_token_use: a.ended_token_use,
        }
    }

    pub fn hash_limits(&self) -> switchboard::hashing::HashLimits {
        switchboard::hashing::HashLimits {
            concurrency: self.security.hash_concurrency,
            queue: self.security.hash_queue,
        }
    }

    /// How long audit events are kept.
    pub fn audit_retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.audit.retention_days) * 86_400)
    }

    /// The session cache's size, or `None` when it is off.
    pub fn cache_settings(&self) -> Option<switchboard::cache::CacheSettings> {
        self.cache.enabled.then_some(switchboard::cache::CacheSettings {
            capacity: self.cache.capacity,
            ttl: self.cache.ttl.0,
        })
    }

    pub fn pool_settings(&self) -> switchboard::PoolSettings {
        switchboard::PoolSettings {
            max_connections: self.pool.max_connections,
            min_connections: self.pool.min_connections,
            acquire_timeout: self.pool.acquire_timeout.0,
            busy_timeout: self.pool.busy_timeout.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = Settings::load(Profile::Dev, None, &env(&[])).unwrap();
        assert_eq!(s.idle_timeout.0, Duration::from_secs(1800));
        assert_eq!(s.absolute_lifetime.0, Duration::from_secs(43_200));
        assert_eq!(s.database_url.expose(), "sqlite://data/switchboard.db");
        assert_eq!(s.bind.to_string(), "127.0.0.1:3000");
        assert!(!s.cookie_secure);
        assert_eq!(s.sync_check_interval.0, Duration::from_secs(60));
        assert_eq!(s.idle_warning.0, Duration::from_secs(120));
        assert_eq!(s.cleanup_batch, 100);
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(
            Settings::defaults_for(Profile::Prod).log_format,
            LogFormat::Json,
            "a collector reads prod's logs"
        );
        let json = Settings::load(Profile::Dev, None, &env(&[("SWITCHBOARD_LOG_FORMAT", "json")])).unwrap();
        assert_eq!(json.log_format, LogFormat::Json);
        let bad = Settings::load(Profile::Dev, None, &env(&[("SWITCHBOARD_LOG_FORMAT", "xml")])).unwrap_err();
        assert_eq!(bad.key, "log_format", "{bad}");
        let test = Settings::load(Profile::Test, None, &env(&[])).unwrap();
        assert_eq!(
            test.sync_check_interval.0,
            Duration::from_secs(5),
            "browser tests need short checks"
        );
    }

    #[test]
    fn environment_overrides_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("switchboard.toml");
        std::fs::write(
            &file,
            "idle_timeout = \"10m\"\nbind = \"127.0.0.1:4000\"\n[pool]\nmax_connections = 3\n",
        )
        .unwrap();
        let s = Settings::load(
            Profile::Test,
            Some(&file),
            &env(&[
                ("SWITCHBOARD_BIND", "127.0.0.1:5000"),
                ("SWITCHBOARD_POOL_ACQUIRE_TIMEOUT", "250ms"),
                ("SWITCHBOARD_FEATURE_REGISTRATION", "false"),
                ("SWITCHBOARD_TEST_POSTGRES_URL", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(s.idle_timeout.0, Duration::from_secs(600));
        assert_eq!(s.bind.to_string(), "127.0.0.1:5000");
        assert_eq!(s.pool.max_connections, 3);
        assert_eq!(s.pool.acquire_timeout.0, Duration::from_millis(250));
        assert!(!s.features.registration);
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases: &[(&str, &str, &str)] = &[
            ("SWITCHBOARD_IDLE_TIMEOUT", "soon", "idle_timeout"),
            ("SWITCHBOARD_BIND", "nowhere", "bind"),
            ("SWITCHBOARD_DATABASE_URL", "mysql://x", "database_url"),
            ("SWITCHBOARD_TOUCH_INTERVAL", "2h", "touch_interval"),
            ("SWITCHBOARD_POOL_MAX_CONNECTIONS", "0", "pool.max_connections"),
            ("SWITCHBOARD_IDLE_WARNING", "30m", "idle_warning"),
            ("SWITCHBOARD_SYNC_CHECK_INTERVAL", "500ms", "sync_check_interval"),
            ("SWITCHBOARD_SYNC_CHECK_INTERVAL", "2h", "sync_check_interval"),
            ("SWITCHBOARD_NO_SUCH_THING", "1", "no_such_thing"),
            ("SWITCHBOARD_SESSIONS_MAX_PER_USER", "0", "sessions.max_per_user"),
            ("SWITCHBOARD_SESSIONS_WHEN_FULL", "panic", "sessions.when_full"),
            ("SWITCHBOARD_SECURITY_REAUTH_WINDOW", "1s", "security.reauth_window"),
            ("SWITCHBOARD_AUDIT_RETENTION_DAYS", "0", "audit.retention_days"),
            ("SWITCHBOARD_FINGERPRINT_ON_LARGE", "explode", "fingerprint.on_large"),
            ("SWITCHBOARD_FINGERPRINT_IPV4_PREFIX", "33", "fingerprint.ipv4_prefix"),
            ("SWITCHBOARD_FINGERPRINT_MEDIUM_AT", "9", "fingerprint.large_at"),
            ("SWITCHBOARD_FINGERPRINT_ON_SMALL", "revoke", "fingerprint.on_large"),
            ("SWITCHBOARD_ALERTS_WEBHOOK_URL", "ftp://relay/hook", "alerts.webhook_url"),
            ("SWITCHBOARD_ALERTS_WEBHOOK_URL", "https://", "alerts.webhook_url"),
            ("SWITCHBOARD_ALERTS_WEBHOOK_CA_FILE", "/no/such/ca.pem", "alerts.webhook_ca_file"),
            ("SWITCHBOARD_ALERTS_WEBHOOK_CA_FILE", "Cargo.toml", "alerts.webhook_ca_file"),
            ("SWITCHBOARD_ALERT_RULES_INTERVAL", "10ms", "alert_rules.interval"),
            ("SWITCHBOARD_ALERT_RULES_WINDOW", "2d", "alert_rules.window"),
            ("SWITCHBOARD_ALERT_RULES_FAILED_LOGINS", "-1", "alert_rules.failed_logins"),
            ("SWITCHBOARD_ALERT_RULES_LISTENER_DOWN", "maybe", "alert_rules.listener_down"),
            ("SWITCHBOARD_DASHBOARD_INTERVAL", "100ms", "dashboard.interval"),
            (
                "SWITCHBOARD_METRICS_CLIENT_REPORT_INTERVAL",
                "500ms",
                "metrics.client_report_interval",
            ),
            ("SWITCHBOARD_DASHBOARD_HISTORY", "0", "dashboard.history"),
            ("SWITCHBOARD_METRICS_BEARER_TOKEN", "short", "metrics.bearer_token"),
            (
                "SWITCHBOARD_METRICS_BEARER_TOKEN",
                "has a space in it, so no",
                "metrics.bearer_token",
            ),
            ("SWITCHBOARD_METRICS_BIND", "127.0.0.1:3000", "metrics.bind"),
            ("SWITCHBOARD_METRICS_BIND", "somewhere", "metrics.bind"),
        ];
        for (var, value, key) in cases {
            let e = Settings::load(Profile::Dev, None, &env(&[(var, value)])).unwrap_err();
            assert!(e.key == *key || e.problem.contains(key), "{var}={value}: {e}");
        }
    }

    #[test]
    fn fingerprint_settings_read_from_the_environment() {
        let s = Settings::load(
            Profile::Dev,
            None,
            &env(&[
                ("SWITCHBOARD_FINGERPRINT_ENABLED", "false"),
                ("SWITCHBOARD_FINGERPRINT_NETWORK", "false"),
                ("SWITCHBOARD_FINGERPRINT_IPV6_PREFIX", "64"),
                ("SWITCHBOARD_FINGERPRINT_ON_MEDIUM", "alert"),
            ]),
        )
        .unwrap();
        let f = &s.fingerprint;
        assert!(!f.enabled && !f.network && f.browser_family);
        assert_eq!(f.ipv6_prefix, 64);
        assert_eq!(f.on_medium, switchboard::policy::DriftAction::Alert);
        assert_eq!(f.on_large, switchboard::policy::DriftAction::Revoke);
    }

    #[test]
    fn accountable_session_settings_read_from_the_environment() {
        let s = Settings::load(
            Profile::Dev,
            None,
            &env(&[
                ("SWITCHBOARD_SESSIONS_MAX_PER_USER", "3"),
                ("SWITCHBOARD_SESSIONS_WHEN_FULL", "refuse"),
                ("SWITCHBOARD_SECURITY_REAUTH_WINDOW", "5m"),
                ("SWITCHBOARD_AUDIT_RETENTION_DAYS", "30"),
                ("SWITCHBOARD_SESSION_RETENTION", "1d"),
            ]),
        )
        .unwrap();
        let policy = s.session_policy();
        assert_eq!((policy.max_per_user, policy.when_full), (3, switchboard::WhenFull::Refuse));
        assert_eq!(policy.reauth_window, Duration::from_secs(300));
        assert_eq!(s.audit_retention(), Duration::from_secs(30 * 86_400));
        assert_eq!(
            s.session_retention.0,
            Duration::from_secs(86_400),
            "session_retention is not the sessions section"
        );
        let defaults = Settings::load(Profile::Dev, None, &env(&[])).unwrap().session_policy();
        assert_eq!(defaults, switchboard::SessionPolicy::default());
    }

    #[test]
    fn errors_say_where_the_value_came_from() {
        let e = Settings::load(Profile::Dev, None, &env(&[("SWITCHBOARD_POOL_ACQUIRE_TIMEOUT", "soon")])).unwrap_err();
        assert_eq!(e.key, "pool.acquire_timeout");
        assert!(e.problem.contains("from SWITCHBOARD_POOL_ACQUIRE_TIMEOUT"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("switchboard.toml");
        std::fs::write(&file, "[pool]\nmax_connections = \"many\"\n").unwrap();
        let e = Settings::load(Profile::Dev, Some(&file), &env(&[])).unwrap_err();
        assert_eq!(e.key, "pool.max_connections");
        assert!(e.problem.contains(&file.display().to_string()), "{e}");
        let e = Settings::load(Profile::Dev, Some(&dir.path().join("missing.toml")), &env(&[])).unwrap_err();
        assert_eq!(e.key, "config", "a named file that is missing is an error, not silently skipped");
    }

    #[test]
    fn dev_listens_on_loopback_unless_told() {
        let e = Settings::load(Profile::Dev, None, &env(&[("SWITCHBOARD_BIND", "0.0.0.0:3000")])).unwrap_err();
        assert_eq!(e.key, "bind");
        assert!(e.problem.contains("loopback"), "{e}");
        Settings::load(
            Profile::Dev,
            None,
            &env(&[("SWITCHBOARD_BIND", "0.0.0.0:3000"), ("SWITCHBOARD_DEV_ALLOW_PUBLIC_BIND", "true")]),
        )
        .expect("told explicitly");
        Settings::load(Profile::Dev, None, &env(&[("SWITCHBOARD_BIND", "[::1]:3000")])).expect("IPv6 loopback");
        Settings::load(Profile::Prod, None, &env(&[("SWITCHBOARD_BIND", "0.0.0.0:3000")])).expect("prod may listen anywhere");
    }

    #[test]
    fn prod_refuses_insecure_cookies() {
        let e = Settings::load(Profile::Prod, None, &env(&[("SWITCHBOARD_COOKIE_SECURE", "false")])).unwrap_err();
        assert_eq!(e.key, "cookie_secure");
        assert!(Settings::load(Profile::Prod, None, &env(&[])).unwrap().cookie_secure);
    }

    #[test]
    fn masked_output_hides_database_passwords() {
        let s = Settings::load(
            Profile::Dev,
            None,
            &env(&[("SWITCHBOARD_DATABASE_URL", "postgres://app:s3cret@db/sb")]),
        )
        .unwrap();
        assert!(!s.masked_toml().contains("s3cret"));
    }

    #[test]
    fn masked_output_hides_the_metrics_token() {
        let token = "a-scraper-token-nobody-may-see";
        let s = Settings::load(Profile::Prod, None, &env(&[("SWITCHBOARD_METRICS_BEARER_TOKEN", token)])).unwrap();
        assert_eq!(s.metrics.bearer_token.as_ref().map(|t| t.expose()), Some(token));
        assert!(!s.masked_toml().contains(token));
        assert!(!format!("{s:?}").contains(token));
    }
}
