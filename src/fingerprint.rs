//! Client fingerprints: what a session is bound to besides its token, so that a stolen cookie
//! used from elsewhere is noticed.
//!
//! At login the session records a keyed hash (HMAC-SHA256 under a server secret, 64 bits kept)
//! of each trait the policy names: browser family, browser major version, `Accept-Language`,
//! and the client's network (the address's first `ipv4_prefix` / `ipv6_prefix` bits). Only the
//! hashes are stored, one per trait, so a change can be scored trait by trait without keeping
//! the values; what the Sessions page shows (device, address) is kept apart, as before.
//!
//! Every request compares: the drift is the sum of the weights of the traits that changed, and
//! its tier (small, medium, large) picks a [`DriftAction`] from the policy. The engine applies it
//! in `Engine::resolve` (src/sessions/lookup.rs).

use crate::device::browser_of;
use crate::model::ClientMeta;
use crate::net::{canonical, prefix};
use crate::policy::{DriftAction, FingerprintPolicy};
use crate::secrets::SecretKey;
use std::net::IpAddr;

/// A trait of the client a session is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trait {
    BrowserFamily,
    BrowserVersion,
    AcceptLanguage,
    Network,
}

impl Trait {
    pub const ALL: [Trait; 4] = [Self::BrowserFamily, Self::BrowserVersion, Self::AcceptLanguage, Self::Network];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BrowserFamily => "browser_family",
            Self::BrowserVersion => "browser_version",
            Self::AcceptLanguage => "accept_language",
            Self::Network => "network",
        }
    }

    /// How much a change of this trait counts.
    pub fn weight(self) -> u32 {
        match self {
            Self::BrowserFamily => 3,
            Self::BrowserVersion => 1,
            Self::AcceptLanguage => 1,
            Self::Network => 2,
        }
    }

    fn recorded(self, policy: &FingerprintPolicy) -> bool {
        match self {
            Self::BrowserFamily => policy.browser_family,
            Self::BrowserVersion => policy.browser_version,
            Self::AcceptLanguage => policy.accept_language,
            Self::Network => policy.network,
        }
    }
}

/// The client's network: its address cut to the policy's prefix (`203.0.113.0/24`), or `?`. An
/// IPv4 address seen on a dual-stack listener (`::ffff:203.0.113.7`) is read as IPv4.
pub fn network_of(ip: Option<&str>, policy: &FingerprintPolicy) -> String {
    match ip.and_then(|ip| ip.parse::<IpAddr>().ok()).map(canonical) {
        Some(ip @ IpAddr::V4(_)) => format!("{}/{}", prefix(ip, policy.ipv4_prefix), policy.ipv4_prefix.min(32)),
        Some(ip) => format!("{}/{}", prefix(ip, policy.ipv6_prefix), policy.ipv6_prefix.min(128)),
        None => "?".to_owned(),
    }
}

/// Fingerprints clients by one policy and key, remembering the clients seen lately: a
/// fingerprint is a user-agent parse and up to four HMACs, and a client sends the same user
/// agent, language and address with every request. A remembered fingerprint is used only for
/// exactly the same three values; at [`Fingerprinter::REMEMBERED`] clients the memory starts
/// over.
pub struct Fingerprinter {
    policy: FingerprintPolicy,
    key: SecretKey,
    hasher: std::collections::hash_map::RandomState,
    seen: std::sync::Mutex<std::collections::HashMap<u64, (ClientTraits, Fingerprint)>>,
}

/// What a fingerprint is made of.
struct ClientTraits {
    ip: Option<String>,
    user_agent: Option<String>,
    accept_language: Option<String>,
}

impl Fingerprinter {
    pub const REMEMBERED: usize = 1024;

    pub fn new(policy: FingerprintPolicy, key: SecretKey) -> Self {
        Self {
            policy,
            key,
            hasher: Default::default(),
            seen: Default::default(),
        }
    }

    pub fn policy(&self) -> &FingerprintPolicy {
        &self.policy
    }

