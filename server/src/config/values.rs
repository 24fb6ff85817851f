//! The value types settings are made of: profiles, durations, and secrets that cannot be printed
//! by accident.

use super::ConfigError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;
use switchboard::net::{canonical, prefix};

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

    pub fn millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        match ms {
            0 => write!(f, "0s"),
            _ if ms.is_multiple_of(3_600_000) => write!(f, "{}h", ms / 3_600_000),
            _ if ms.is_multiple_of(60_000) => write!(f, "{}m", ms / 60_000),
            _ if ms.is_multiple_of(1000) => write!(f, "{}s", ms / 1000),
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
        s.collect_str(self)
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed: addresses and networks written
/// `10.0.0.0/8, 127.0.0.1, ::1` (a string, or a TOML list). Empty by default: the client is the
/// connection's peer and the header is ignored, so a client cannot choose its own address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (addr, bits) = item.split_once('/').unwrap_or((item, ""));
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("{item:?} is not an address or network like 10.0.0.0/8"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                "" => max,
                bits => bits
                    .parse()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("{item:?} has a bad prefix length"))?,
            };
            nets.push((addr, bits));
        }
        Ok(Self(nets))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|(net, bits)| net.is_ipv4() == ip.is_ipv4() && prefix(*net, *bits) == prefix(ip, *bits))
    }

    /// The client behind a request from `peer` carrying `forwarded_for` (the `X-Forwarded-For`
    /// values, in order): the peer itself unless it is a trusted proxy; else, walking the list
    /// from its right end (the hop nearest to us), the first address that is not a trusted proxy.
    /// A value that does not parse ends the walk at the hop that added it.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let mut client = canonical(peer);
        if !self.contains(client) {
            return client;
        }
        for hop in forwarded_for.iter().flat_map(|v| v.split(',')).rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = canonical(ip);
                    if !self.contains(client) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.0.iter().map(|(a, b)| format!("{a}/{b}")).collect();
        f.write_str(&items.join(", "))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            List(Vec<String>),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::List(items) => items.join(","),
        };
        TrustedProxies::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A setting whose text must not be printed: `Debug`, `Display` and serialising it (as
/// `switchboard config check` does) show it masked by `$mask`; only `expose` gives the real thing.
macro_rules! masked_setting {
    ($(#[$doc:meta])* $name:ident, $mask:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(text: impl Into<String>) -> Self {
                Self(text.into())
            }

            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mask: fn(&str) -> String = $mask;
                f.write_str(&mask(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

masked_setting!(
    /// A database URL. It may hold a password, which is masked; connecting uses
    /// [`DatabaseUrl::expose`].
    DatabaseUrl,
    mask_url_password
);

masked_setting!(
    /// A secret setting (such as `metrics.bearer_token`), shown as `****`.
    Secret,
    |_| "****".to_owned()
);

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

    #[test]
    fn spans_parse_and_print() {
        assert_eq!(Span::parse("90s").unwrap().0, Duration::from_secs(90));
        assert_eq!(Span::parse("30m").unwrap().to_string(), "30m");
        assert_eq!(Span::parse("1500ms").unwrap().to_string(), "1500ms");
        assert!(Span::parse("12 parsecs").is_err());
        assert!(Span::parse("").is_err());
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("127.0.0.1"), &["203.0.113.9"]),
            ip("127.0.0.1"),
            "no proxy trusted: the header is ignored"
        );
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8, ::1").unwrap();
        assert_eq!(proxies.client(ip("127.0.0.1"), &["203.0.113.9"]), ip("203.0.113.9"));
        assert_eq!(
            proxies.client(ip("::ffff:127.0.0.1"), &["203.0.113.9"]),
            ip("203.0.113.9"),
            "dual stack"
        );
        // A client that sends its own header: the proxy appends the real address, which wins.
        assert_eq!(proxies.client(ip("127.0.0.1"), &["1.2.3.4, 198.51.100.7"]), ip("198.51.100.7"));
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &["1.2.3.4", "198.51.100.7, 10.1.2.3"]),
            ip("198.51.100.7")
        );
        assert_eq!(
            proxies.client(ip("198.51.100.8"), &["1.2.3.4"]),
            ip("198.51.100.8"),
            "an untrusted peer is the client"
        );
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &["garbage, 10.0.0.5"]),
            ip("10.0.0.5"),
            "the walk stops at garbage"
        );
        assert_eq!(proxies.client(ip("127.0.0.1"), &[]), ip("127.0.0.1"));
        for bad in ["10.0.0.0/33", "fe80::/129", "localhost", "10.0.0.0/x"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(TrustedProxies::parse("").unwrap(), TrustedProxies::default());
        assert_eq!(proxies.to_string(), "127.0.0.1/32, 10.0.0.0/8, ::1/128");
    }

    #[test]
    fn database_passwords_never_print() {
        assert_eq!(
            mask_url_password("postgres://app:s3cret@db:5432/sb"),
            "postgres://app:****@db:5432/sb"
        );
        assert_eq!(mask_url_password("sqlite://data/x.db"), "sqlite://data/x.db");
        let url = DatabaseUrl::new("postgres://app:s3cret@db/sb");
        for printed in [format!("{url}"), format!("{url:?}"), serde_json::to_string(&url).unwrap()] {
            assert!(!printed.contains("s3cret"), "{printed}");
        }
        assert_eq!(url.expose(), "postgres://app:s3cret@db/sb");
        assert_eq!(format!("{url:?}"), "DatabaseUrl(postgres://app:****@db/sb)");
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2hunter2");
        for printed in [format!("{secret}"), format!("{secret:?}"), serde_json::to_string(&secret).unwrap()] {
            assert!(!printed.contains("hunter2"), "{printed}");
        }
        assert_eq!(format!("{secret:?}"), "Secret(****)");
        assert_eq!(secret.expose(), "hunter2hunter2");
    }
}
