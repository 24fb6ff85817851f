//! `SWITCHBOARD_*` environment variables as a figment provider, and figment's errors as
//! [`ConfigError`]s that name the key and where its value came from.

use super::*;

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
    ("alert_rules", "ALERT_RULES_"),
    ("dashboard", "DASHBOARD_"),
    ("fingerprint", "FINGERPRINT_"),
    ("cache", "CACHE_"),
    ("metrics", "METRICS_"),
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
pub(super) struct EnvVars<'a>(pub(super) &'a BTreeMap<String, String>);

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
pub(super) fn config_error(e: figment::Error) -> ConfigError {
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
