//! CSRF tokens: HMAC-SHA256 of what the token is bound to (the session's public id after login,
//! the pre-session cookie before), under a key kept in the database so every server instance
//! issues and accepts the same tokens. Stateless: nothing is written per token.

use crate::error::{Error, Result};
use crate::ids::PublicSessionId;
use crate::store::Db;
use crate::token::{hex, PreSessionId};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use sqlx::Row;
use subtle::ConstantTimeEq;

/// What a CSRF token is bound to.
#[derive(Debug, Clone, Copy)]
pub enum CsrfBinding<'a> {
    /// A signed-in session, by its public id.
    Session(&'a PublicSessionId),
    /// A visitor before login, by the pre-session cookie.
    PreSession(&'a PreSessionId),
}

#[derive(Clone)]
pub struct CsrfKey([u8; 32]);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(**redacted**)")
    }
}

const KEY_NAME: &str = "csrf_key_v1";

impl CsrfKey {
    /// Loads the shared key, creating it on first use. Safe when instances race: the first
    /// insert wins and everyone reads it back.
    pub async fn load_or_create(db: &Db) -> Result<Self> {
        let mut fresh = [0u8; 32];
        OsRng.fill_bytes(&mut fresh);
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(KEY_NAME)
            .bind(hex(&fresh))
            .execute(db.writer())
            .await?;
        let stored: String = sqlx::query("SELECT value FROM server_secrets WHERE name = $1")
            .bind(KEY_NAME)
            .fetch_one(db.writer())
            .await?
            .try_get("value")?;
        Self::from_hex(&stored)
    }

    fn from_hex(s: &str) -> Result<Self> {
        let bad = || Error::Internal("stored CSRF key is malformed".into());
        if s.len() != 64 {
            return Err(bad());
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Self(key))
    }

    #[cfg(test)]
    pub(crate) fn fixed(byte: u8) -> Self {
        Self([byte; 32])
    }

    pub fn token_for(&self, binding: CsrfBinding<'_>) -> String {
        let (kind, value) = match binding {
            CsrfBinding::Session(id) => ("session", id.as_str()),
            CsrfBinding::PreSession(id) => ("pre", id.expose()),
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(kind.as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Constant-time check of a token a client sent.
    pub fn verify(&self, binding: CsrfBinding<'_>, presented: &str) -> bool {
        let expected = self.token_for(binding);
        expected.len() == presented.len() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_to_their_subject_and_key() {
        const ID: &str = "abcdefghijklmnopqrstuv";
        let id = PublicSessionId::parse(ID).unwrap();
        let other = PublicSessionId::parse("abcdefghijklmnopqrstuw").unwrap();
        let pre = PreSessionId::parse(ID).unwrap();
        let key = CsrfKey::fixed(7);
        let t = key.token_for(CsrfBinding::Session(&id));
        assert!(key.verify(CsrfBinding::Session(&id), &t));
        assert!(!key.verify(CsrfBinding::Session(&other), &t));
        assert!(
            !key.verify(CsrfBinding::PreSession(&pre), &t),
            "a session token is not a pre-session token"
        );
        assert!(!CsrfKey::fixed(8).verify(CsrfBinding::Session(&id), &t));
        assert!(!key.verify(CsrfBinding::Session(&id), ""));
        assert!(!key.verify(CsrfBinding::Session(&id), &t[1..]));
    }

    #[test]
    fn keys_round_trip_through_hex_and_reject_garbage() {
        let key = CsrfKey::fixed(0xab);
        let back = CsrfKey::from_hex(&hex(&key.0)).unwrap();
        assert_eq!(back.0, key.0);
        assert!(CsrfKey::from_hex("zz").is_err());
        assert!(CsrfKey::from_hex(&"g".repeat(64)).is_err());
    }
}
