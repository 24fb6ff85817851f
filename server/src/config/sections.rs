//! The settings' sections (`[pool]`, `[cache]`, `[sessions]`, …): what each holds and its
//! defaults.

use super::*;

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

/// How log lines are written: `text` for people (colours only on a terminal), `json` for a log
/// collector (one object a line, with the request's fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
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

/// The administrators' dashboard (`/admin/dashboard`): how often its figures are sampled and
/// how many samples it keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    /// How often the figures are sampled (and open dashboards updated).
    pub interval: Span,
    /// Samples kept (with the default interval, 720 is the last hour).
    pub history: usize,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            interval: Span(Duration::from_secs(5)),
            history: 720,
        }
    }
}

/// Alert rules: conditions watched every `interval`, each raised once while it holds and
/// cleared when it no longer does (`server/src/alert_rules.rs`); sent where `alerts` sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertRulesConfig {
    pub enabled: bool,
    /// How often the rules are looked at.
    pub interval: Span,
    /// How far back the rates count.
    pub window: Span,
    /// Failed logins over all accounts within `window` that raise `failed_login_rate` (0: off).
    pub failed_logins: u32,
    /// This instance's 5xx answers within `window` that raise `server_error_rate` (0: off).
    pub server_errors: u32,
    /// Raise `pool_saturated` when no read connection is free within 500 ms.
    pub pool_saturated: bool,
    /// Raise `cleanup_stalled` when this instance's cleanup has not completed a run for three
    /// `cleanup_interval`s.
    pub cleanup_stalled: bool,
    /// Raise `listener_down` when the session cache does not hear other writers.
    pub listener_down: bool,
}

impl Default for AlertRulesConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Span(Duration::from_secs(15)),
            window: Span(Duration::from_secs(5 * 60)),
            failed_logins: 100,
            server_errors: 25,
            pool_saturated: true,
            cleanup_stalled: true,
            listener_down: true,
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

/// `GET /metrics` (Prometheus text format; docs/OPERATIONS.md lists every metric). Who may read
/// it: with `bind`, only that listener serves it (the main one answers 404); with `bearer_token`,
/// whoever sends `Authorization: Bearer <token>`; with neither, clients on loopback in the `dev`
/// and `test` profiles, and nobody in `prod`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// The token a scraper must send (at least 16 characters; never logged).
    pub bearer_token: Option<Secret>,
    /// A separate address that serves `/metrics` only (for example `127.0.0.1:9100`, or an
    /// internal interface), so it never shares the public listener.
    pub bind: Option<SocketAddr>,
    /// How often at most each browser's leader tab reports its sync figures (with a session
    /// check; `switchboard_client_*`).
    pub client_report_interval: Span,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bearer_token: None,
            bind: None,
            client_report_interval: Span(Duration::from_secs(60)),
        }
    }
}
