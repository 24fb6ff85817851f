//! Server secrets: 256-bit HMAC keys kept in the database (`server_secrets`), so every instance
//! of the server uses the same ones. The CSRF tokens and the client fingerprints are keyed by
//! them. A key never reaches a log: its `Debug` is redacted.

use crate::error::{Error, Result};
use crate::store::Db;
use crate::token::{hex, unhex32};
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use sqlx::Row;

/// Kept as the HMAC's state after the key is taken in: each MAC starts from a copy of it
/// instead of hashing the key's pads again (two of SHA-256's four block runs a MAC costs).
#[derive(Clone)]
pub struct SecretKey(Hmac<Sha256>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(**redacted**)")
    }
}

impl SecretKey {
    /// Loads the key called `name`, creating it on first use. Safe when instances race: the
    /// first insert wins and everyone reads it back.
    pub async fn load_or_create(db: &Db, name: &str) -> Result<Self> {
        let mut fresh = [0u8; 32];
        OsRng.fill_bytes(&mut fresh);
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(hex(&fresh))
            .execute(db.writer())
            .await?;
        let stored: String = sqlx::query("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(db.writer())
            .await?
            .try_get("value")?;
        Self::from_hex(&stored).ok_or_else(|| Error::Internal(format!("stored secret {name} is malformed")))
    }

    fn from_hex(s: &str) -> Option<Self> {
        unhex32(s).map(|key| Self::of(&key))
    }

    fn of(key: &[u8; 32]) -> Self {
        Self(Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length"))
    }

    /// A key of one repeated byte, for tests.
    pub fn fixed(byte: u8) -> Self {
        Self::of(&[byte; 32])
    }

    /// A fresh random key that lives only in this process.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        Self::of(&key)
    }

    /// HMAC-SHA256 of `parts`, one after the other (the caller separates them where it
    /// matters).
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_hex_and_reject_garbage() {
        let key = SecretKey::fixed(0xab);
        assert_eq!(SecretKey::from_hex(&hex(&[0xab; 32])).unwrap().mac(&[b"x"]), key.mac(&[b"x"]));
        assert!(SecretKey::from_hex("zz").is_none());
        assert!(SecretKey::from_hex(&"g".repeat(64)).is_none());
        assert!(SecretKey::from_hex(&"é".repeat(32)).is_none(), "64 bytes but not hex");
    }

    #[test]
    fn macs_are_of_the_parts_joined_and_depend_on_the_key() {
        let key = SecretKey::fixed(1);
        assert_eq!(key.mac(&[b"ab", b"c"]), key.mac(&[b"abc"]));
        assert_ne!(key.mac(&[b"ab"]), key.mac(&[b"ac"]));
        assert_ne!(key.mac(&[b"ab"]), SecretKey::fixed(2).mac(&[b"ab"]));
    }
}