    /// The fingerprint of the client behind `meta` (see [`Fingerprint::of`]).
    pub fn of(&self, meta: &ClientMeta) -> Fingerprint {
        let hash = std::hash::BuildHasher::hash_one(&self.hasher, (&meta.ip, &meta.user_agent, &meta.accept_language));
        let same = |t: &ClientTraits| t.ip == meta.ip && t.user_agent == meta.user_agent && t.accept_language == meta.accept_language;
        let remembered = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&hash)
            .filter(|(t, _)| same(t))
            .map(|(_, f)| *f);
        if let Some(fingerprint) = remembered {
            return fingerprint;
        }
        let fingerprint = Fingerprint::of(meta, &self.policy, &self.key);
        let traits = ClientTraits {
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            accept_language: meta.accept_language.clone(),
        };
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= Self::REMEMBERED {
            seen.clear();
        }
        seen.insert(hash, (traits, fingerprint));
        fingerprint
    }
}

/// One keyed hash per trait; `None` where the trait was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fingerprint([Option<u64>; 4]);

/// How far a client has drifted from a session's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub score: u32,
    pub changed: Vec<Trait>,
}

/// How large a drift is, by the policy's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Small,
    Medium,
    Large,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Small => "small",
            Self::Medium => "medium",
            Self::Large => "large",
        }
    }
}

impl Fingerprint {
    /// The fingerprint of the client behind `meta`, keyed by `key`.
    pub fn of(meta: &ClientMeta, policy: &FingerprintPolicy, key: &SecretKey) -> Self {
        let mut hashes = [None; 4];
        let wanted = |t: Trait| policy.enabled && t.recorded(policy);
        let (family, major) = if wanted(Trait::BrowserFamily) || wanted(Trait::BrowserVersion) {
            browser_of(meta.user_agent.as_deref())
        } else {
            (None, None)
        };
        for (slot, t) in hashes.iter_mut().zip(Trait::ALL) {
            if !wanted(t) {
                continue;
            }
            let value = match t {
                Trait::BrowserFamily => family.clone().unwrap_or_else(|| "?".into()),
                Trait::BrowserVersion => format!("{}/{}", family.as_deref().unwrap_or("?"), major.as_deref().unwrap_or("?")),
                Trait::AcceptLanguage => normalise_language(meta.accept_language.as_deref()),
                Trait::Network => network_of(meta.ip.as_deref(), policy),
            };
            let mac = key.mac(&[t.as_str().as_bytes(), b"\0", value.as_bytes()]);
            *slot = Some(u64::from_be_bytes(mac[..8].try_into().expect("8 bytes")));
        }
        Self(hashes)
    }

    /// Nothing recorded (the feature off, or a session from before it).
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    /// As stored in `sessions.fingerprint`: `v1` and one field per trait, `.`-separated, each 16
    /// hex digits or empty.
    pub fn encode(&self) -> String {
        let mut out = String::from("v1");
        for hash in self.0 {
            out.push('.');
            if let Some(h) = hash {
                out.push_str(&format!("{h:016x}"));
            }
        }
        out
    }

    /// A stored fingerprint; `None` for anything else (compared as "nothing recorded").
    pub fn decode(text: &str) -> Option<Self> {
        let mut fields = text.split('.');
        if fields.next() != Some("v1") {
            return None;
        }
        let mut hashes = [None; 4];
        for slot in &mut hashes {
            let field = fields.next()?;
            if !field.is_empty() {
                if field.len() != 16 {
                    return None;
                }
                *slot = Some(u64::from_str_radix(field, 16).ok()?);
            }
        }
        fields.next().is_none().then_some(Self(hashes))
    }

    /// How far `current` is from this (the session's) fingerprint. A trait counts only when both
    /// have it; a different browser family makes its version not count as well.
    pub fn drift(&self, current: &Fingerprint) -> Drift {
        let mut changed: Vec<Trait> = Trait::ALL
            .into_iter()
            .zip(self.0.iter().zip(current.0.iter()))
            .filter(|(_, (was, now))| matches!((was, now), (Some(a), Some(b)) if a != b))
            .map(|(t, _)| t)
            .collect();
        if changed.contains(&Trait::BrowserFamily) {
            changed.retain(|t| *t != Trait::BrowserVersion);
        }
        Drift {
            score: changed.iter().map(|t| t.weight()).sum(),
            changed,
        }
    }
}

