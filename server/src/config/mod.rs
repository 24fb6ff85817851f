//! Settings, layered with figment: the profile's defaults, then an optional TOML file, then
//! `SWITCHBOARD_*` environment variables. Validated once at start-up; a bad value stops the
//! server with a message naming the key and where it came from. Every default is written once,
//! in [`Settings::default`] (the session policy's and the pool's in the engine).

mod values;

pub use values::{mask_url_password, DatabaseUrl, Profile, Span, TrustedProxies};

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
pub struct PoolConfig {
    /// Read connections on SQLite (writes use one); all connections on PostgreSQL.
    pub max_connections: u32,
    pub min_connections: u32,
    /// How long a request waits for a connection before answering 503.
    pub acquire_timeout: Span,
    /// SQLite: how long a write waits for another process's lock.
    pub busy_timeout: Span,
}

impl Default for PoolConfig {
    /// The engine's pool defaults (`switchboard::PoolSettings`), written there once.
    fn default() -> Self {
        let engine = switchboard::PoolSettings::default();
        Self {
            max_connections: engine.max_connections,
            min_connections: engine.min_connections,
            acquire_timeout: Span(engine.acquire_timeout),
            busy_timeout: Span(engine.busy_timeout),
        }
    }
}

/// The session cache (`switchboard::cache`): session lookups and platform lists from memory,
/// forgotten on every write to them by any writer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    pub enabled: bool,
    /// Most sessions kept (each user's platforms alongside, up to as many users).
    pub capacity: u64,
    /// The longest an entry is served without reading it again, whatever was heard.
    pub ttl: Span,
}

impl Default for CacheConfig {
    fn default() -> Self {
        let engine = switchboard::cache::CacheSettings::default();
        Self {
            enabled: true,
            capacity: engine.capacity,
            ttl: Span(engine.ttl),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureConfig {
    /// Visitors may create accounts at /register.
    pub registration: bool,
    /// Tabs of a browser keep each other in step.
    pub cross_tab_sync: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            registration: true,
            cross_tab_sync: true,
        }
    }
}

/// What a login does when the user already has `sessions.max_per_user` live sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    EvictOldest,
    Refuse,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsConfig {
    /// How many live sessions one user may have.
    pub max_per_user: u32,
    /// `evict_oldest` (the least recently used ends, as revoked) or `refuse` (the login answers
    /// `409 too_many_sessions`).
    pub when_full: WhenFull,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        let policy = switchboard::SessionPolicy::default();
        Self {
            max_per_user: policy.max_per_user,
            when_full: match policy.when_full {
                switchboard::WhenFull::EvictOldest => WhenFull::EvictOldest,
                switchboard::WhenFull::Refuse => WhenFull::Refuse,
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Admin actions and password changes need a password entered this recently.
    pub reauth_window: Span,
    /// Password hashes computed at once (default: the machine's cores).
    pub hash_concurrency: usize,
    /// Password hashes waiting for a turn; beyond it logins answer `503 busy` at once.
    pub hash_queue: usize,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        let hashing = switchboard::hashing::HashLimits::default();
        Self {
            reauth_window: Span(switchboard::SessionPolicy::default().reauth_window),
            hash_concurrency: hashing.concurrency,
            hash_queue: hashing.queue,
        }
    }
}

/// Suspicious-activity alerts (see `switchboard::alerts`) and where they are sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    pub enabled: bool,
    /// How far back each detector counts; also how long the same thing is not alerted again.
    pub window: Span,
    /// Failed logins for one account within `window` that raise an alert (0: off).
    pub failed_logins_per_account: u32,
    /// Failed logins from one address within `window` (0: off).
    pub failed_logins_per_address: u32,
    /// New sessions of one account within `window` (0: off).
    pub new_sessions_per_account: u32,
    /// Refused CSRF checks from one address within `window` (0: off).
    pub csrf_failures_per_address: u32,
    /// Alert when the token of an ended session is used again.
    pub ended_token_use: bool,
    /// Where each alert is POSTed as JSON (`https://` or `http://`), if anywhere.
    pub webhook_url: Option<String>,
    /// A PEM file of certificate authorities the webhook's HTTPS certificate may also chain to
    /// (besides Mozilla's roots and the system's): for a receiver with an internal CA.
    pub webhook_ca_file: Option<PathBuf>,
    /// How long one delivery attempt may take.
    pub webhook_timeout: Span,
    /// Further attempts after a failed one (with doubling backoff from 200ms).
    pub webhook_retries: u32,
    /// Alerts waiting for delivery at most; beyond it new ones are not sent (still recorded).
    pub webhook_queue: usize,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        let p = switchboard::policy::AlertPolicy::default();
        Self {
            enabled: p.enabled,
            window: Span(p.window),
            failed_logins_per_account: p.failed_logins_per_account,
            failed_logins_per_address: p.failed_logins_per_address,
            new_sessions_per_account: p.new_sessions_per_account,
            csrf_failures_per_address: p.csrf_failures_per_address,
            ended_token_use: p.ended_token_use,
            webhook_url: None,
            webhook_ca_file: None,
            webhook_timeout: Span(Duration::from_secs(5)),
            webhook_retries: 3,
            webhook_queue: 256,
        }
    }
}

