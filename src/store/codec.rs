//! How parsed values are stored: as their text, and parsed again when read, so a value decoded
//! from the store is as valid as one a client sent (an invalid stored value is a decode error,
//! reported as our fault, never passed on). Each type's rule is written once and read by both
//! decoders: sqlx's (the pools) and rusqlite's (SQLite's reads on the caller's thread, `local`).

use crate::clock::Timestamp;
use crate::domain::{DisplayName, DraftBody, DraftTitle, Email, Handle, InstanceUrl, PlatformKind, PlatformLabel};
use crate::ids::{PlatformId, PublicSessionId, SessionId, SessionVersion, UserId};
use crate::model::EndReason;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

macro_rules! stored_as_text {
    ($($ty:ty => parse: $parse:expr, text: $text:expr;)*) => {$(
        impl<DB: Database> Type<DB> for $ty
        where
            String: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $ty
        where
            String: Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <String as Decode<'r, DB>>::decode(value)?;
                let parse: fn(&str) -> Option<$ty> = $parse;
                parse(&text).ok_or_else(|| format!("stored {} {text:?} does not parse", stringify!($ty)).into())
            }
        }

        impl rusqlite::types::FromSql for $ty {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let text = value.as_str()?;
                let parse: fn(&str) -> Option<$ty> = $parse;
                parse(text).ok_or_else(|| unparsed(stringify!($ty)))
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $ty
        where
            String: Encode<'q, DB>,
        {
            fn encode_by_ref(&self, buf: &mut DB::ArgumentBuffer<'q>) -> Result<IsNull, BoxDynError> {
                let text: fn(&$ty) -> &str = $text;
                <String as Encode<'q, DB>>::encode(text(self).to_owned(), buf)
            }
        }
    )*};
}

stored_as_text! {
    Email => parse: |s| Email::parse(s).ok(), text: |v| v.as_str();
    DisplayName => parse: |s| DisplayName::parse(s).ok(), text: |v| v.as_str();
    PlatformKind => parse: |s| PlatformKind::parse(s).ok(), text: |v| v.as_str();
    PlatformLabel => parse: |s| PlatformLabel::parse(s).ok(), text: |v| v.as_str();
    InstanceUrl => parse: |s| InstanceUrl::parse(s).ok(), text: |v| v.as_str();
    Handle => parse: |s| Handle::parse(s).ok(), text: |v| v.as_str();
    DraftTitle => parse: |s| DraftTitle::parse(s).ok(), text: |v| v.as_str();
    DraftBody => parse: |s| DraftBody::parse(s).ok(), text: |v| v.as_str();
    EndReason => parse: EndReason::from_stored, text: |v| v.as_str();
}

/// The types sqlx reads as their one column (`#[sqlx(transparent)]`), as rusqlite reads them.
macro_rules! stored_as_is {
    ($($ty:ty => |$v:ident: $raw:ty| $make:expr;)*) => {$(
        impl rusqlite::types::FromSql for $ty {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let $v = <$raw as rusqlite::types::FromSql>::column_result(value)?;
                let made: Option<$ty> = $make;
                made.ok_or_else(|| unparsed(stringify!($ty)))
            }
        }
    )*};
}

stored_as_is! {
    SessionId => |v: i64| Some(SessionId::from_raw(v));
    UserId => |v: i64| UserId::parse(v).ok();
    PlatformId => |v: i64| PlatformId::parse(v).ok();
    SessionVersion => |v: i64| Some(SessionVersion::from_stored(v));
    Timestamp => |v: i64| Some(Timestamp(v));
    PublicSessionId => |v: String| Some(PublicSessionId::new_unchecked(v));
}

fn unparsed(what: &str) -> rusqlite::types::FromSqlError {
    rusqlite::types::FromSqlError::Other(format!("stored {what} does not parse").into())
}
