//! CSRF tokens: HMAC-SHA256 of what the token is bound to (the session's public id after login,
//! the pre-session cookie before), under a key kept in the database so every server instance
//! issues and accepts the same tokens. Stateless: nothing is written per token. Each token is
//! the HMAC masked by a fresh pad, so it is different text in every answer (see
//! [`CsrfKey::token_for`]).

use crate::error::Result;
use crate::ids::PublicSessionId;
use crate::secrets::SecretKey;
use crate::store::Db;
use crate::token::PreSessionId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use subtle::ConstantTimeEq;

/// What a CSRF token is bound to.
#[derive(Debug, Clone, Copy)]
pub enum CsrfBinding<'a> {
    /// A signed-in session, by its public id.
    Session(&'a PublicSessionId),
    /// A visitor before login, by the pre-session cookie.
    PreSession(&'a PreSessionId),
}

#[derive(Clone, Debug)]
pub struct CsrfKey(SecretKey);

const KEY_NAME: &str = "csrf_key_v1";

impl CsrfKey {
    /// Loads the shared key, creating it on first use.
    pub async fn load_or_create(db: &Db) -> Result<Self> {
        Ok(Self(SecretKey::load_or_create(db, KEY_NAME).await?))
    }

    #[cfg(test)]
    pub(crate) fn fixed(byte: u8) -> Self {
        Self(SecretKey::fixed(byte))
    }

    /// The HMAC a binding's tokens carry.
    fn mac_for(&self, binding: CsrfBinding<'_>) -> [u8; 32] {
        let (kind, value) = match binding {
            CsrfBinding::Session(id) => ("session", id.as_str()),
            CsrfBinding::PreSession(id) => ("pre", id.expose()),
        };
        self.0.mac(&[kind.as_bytes(), b":", value.as_bytes()])
    }

    /// A token for `binding`: its HMAC masked by a fresh random pad (`pad || mac XOR pad`,
    /// base64url, 86 characters), so no two answers carry the same text. Pages are compressed,
    /// and a secret repeated in a compressed page beside text an attacker chooses (a reflected
    /// query parameter) could be read back from the answer's length (BREACH); a token that is
    /// different text in every answer cannot.
    pub fn token_for(&self, binding: CsrfBinding<'_>) -> String {
        let mac = self.mac_for(binding);
        let mut masked = [0u8; 64];
        // The thread's CSPRNG (ChaCha, seeded and reseeded from the OS): the pad only has to be
        // unpredictable, and a `getrandom` system call for every answer that carries a token
        // was 0.9% of a cached read's profile.
        rand::thread_rng().fill_bytes(&mut masked[..32]);
        for i in 0..32 {
            masked[32 + i] = mac[i] ^ masked[i];
        }
        URL_SAFE_NO_PAD.encode(masked)
    }

    /// Constant-time check of a token a client sent: any masking of the binding's HMAC, or the
    /// bare HMAC (43 characters, as tokens were before masking).
    pub fn verify(&self, binding: CsrfBinding<'_>, presented: &str) -> bool {
        if presented.len() != 86 && presented.len() != 43 {
            return false;
        }
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(presented) else {
            return false;
        };
        let mut mac = [0u8; 32];
        match bytes.len() {
            64 => {
                for i in 0..32 {
                    mac[i] = bytes[32 + i] ^ bytes[i];
                }
            }
            32 => mac.copy_from_slice(&bytes),
            _ => return false,
        }
        bool::from(mac.ct_eq(&self.mac_for(binding)))
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
    fn every_token_is_new_text_for_the_same_secret() {
        let id = PublicSessionId::parse("abcdefghijklmnopqrstuv").unwrap();
        let key = CsrfKey::fixed(7);
        let (a, b) = (key.token_for(CsrfBinding::Session(&id)), key.token_for(CsrfBinding::Session(&id)));
        assert_ne!(a, b, "masked by a fresh pad each time");
        assert_eq!(a.len(), 86);
        assert!(key.verify(CsrfBinding::Session(&id), &a) && key.verify(CsrfBinding::Session(&id), &b));
        // The bare HMAC (a token from before masking) still verifies; a flipped bit does not.
        let bare = URL_SAFE_NO_PAD.encode(key.mac_for(CsrfBinding::Session(&id)));
        assert!(key.verify(CsrfBinding::Session(&id), &bare));
        let mut bytes = URL_SAFE_NO_PAD.decode(&a).unwrap();
        bytes[40] ^= 1;
        assert!(!key.verify(CsrfBinding::Session(&id), &URL_SAFE_NO_PAD.encode(bytes)));
    }
}