/// The certificate authorities in a PEM file, or what is wrong with it.
pub fn read_ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        _ => Err(format!("{} holds no PEM certificate", path.display())),
    }
}

/// Login and registration throttles (see `switchboard::throttle`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    pub enabled: bool,
    /// How far back failed logins count.
    pub window: Span,
    /// Failures for one account from one address before that pair is refused (`429`).
    pub pair_limit: u32,
    /// Failures for one account, from anywhere, before its logins slow down (never refused).
    pub account_slow_after: u32,
    /// Failures from one address before its logins slow down.
    pub address_slow_after: u32,
    /// Failures from one address before its logins are refused.
    pub address_limit: u32,
    /// The first delay when slowed; it doubles with each further failure.
    pub delay: Span,
    pub max_delay: Span,
    /// Accounts one address may create within `registration_window`.
    pub registration_limit: u32,
    pub registration_window: Span,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        let p = switchboard::throttle::ThrottlePolicy::default();
        Self {
            enabled: p.enabled,
            window: Span(p.window),
            pair_limit: p.pair_limit,
            account_slow_after: p.account_slow_after,
            address_slow_after: p.address_slow_after,
            address_limit: p.address_limit,
            delay: Span(p.delay),
            max_delay: Span(p.max_delay),
            registration_limit: p.registration_limit,
            registration_window: Span(p.registration_window),
        }
    }
}

/// Limits on connections and requests, so slow or greedy clients cannot hold the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// A connection must send a request's headers within this (also while idle between
    /// requests); else it is closed.
    pub header_read_timeout: Span,
    /// A request's body must arrive within this; else `408 request_timeout`.
    pub body_timeout: Span,
    /// Any request must be answered within this (a page render or a database call that hangs);
    /// else `503 timeout` and the connection is closed.
    pub request_timeout: Span,
    /// Open connections at most; beyond it new ones wait to be accepted.
    pub max_connections: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client (see [`TrustedProxies`]).
    pub trusted_proxies: TrustedProxies,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Span(Duration::from_secs(10)),
            body_timeout: Span(Duration::from_secs(15)),
            request_timeout: Span(Duration::from_secs(30)),
            max_connections: 2048,
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Audit events older than this many days are deleted by the cleanup task.
    pub retention_days: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { retention_days: 90 }
    }
}

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
    /// Rows the cleanup ends or deletes per statement (each batch a short transaction).
    pub cleanup_batch: u32,
    /// How long ended sessions are kept before deletion (for audits).
    pub session_retention: Span,
    /// Where the built site (WASM, JS, CSS, assets) is.
    pub site_root: PathBuf,
    /// A tracing filter, e.g. `info` or `switchboard=debug,info`.
    pub log: String,
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
            cleanup_batch: 1000,
            session_retention: Span(Duration::from_secs(7 * 86_400)),
            site_root: PathBuf::from("target/site"),
            log: "info".into(),
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

