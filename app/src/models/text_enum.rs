//! `text_enum!`: an enum that crosses the wire as one of a fixed set of strings. Serde's derive
//! would do the same, but its generated visitors cost the browser build several kilobytes per
//! enum; this reads and writes the text and matches it, once.

/// Declares the enum with `as_str`, `parse` and serde impls. With `unknown = Variant`, text that
/// matches no variant reads as that variant instead of failing (for codes a newer server adds).
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }
        $(unknown = $unknown:ident,)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The text on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        /// In the OpenAPI document: a string, one of the texts.
        #[cfg(feature = "ssr")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),*]))
                    .into()
            }
        }

        #[cfg(feature = "ssr")]
        impl utoipa::ToSchema for $name {}

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                match Self::parse(&text) {
                    Some(value) => Ok(value),
                    None => {
                        $(return Ok($name::$unknown);)?
                        #[allow(unreachable_code)]
                        Err(serde::de::Error::custom(format!("unknown {} {text:?}", stringify!($name))))
                    }
                }
            }
        }
    };
}

pub(crate) use text_enum;
