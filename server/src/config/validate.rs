//! Validation of loaded settings: every value in range, and the combinations that cannot work
//! refused at start-up with the key that is wrong.

use super::*;

impl Settings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
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
        if let Some(token) = &self.metrics.bearer_token {
            let token = token.expose();
            if token.len() < 16 || token.len() > 256 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return err("metrics.bearer_token", "must be 16 to 256 printable characters, without spaces");
            }
        }
        if self.metrics.bind.is_some_and(|bind| bind == self.bind) {
            return err("metrics.bind", "must differ from bind (it is a second listener)");
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
        let r = &self.alert_rules;
        if !between(r.interval, Duration::from_millis(100), Duration::from_secs(3600)) {
            return err("alert_rules.interval", "must be between 100ms and 1h");
        }
        if !between(r.window, Duration::from_secs(1), Duration::from_secs(86_400)) {
            return err("alert_rules.window", "must be between 1s and 24h");
        }
        if !between(
            self.metrics.client_report_interval,
            Duration::from_secs(1),
            Duration::from_secs(86_400),
        ) {
            return err("metrics.client_report_interval", "must be between 1s and 24h");
        }
        let d = &self.dashboard;
        if !between(d.interval, Duration::from_secs(1), Duration::from_secs(3600)) {
            return err("dashboard.interval", "must be between 1s and 1h");
        }
        if d.history == 0 || d.history > 100_000 {
            return err("dashboard.history", "must be between 1 and 100000");
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
}