/// Environment variables that belong to tooling, not to the server's settings.
const NOT_SETTINGS: &[&str] = &["SWITCHBOARD_PROFILE", "SWITCHBOARD_CONFIG"];
const TOOLING_PREFIXES: &[&str] = &["SWITCHBOARD_TEST_", "SWITCHBOARD_E2E_", "SWITCHBOARD_BENCH_"];
/// Sections, and the singular prefix their variables take (`SWITCHBOARD_POOL_MAX_CONNECTIONS`).
const SECTIONS: &[(&str, &str)] = &[
    ("pool", "POOL_"),
    ("features", "FEATURE_"),
    ("sessions", "SESSIONS_"),
    ("security", "SECURITY_"),
    ("audit", "AUDIT_"),
    ("http", "HTTP_"),
    ("throttle", "THROTTLE_"),
    ("alerts", "ALERTS_"),
    ("fingerprint", "FINGERPRINT_"),
    ("cache", "CACHE_"),
];
const ENV_PREFIX: &str = "SWITCHBOARD_";

/// `SWITCHBOARD_POOL_MAX_CONNECTIONS` → `pool.max_connections`.
fn env_key(var: &str) -> Option<String> {
    let rest = var.strip_prefix(ENV_PREFIX)?;
    for (section, prefix) in SECTIONS {
        if let Some(key) = rest.strip_prefix(prefix) {
            return Some(format!("{section}.{}", key.to_ascii_lowercase()));
        }
    }
    Some(rest.to_ascii_lowercase())
}

/// `pool.max_connections` → `SWITCHBOARD_POOL_MAX_CONNECTIONS`: where a key came from.
fn env_var(path: &[&str]) -> String {
    let (section, key) = match path {
        [section, key, ..] => match SECTIONS.iter().find(|(s, _)| s == section) {
            Some((_, prefix)) => (*prefix, *key),
            None => ("", *section),
        },
        [key] => ("", *key),
        [] => ("", ""),
    };
    format!("{ENV_PREFIX}{section}{}", key.to_ascii_uppercase())
}

/// The `SWITCHBOARD_*` variables as a figment provider (from a map, so tests pass their own).
/// Values read as figment's environment values do: `true`, numbers, else text.
struct EnvVars<'a>(&'a BTreeMap<String, String>);

