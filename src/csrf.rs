//! CSRF tokens: HMAC-SHA256 of what the token is bound to (the session's public id after login,
//! the pre-session cookie before), under a key kept in the database so every server instance
//! issues and accepts the same tokens. Stateless: nothing is written per token.

use crate::error::Result;
use crate::ids::PublicSessionId;
use crate::secrets::SecretKey;
use crate::store::Db;
use crate::token::PreSessionId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
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

    pub fn token_for(&self, binding: CsrfBinding<'_>) -> String {
        let (kind, value) = match binding {
            CsrfBinding::Session(id) => ("session", id.as_str()),
            CsrfBinding::PreSession(id) => ("pre", id.expose()),
        };
        URL_SAFE_NO_PAD.encode(self.0.mac(&[kind.as_bytes(), b":", value.as_bytes()]))
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
}
