//! Identifiers and versions as types, so a platform id cannot be passed where a draft id is meant.
//! Database ids are positive integers; a session's public id is random text that is safe to show.
//! (The wire types in `app::wire::ids` are their serde twins, free of sqlx for the WASM build.)

use crate::domain::ParseError;
use std::fmt;

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::Type)]
        #[sqlx(transparent)]
        pub struct $name(i64);

        impl $name {
            /// An id as a client sends it: a positive integer.
            pub fn parse(raw: i64) -> Result<Self, ParseError> {
                if raw <= 0 {
                    return Err(ParseError::new($field, "must be a positive id"));
                }
                Ok(Self(raw))
            }

            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

row_id!(
    /// An account.
    UserId,
    "user_id"
);
row_id!(
    /// A platform connection of one user.
    PlatformId,
    "platform_id"
);
row_id!(
    /// A draft of one platform connection.
    DraftId,
    "draft_id"
);

/// A session's row id. Internal: clients see [`PublicSessionId`], never this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct SessionId(i64);

impl SessionId {
    /// As stored (only the store makes session ids).
    pub(crate) fn from_raw(raw: i64) -> Self {
        Self(raw)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A session's version: it grows with every change to the session (a switch, a platform change
/// while active, its end), so compare-and-set operations can tell a stale view from the current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct SessionVersion(i64);

impl SessionVersion {
    /// As stored (the store's versions are what it counted).
    pub(crate) fn from_stored(raw: i64) -> Self {
        Self(raw)
    }

    /// A version as a client sends it (`expected_version`): a positive integer.
    pub fn parse(raw: i64) -> Result<Self, ParseError> {
        if raw <= 0 {
            return Err(ParseError::new("expected_version", "must be a positive version"));
        }
        Ok(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for SessionVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The session's public identifier: random, not a credential, safe to show, log and send to the
/// browser (22 characters of base64url).
#[derive(Debug, Clone, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct PublicSessionId(String);

impl PublicSessionId {
    pub const LEN: usize = 22;

    pub(crate) fn new_unchecked(s: String) -> Self {
        Self(s)
    }

    /// A public id as a client sends it: exactly the shape we issue.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let ok = raw.len() == Self::LEN && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(ParseError::new("public_id", "is not a session id"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PublicSessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_must_be_positive_and_name_their_field() {
        assert_eq!(PlatformId::parse(0).unwrap_err().field, "platform_id");
        assert_eq!(DraftId::parse(-3).unwrap_err().field, "draft_id");
        assert_eq!(PlatformId::parse(7).unwrap().get(), 7);
        assert_eq!(SessionVersion::parse(0).unwrap_err().field, "expected_version");
        assert_eq!(SessionVersion::parse(4).unwrap().get(), 4);
    }

    #[test]
    fn public_ids_have_the_issued_shape() {
        assert!(PublicSessionId::parse("xi7JMS8oMtARu8cj95ms1A").is_ok());
        for bad in ["", "short", "xi7JMS8oMtARu8cj95ms1A=", "xi7JMS8oMtARu8cj95ms1!", &"a".repeat(23)] {
            assert!(PublicSessionId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