impl Provider for EnvVars<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable").interpolater(|_, path| env_var(path))
    }

    fn data(&self) -> Result<Map<figment::Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (var, raw) in self.0 {
            if NOT_SETTINGS.contains(&var.as_str()) || TOOLING_PREFIXES.iter().any(|p| var.starts_with(p)) {
                continue;
            }
            let Some(key) = env_key(var) else { continue };
            let value: Value = raw.parse().expect("parsing an environment value is infallible");
            match key.split_once('.') {
                Some((section, leaf)) => {
                    let entry = dict.entry(section.to_owned()).or_insert_with(|| Value::from(Dict::new()));
                    if let Value::Dict(_, inner) = entry {
                        inner.insert(leaf.to_owned(), value);
                    }
                }
                None => {
                    dict.insert(key, value);
                }
            }
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

/// A figment error as a `ConfigError`: the dotted key, the problem, and where the value came from.
fn config_error(e: figment::Error) -> ConfigError {
    use figment::error::Kind;
    let mut key = e.path.join(".");
    if let Kind::UnknownField(field, _) = &e.kind {
        key = if key.is_empty() { field.clone() } else { format!("{key}.{field}") };
    }
    let problem = match &e.kind {
        Kind::UnknownField(field, _) => format!("`{field}` is not a setting (see docs/CONFIGURATION.md)"),
        kind => kind.to_string(),
    };
    let path: Vec<&str> = key.split('.').collect();
    let from = e.metadata.as_ref().map(|m| match &m.source {
        Some(figment::Source::File(file)) => file.display().to_string(),
        _ if m.name.contains("environment") => env_var(&path),
        _ => m.name.to_string(),
    });
    match from {
        Some(from) => ConfigError::new(
            if key.is_empty() { "settings".into() } else { key },
            format!("{problem} (from {from})"),
        ),
        None => ConfigError::new(if key.is_empty() { "settings".into() } else { key }, problem),
    }
}

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

    fn validate(&self) -> Result<(), ConfigError> {
        let err = |k: &str, p: &str| Err(ConfigError::new(k, p));
        switchboard::Backend::from_url(self.database_url.expose()).map_err(|e| ConfigError::new("database_url", e.to_string()))?;
        if self.idle_timeout.0 < Duration::from_secs(1) {
            return err("idle_timeout", "must be at least 1s");
        }
        if self.absolute_lifetime.0 < self.idle_timeout.0 {
            return err("absolute_lifetime", "must be at least idle_timeout");
        }
        if self.touch_interval.0 >= self.idle_timeout.0 {
            return err("touch_interval", "must be shorter than idle_timeout");
        }
        if self.idle_warning.0 >= self.idle_timeout.0 {
            return err("idle_warning", "must be shorter than idle_timeout");
        }
        if self.sync_check_interval.0 < Duration::from_secs(1) || self.sync_check_interval.0 > Duration::from_secs(3600) {
            return err("sync_check_interval", "must be between 1s and 1h");
        }
        if self.cleanup_batch == 0 || self.cleanup_batch > 100_000 {
            return err("cleanup_batch", "must be between 1 and 100000");
        }
        if self.cleanup_interval.0 < Duration::from_secs(1) {
            return err("cleanup_interval", "must be at least 1s");
        }
        if self.cache.capacity == 0 || self.cache.capacity > 10_000_000 {
            return err("cache.capacity", "must be between 1 and 10000000");
        }
        if self.cache.ttl.0 < Duration::from_secs(1) || self.cache.ttl.0 > Duration::from_secs(86_400) {
            return err("cache.ttl", "must be between 1s and 24h");
        }
        if self.pool.max_connections == 0 || self.pool.max_connections > 1000 {
            return err("pool.max_connections", "must be between 1 and 1000");
        }
        if self.pool.min_connections > self.pool.max_connections {
            return err("pool.min_connections", "must not exceed pool.max_connections");
        }
        if self.pool.acquire_timeout.0 < Duration::from_millis(10) {
            return err("pool.acquire_timeout", "must be at least 10ms");
        }
        if self.sessions.max_per_user == 0 || self.sessions.max_per_user > 1000 {
            return err("sessions.max_per_user", "must be between 1 and 1000");
        }
        if self.security.reauth_window.0 < Duration::from_secs(10) || self.security.reauth_window.0 > Duration::from_secs(86_400) {
            return err("security.reauth_window", "must be between 10s and 24h");
        }
        if self.audit.retention_days == 0 || self.audit.retention_days > 36_500 {
            return err("audit.retention_days", "must be between 1 and 36500");
        }
        if self.max_body_bytes < 1024 {
            return err("max_body_bytes", "must be at least 1024");
        }
        let between = |span: Span, low: Duration, high: Duration| span.0 >= low && span.0 <= high;
        if !between(self.http.header_read_timeout, Duration::from_millis(100), Duration::from_secs(600)) {
            return err("http.header_read_timeout", "must be between 100ms and 10m");
        }
        if !between(self.http.body_timeout, Duration::from_millis(100), Duration::from_secs(600)) {
            return err("http.body_timeout", "must be between 100ms and 10m");
        }
        if !between(self.http.request_timeout, Duration::from_millis(100), Duration::from_secs(600)) {
            return err("http.request_timeout", "must be between 100ms and 10m");
        }
        if self.http.max_connections == 0 || self.http.max_connections > 1_000_000 {
            return err("http.max_connections", "must be between 1 and 1000000");
        }
        if self.security.hash_concurrency == 0 || self.security.hash_concurrency > 1024 {
            return err("security.hash_concurrency", "must be between 1 and 1024");
        }
        if self.security.hash_queue > 100_000 {
            return err("security.hash_queue", "must be at most 100000");
        }
        let t = &self.throttle;
        if !between(t.window, Duration::from_secs(1), Duration::from_secs(86_400)) {
            return err("throttle.window", "must be between 1s and 24h");
        }
        if !between(t.registration_window, Duration::from_secs(1), Duration::from_secs(7 * 86_400)) {
            return err("throttle.registration_window", "must be between 1s and 7d");
        }
        for (key, limit) in [
            ("throttle.pair_limit", t.pair_limit),
            ("throttle.address_limit", t.address_limit),
            ("throttle.registration_limit", t.registration_limit),
            ("throttle.account_slow_after", t.account_slow_after),
            ("throttle.address_slow_after", t.address_slow_after),
        ] {
            if limit == 0 || limit > 1000 {
                return err(key, "must be between 1 and 1000");
            }
        }
        if t.max_delay.0 > Duration::from_secs(60) || t.delay.0 > t.max_delay.0 {
            return err("throttle.max_delay", "must be at most 60s and at least throttle.delay");
        }
        let a = &self.alerts;
        if !between(a.window, Duration::from_secs(1), Duration::from_secs(86_400)) {
            return err("alerts.window", "must be between 1s and 24h");
        }
        if let Some(url) = &a.webhook_url {
            let parsed = reqwest::Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if parsed.is_none() {
                return err("alerts.webhook_url", "must be an https:// (or http://) URL");
            }
        }
        if let Some(path) = &a.webhook_ca_file {
            if let Err(problem) = read_ca_file(path) {
                return err("alerts.webhook_ca_file", &problem);
            }
        }
        if !between(a.webhook_timeout, Duration::from_millis(100), Duration::from_secs(60)) {
            return err("alerts.webhook_timeout", "must be between 100ms and 60s");
        }
        if a.webhook_retries > 10 {
            return err("alerts.webhook_retries", "must be at most 10");
        }
        if a.webhook_queue == 0 || a.webhook_queue > 100_000 {
            return err("alerts.webhook_queue", "must be between 1 and 100000");
        }
        let f = &self.fingerprint;
        if f.ipv4_prefix > 32 {
            return err("fingerprint.ipv4_prefix", "must be at most 32");
        }
        if f.ipv6_prefix > 128 {
            return err("fingerprint.ipv6_prefix", "must be at most 128");
        }
        if f.medium_at == 0 || f.medium_at > f.large_at || f.large_at > 100 {
            return err("fingerprint.large_at", "needs 1 <= medium_at <= large_at <= 100");
        }
        if f.on_small > f.on_medium || f.on_medium > f.on_large {
            return err(
                "fingerprint.on_large",
                "a larger drift must not do less than a smaller one (on_small <= on_medium <= on_large)",
            );
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log).is_err() {
            return err("log", "is not a valid tracing filter such as `info`");
        }
        if let Some(origin) = &self.public_origin {
            if !(origin.starts_with("https://") || origin.starts_with("http://")) || origin.ends_with('/') {
                return err("public_origin", "must look like https://host[:port] with no trailing slash");
            }
        }
        if self.shutdown_grace.0 > Duration::from_secs(600) {
            return err("shutdown_grace", "must be at most 10m");
        }
        if self.profile() == Profile::Dev && !self.bind.ip().is_loopback() && !self.dev_allow_public_bind {
            return err(
                "bind",
                "the dev profile (a demo account with a published password, cookies without Secure) listens only on \
                 loopback; use the prod profile, or set dev_allow_public_bind = true if you mean it",
            );
        }
        if self.profile() == Profile::Prod {
            if !self.cookie_secure {
                return err(
                    "cookie_secure",
                    "must be true in the prod profile: without Secure, session cookies travel over plain HTTP",
                );
            }
            if self.public_origin.as_deref().is_some_and(|o| o.starts_with("http://")) {
                return err("public_origin", "must be https:// in the prod profile");
            }
        }
        Ok(())
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
}
