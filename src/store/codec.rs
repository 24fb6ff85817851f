//! How parsed values are stored: as their text, and parsed again when read, so a value decoded
//! from the store is as valid as one a client sent (an invalid stored value is a decode error,
//! reported as our fault, never passed on).

use crate::domain::{DisplayName, DraftBody, DraftTitle, Email, Handle, InstanceUrl, PlatformKind, PlatformLabel};
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
