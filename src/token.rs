//! Secrets and identifiers: session tokens (only ever stored as hashes), public session ids and
//! pre-session ids. All come from the operating system's CSPRNG.

use crate::ids::PublicSessionId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

const TOKEN_BYTES: usize = 32;
const TOKEN_CHARS: usize = 43; // base64url of 32 bytes, no padding

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn is_b64url(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The bearer secret in the session cookie: 256 bits. Debug and Display never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn generate() -> Self {
        Self(random_b64(TOKEN_BYTES))
    }

    /// Accepts only the exact shape we issue, so garbage never reaches the database.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == TOKEN_CHARS && is_b64url(s)).then(|| Self(s.to_owned()))
    }

    /// The value for the cookie. The only way to read the secret.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(hex(&Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(**redacted**)")
    }
}

/// What the database keeps of a token: SHA-256, hex. A stolen database yields no live cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A fresh public identifier for a session: safe to show, log and send to the browser; not a
/// credential.
pub fn new_public_id() -> PublicSessionId {
    PublicSessionId::new_unchecked(random_b64(16))
}

/// The identifier in the pre-session cookie that CSRF tokens are bound to before login.
#[derive(Clone, PartialEq, Eq)]
pub struct PreSessionId(String);

impl PreSessionId {
    pub fn generate() -> Self {
        Self(random_b64(16))
    }

    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 22 && is_b64url(s)).then(|| Self(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PreSessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreSessionId(**redacted**)")
    }
}

/// 64 hex digits (either case) back to the 32 bytes [`hex`] wrote; `None` for anything else.
pub(crate) fn unhex32(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut bytes = [0; 32];
    for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(bytes)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    // Every request hashes its cookie: one allocation, not one per byte.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_parse_back() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), TOKEN_CHARS);
        assert_eq!(SessionToken::parse(a.expose()), Some(a.clone()));
        assert_eq!(a.hash(), SessionToken::parse(a.expose()).unwrap().hash());
        assert_ne!(a.hash(), b.hash());
        let id = new_public_id();
        assert_eq!(PublicSessionId::parse(id.as_str()), Ok(id), "public ids parse back");
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for bad in ["", "short", &"a".repeat(44), &format!("{}!", "a".repeat(42)), &"é".repeat(22)] {
            assert!(SessionToken::parse(bad).is_none(), "{bad:?} parsed");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let t = SessionToken::generate();
        assert!(!format!("{t:?}").contains(t.expose()));
        let p = PreSessionId::generate();
        assert!(!format!("{p:?}").contains(p.expose()));
    }
}
