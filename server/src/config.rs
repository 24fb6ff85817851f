//! Settings: defaults for the profile, then an optional TOML file, then `SWITCHBOARD_*`
//! environment variables. Validated once at start-up; a bad value stops the server with a
//! message naming the key.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Dev,
    Test,
    Prod,
}

impl Profile {
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dev" => Ok(Profile::Dev),
            "test" => Ok(Profile::Test),
            "prod" => Ok(Profile::Prod),
            other => Err(ConfigError::new("profile", format!("must be dev, test or prod, not {other:?}"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Dev => "dev",
            Profile::Test => "test",
            Profile::Prod => "prod",
        }
    }
}

/// A duration written as `90s`, `30m`, `12h`, `500ms` or `2d` (or a bare number of seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl Span {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{s:?} is not a duration like 90s, 30m or 12h"))?;
        let d = match unit.trim() {
            "" | "s" => Duration::from_secs(n),
            "ms" => Duration::from_millis(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "d" => Duration::from_secs(n.saturating_mul(86_400)),
            other => return Err(format!("unknown unit {other:?} in {s:?}; use ms, s, m, h or d")),
        };
        Ok(Span(d))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        match ms {
            0 => write!(f, "0s"),
            _ if ms % 3_600_000 == 0 => write!(f, "{}h", ms / 3_600_000),
            _ if ms % 60_000 == 0 => write!(f, "{}m", ms / 60_000),
            _ if ms % 1000 == 0 => write!(f, "{}s", ms / 1000),
            _ => write!(f, "{ms}ms"),
        }
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(n) => Ok(Span(Duration::from_secs(n))),
            Raw::Text(s) => Span::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

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
    fn default() -> Self {
        Self {
            max_connections: 8,
            min_connections: 0,
            acquire_timeout: Span(Duration::from_secs(3)),
            busy_timeout: Span(Duration::from_secs(5)),
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    #[serde(skip)]
    pub profile: Option<Profile>,
    /// `sqlite://path` (default `sqlite://data/switchboard.db`) or `postgres://...`.
    pub database_url: String,
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
    /// How long ended sessions are kept before deletion (for audits).
    pub session_retention: Span,
    /// Where the built site (WASM, JS, CSS, assets) is.
    pub site_root: PathBuf,
    /// A tracing filter, e.g. `info` or `switchboard=debug,info`.
    pub log: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    pub pool: PoolConfig,
    pub features: FeatureConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            profile: None,
            database_url: "sqlite://data/switchboard.db".into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 3000)),
            idle_timeout: Span(Duration::from_secs(30 * 60)),
            absolute_lifetime: Span(Duration::from_secs(12 * 3600)),
            touch_interval: Span(Duration::from_secs(60)),
            cookie_secure: false,
            public_origin: None,
            idle_warning: Span(Duration::from_secs(2 * 60)),
            sync_check_interval: Span(Duration::from_secs(60)),
            cleanup_interval: Span(Duration::from_secs(10 * 60)),
            session_retention: Span(Duration::from_secs(7 * 86_400)),
            site_root: PathBuf::from("target/site"),
            log: "info".into(),
            max_body_bytes: 64 * 1024,
            pool: PoolConfig::default(),
            features: FeatureConfig::default(),
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

/// `SWITCHBOARD_POOL_MAX_CONNECTIONS` → (`pool`, `max_connections`).
fn env_key(var: &str) -> Option<(Option<&'static str>, String)> {
    let key = var.strip_prefix("SWITCHBOARD_")?.to_ascii_lowercase();
    for section in ["pool", "features"] {
        let singular = section.trim_end_matches('s');
        if let Some(rest) = key.strip_prefix(&format!("{singular}_")) {
            return Some((Some(section), rest.to_owned()));
        }
    }
    Some((None, key))
}

/// A value from the environment: a TOML boolean or integer if it reads as one, else a string.
fn env_value(raw: &str) -> toml::Value {
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => raw
            .parse::<i64>()
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::String(raw.to_owned())),
    }
}