/// `Accept-Language` as compared: trimmed, lower case, at most 200 characters; empty when absent.
fn normalise_language(header: Option<&str>) -> String {
    header
        .map(|h| h.trim().to_ascii_lowercase().chars().take(200).collect())
        .unwrap_or_default()
}

impl FingerprintPolicy {
    /// The tier of a drift scoring `score`; `None` for no drift.
    pub fn tier(&self, score: u32) -> Option<Tier> {
        match score {
            0 => None,
            s if s >= self.large_at => Some(Tier::Large),
            s if s >= self.medium_at => Some(Tier::Medium),
            _ => Some(Tier::Small),
        }
    }

    /// What a drift of `tier` does.
    pub fn action(&self, tier: Tier) -> DriftAction {
        match tier {
            Tier::Small => self.on_small,
            Tier::Medium => self.on_medium,
            Tier::Large => self.on_large,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_156: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.8078.73 Safari/537.36";
    const CHROME_157: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/157.0.1.2 Safari/537.36";
    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

    fn meta(ip: &str, ua: &str, lang: &str) -> ClientMeta {
        ClientMeta {
            ip: Some(ip.into()),
            user_agent: Some(ua.into()),
            accept_language: Some(lang.into()),
        }
    }

    #[test]
    fn a_remembered_fingerprint_is_only_ever_the_same_clients() {
        let p = FingerprintPolicy::default();
        let fingerprints = Fingerprinter::new(p.clone(), SecretKey::fixed(3));
        let home = meta("203.0.113.7", CHROME_156, "en-GB,en;q=0.9");
        let of = |m: &ClientMeta| Fingerprint::of(m, &p, &SecretKey::fixed(3));
        assert_eq!(fingerprints.of(&home), of(&home));
        assert_eq!(fingerprints.of(&home), of(&home), "remembered");
        // Each trait changed alone is a different client, fingerprinted afresh.
        for other in [
            meta("198.51.100.7", CHROME_156, "en-GB,en;q=0.9"),
            meta("203.0.113.7", FIREFOX, "en-GB,en;q=0.9"),
            meta("203.0.113.7", CHROME_156, "de-DE"),
            ClientMeta {
                user_agent: None,
                ..home.clone()
            },
        ] {
            assert_eq!(fingerprints.of(&other), of(&other));
            assert_ne!(fingerprints.of(&other), of(&home));
        }
        // Bounded: past its size it starts over, and still answers right.
        for i in 0..Fingerprinter::REMEMBERED + 10 {
            let client = meta(&format!("10.{}.{}.1", i / 250, i % 250), CHROME_156, "en");
            assert_eq!(fingerprints.of(&client), of(&client));
        }
        assert!(fingerprints.seen.lock().unwrap().len() <= Fingerprinter::REMEMBERED);
        assert_eq!(fingerprints.of(&home), of(&home));
    }

    fn score(policy: &FingerprintPolicy, a: &ClientMeta, b: &ClientMeta) -> Drift {
        let key = SecretKey::fixed(3);
        Fingerprint::of(a, policy, &key).drift(&Fingerprint::of(b, policy, &key))
    }

    #[test]
    fn each_change_scores_its_weight_and_lands_in_its_tier() {
        let p = FingerprintPolicy::default();
        let home = meta("203.0.113.7", CHROME_156, "en-GB,en;q=0.9");
        let cases = [
            (meta("203.0.113.99", CHROME_156, "en-GB,en;q=0.9"), 0, None, "same /24"),
            (
                meta("203.0.113.7", CHROME_157, "en-GB,en;q=0.9"),
                1,
                Some(Tier::Small),
                "browser update",
            ),
            (meta("203.0.113.7", CHROME_156, "de-DE"), 1, Some(Tier::Small), "language"),
            (
                meta("198.51.100.7", CHROME_156, "en-GB,en;q=0.9"),
                2,
                Some(Tier::Medium),
                "new network",
            ),
            (
                meta("203.0.113.7", FIREFOX, "en-GB,en;q=0.9"),
                3,
                Some(Tier::Medium),
                "other browser",
            ),
            (
                meta("198.51.100.7", FIREFOX, "en-GB,en;q=0.9"),
                5,
                Some(Tier::Large),
                "other browser, other network",
            ),
            (meta("198.51.100.7", FIREFOX, "de-DE"), 6, Some(Tier::Large), "everything"),
        ];
        for (other, expected, tier, what) in cases {
            let drift = score(&p, &home, &other);
            assert_eq!(drift.score, expected, "{what}: {drift:?}");
            assert_eq!(p.tier(drift.score), tier, "{what}");
        }
        assert_eq!(p.action(Tier::Small), DriftAction::Record);
        assert_eq!(p.action(Tier::Medium), DriftAction::Challenge);
        assert_eq!(p.action(Tier::Large), DriftAction::Revoke);
    }

    #[test]
    fn traits_left_out_by_the_policy_are_neither_recorded_nor_compared() {
        let p = FingerprintPolicy {
            network: false,
            accept_language: false,
            ..FingerprintPolicy::default()
        };
        let a = meta("203.0.113.7", CHROME_156, "en");
        let b = meta("198.51.100.7", CHROME_156, "de");
        assert_eq!(score(&p, &a, &b).score, 0);
        let off = FingerprintPolicy {
            enabled: false,
            ..FingerprintPolicy::default()
        };
        assert!(Fingerprint::of(&a, &off, &SecretKey::fixed(1)).is_empty());
        // A session recorded before a trait was switched on is not drifted by it.
        let key = SecretKey::fixed(3);
        let before = Fingerprint::of(&a, &p, &key);
        let after = Fingerprint::of(&b, &FingerprintPolicy::default(), &key);
        assert_eq!(before.drift(&after).score, 0);
    }

    #[test]
    fn fingerprints_are_keyed_and_round_trip_through_their_stored_text() {
        let p = FingerprintPolicy::default();
        let m = meta("2001:db8:1:2::7", FIREFOX, "en");
        let f = Fingerprint::of(&m, &p, &SecretKey::fixed(1));
        assert_ne!(f, Fingerprint::of(&m, &p, &SecretKey::fixed(2)), "the key changes every hash");
        assert_eq!(Fingerprint::decode(&f.encode()), Some(f));
        let partial = Fingerprint::of(
            &m,
            &FingerprintPolicy {
                accept_language: false,
                ..p.clone()
            },
            &SecretKey::fixed(1),
        );
        assert_eq!(Fingerprint::decode(&partial.encode()), Some(partial));
        for bad in ["", "v1", "v2....", "v1.zz...", "v1.....", "v1.1..."] {
            assert_eq!(Fingerprint::decode(bad), None, "{bad:?}");
        }
        assert!(!f.encode().contains("2001"), "no trait is stored readable");
    }

    #[test]
    fn networks_are_cut_to_their_prefix() {
        let p = FingerprintPolicy::default();
        assert_eq!(network_of(Some("203.0.113.77"), &p), "203.0.113.0/24");
        assert_eq!(network_of(Some("2001:db8:1:2::7"), &p), "2001:db8:1::/48");
        assert_eq!(network_of(Some("::ffff:203.0.113.77"), &p), "203.0.113.0/24", "dual stack");
        assert_eq!(network_of(Some("not an address"), &p), "?");
        assert_eq!(network_of(None, &p), "?");
        let whole = FingerprintPolicy {
            ipv4_prefix: 0,
            ipv6_prefix: 200,
            ..p
        };
        assert_eq!(network_of(Some("203.0.113.77"), &whole), "0.0.0.0/0");
        assert_eq!(network_of(Some("2001:db8::1"), &whole), "2001:db8::1/128");
    }
}
