//! Ids and versions on the wire: the serde twins of the engine's newtypes (`switchboard::ids`),
//! free of sqlx so the browser build stays small. Each serialises as the bare number or string.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! wire_id {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        #[cfg(feature = "ssr")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <$inner as utoipa::PartialSchema>::schema()
            }
        }

        #[cfg(feature = "ssr")]
        impl utoipa::ToSchema for $name {}

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

wire_id!(
    /// An account.
    UserId(i64)
);
wire_id!(
    /// A platform connection.
    PlatformId(i64)
);
wire_id!(
    /// A draft.
    DraftId(i64)
);
wire_id!(
    /// The session's public id: not the token, safe to show.
    PublicSessionId(String)
);
wire_id!(
    /// Grows with every change to the session (switch, platform change, logout).
    SessionVersion(i64)
);

impl Copy for UserId {}
impl Copy for PlatformId {}
impl Copy for DraftId {}
impl Copy for SessionVersion {}

impl PlatformId {
    /// The id in a form field (`<select>` value, hidden input).
    pub fn parse(field: &str) -> Option<Self> {
        field.parse().ok().map(Self)
    }
}