fn defaults_for(profile: Profile) -> Settings {
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

impl Settings {
    /// Loads settings for `profile` from an optional TOML file and the given environment.
    pub fn load(profile: Profile, file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let defaults = match toml::Value::try_from(defaults_for(profile)) {
            Ok(toml::Value::Table(t)) => t,
            _ => return Err(ConfigError::new("defaults", "could not be represented")),
        };
        // Every override as (dotted key, value, where it came from), applied in order.
        let mut overrides: Vec<(String, toml::Value, String)> = Vec::new();
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).map_err(|e| ConfigError::new("config", format!("cannot read {}: {e}", path.display())))?;
            let table: toml::Table = text
                .parse()
                .map_err(|e| ConfigError::new("config", format!("{} is not valid TOML: {e}", path.display())))?;
            flatten("", table, &mut |key, value| {
                overrides.push((key, value, path.display().to_string()))
            });
        }
        for (var, raw) in env {
            if NOT_SETTINGS.contains(&var.as_str()) || TOOLING_PREFIXES.iter().any(|p| var.starts_with(p)) {
                continue;
            }
            if let Some((section, key)) = env_key(var) {
                let dotted = section.map(|s| format!("{s}.{key}")).unwrap_or(key);
                overrides.push((dotted, env_value(raw), var.clone()));
            }
        }
        let build = |items: &[(String, toml::Value, String)]| -> Result<Settings, String> {
            let mut table = defaults.clone();
            for (key, value, _) in items {
                set_dotted(&mut table, key, value.clone());
            }
            toml::Value::Table(table).try_into::<Settings>().map_err(|e| e.message().to_owned())
        };
        let mut settings = match build(&overrides) {
            Ok(s) => s,
            Err(message) => {
                // Name the culprit: the first override that fails on its own.
                let culprit = overrides.iter().find_map(|o| build(std::slice::from_ref(o)).err().map(|m| (o, m)));
                return Err(match culprit {
                    Some(((key, _, source), m)) => ConfigError::new(key.clone(), format!("{m} (from {source})")),
                    None => ConfigError::new("settings", message),
                });
            }
        };
        settings.profile = Some(profile);
        settings.validate()?;
        Ok(settings)
    }

    pub fn profile(&self) -> Profile {
        self.profile.unwrap_or(Profile::Dev)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let err = |k: &str, p: &str| Err(ConfigError::new(k, p));
        switchboard::Backend::from_url(&self.database_url).map_err(|e| ConfigError::new("database_url", e.to_string()))?;
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
        if self.cleanup_interval.0 < Duration::from_secs(1) {
            return err("cleanup_interval", "must be at least 1s");
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
        if self.max_body_bytes < 1024 {
            return err("max_body_bytes", "must be at least 1024");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log).is_err() {
            return err("log", "is not a valid tracing filter such as `info`");
        }
        if let Some(origin) = &self.public_origin {
            if !(origin.starts_with("https://") || origin.starts_with("http://")) || origin.ends_with('/') {
                return err("public_origin", "must look like https://host[:port] with no trailing slash");
            }
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
        let mut shown = self.clone();
        shown.database_url = mask_url_password(&self.database_url);
        let mut out = format!("# profile: {}\n", self.profile().as_str());
        out.push_str(&toml::to_string_pretty(&shown).unwrap_or_default());
        out
    }

    pub fn session_policy(&self) -> switchboard::SessionPolicy {
        switchboard::SessionPolicy {
            idle_timeout: self.idle_timeout.0,
            absolute_lifetime: self.absolute_lifetime.0,
            touch_interval: self.touch_interval.0,
        }
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

/// Calls `out` with every leaf of a TOML table as a dotted key.
fn flatten(prefix: &str, table: toml::Table, out: &mut impl FnMut(String, toml::Value)) {
    for (k, v) in table {
        let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            v => out(key, v),
        }
    }
}

fn set_dotted(table: &mut toml::Table, key: &str, value: toml::Value) {
    match key.split_once('.') {
        Some((head, rest)) => {
            let entry = table.entry(head).or_insert_with(|| toml::Value::Table(Default::default()));
            if !entry.is_table() {
                *entry = toml::Value::Table(Default::default());
            }
            if let toml::Value::Table(t) = entry {
                set_dotted(t, rest, value);
            }
        }
        None => {
            table.insert(key.to_owned(), value);
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:****@host/db`.
pub fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest
        .split_once('/')
        .map(|(a, t)| (a, format!("/{t}")))
        .unwrap_or((rest, String::new()));
    match authority.rsplit_once('@') {
        Some((creds, host)) => match creds.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:****@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
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
        assert_eq!(s.database_url, "sqlite://data/switchboard.db");
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
        ];
        for (var, value, key) in cases {
            let e = Settings::load(Profile::Dev, None, &env(&[(var, value)])).unwrap_err();
            assert!(e.key == *key || e.problem.contains(key), "{var}={value}: {e}");
        }
    }

    #[test]
    fn prod_refuses_insecure_cookies() {
        let e = Settings::load(Profile::Prod, None, &env(&[("SWITCHBOARD_COOKIE_SECURE", "false")])).unwrap_err();
        assert_eq!(e.key, "cookie_secure");
        assert!(Settings::load(Profile::Prod, None, &env(&[])).unwrap().cookie_secure);
    }

    #[test]
    fn spans_parse_and_print() {
        assert_eq!(Span::parse("90s").unwrap().0, Duration::from_secs(90));
        assert_eq!(Span::parse("30m").unwrap().to_string(), "30m");
        assert_eq!(Span::parse("1500ms").unwrap().to_string(), "1500ms");
        assert!(Span::parse("12 parsecs").is_err());
        assert!(Span::parse("").is_err());
    }

    #[test]
    fn masked_output_hides_database_passwords() {
        assert_eq!(
            mask_url_password("postgres://app:s3cret@db:5432/sb"),
            "postgres://app:****@db:5432/sb"
        );
        assert_eq!(mask_url_password("sqlite://data/x.db"), "sqlite://data/x.db");
        let s = Settings::load(
            Profile::Dev,
            None,
            &env(&[("SWITCHBOARD_DATABASE_URL", "postgres://app:s3cret@db/sb")]),
        )
        .unwrap();
        assert!(!s.masked_toml().contains("s3cret"));
    }
}
