//! The one registry of server functions (server side). The request layer reads each endpoint's
//! method, accepted fields and whether it counts as activity from it; a test checks that it
//! lists every server function `server_fn` registered, so a new one cannot be forgotten.

use crate::auth::ssr::Activity;
use crate::functions::*;
use crate::pages::PageFragment;
use serde::de::DeserializeOwned;
use server_fn::ServerFn;
use std::sync::OnceLock;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

/// One server function as the request layer (and the OpenAPI document) sees it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub path: &'static str,
    pub method: http::Method,
    /// What it does, in a line (the OpenAPI document's summary).
    pub summary: &'static str,
    /// The form fields it takes (besides `csrf_token`), read from its argument struct.
    pub fields: &'static [&'static str],
    /// The same fields with what each holds, read from the same struct.
    pub inputs: &'static [Input],
    /// The JSON schema of a successful answer, and the named schemas it refers to.
    pub output: fn(&mut NamedSchemas) -> RefOr<Schema>,
    pub activity: Activity,
}

/// Schemas by name, as `$ref`s name them: the OpenAPI document's components.
pub type NamedSchemas = Vec<(String, RefOr<Schema>)>;

/// A form field of a server function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    pub name: &'static str,
    pub kind: InputKind,
    /// `Option` fields may be left out.
    pub required: bool,
}

/// What a form field holds, as its type reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Text,
    Boolean,
    /// A whole number from `min` to `max`.
    Integer {
        min: i128,
        max: i128,
    },
}

impl Endpoint {
    fn of<S>(activity: Activity, summary: &'static str) -> Self
    where
        S: ServerFn + DeserializeOwned,
        S::Output: ToSchema,
    {
        let method = server_fn::axum::server_fn_paths()
            .find(|(path, _)| *path == S::PATH)
            .map(|(_, method)| method)
            .unwrap_or_else(|| panic!("{} is not a registered server function", S::PATH));
        let fields = field_names::<S>();
        let inputs: Vec<Input> = fields.iter().map(|name| trace_input::<S>(name)).collect();
        Self {
            path: S::PATH,
            method,
            summary,
            fields,
            inputs: inputs.leak(),
            output: output_schema::<S::Output>,
            activity,
        }
    }
}

/// `T`'s schema, with the named schemas it refers to added to `named`.
fn output_schema<T: ToSchema>(named: &mut NamedSchemas) -> RefOr<Schema> {
    T::schemas(named);
    T::schema()
}

/// Every server function, once.
pub fn endpoints() -> &'static [Endpoint] {
    static ALL: OnceLock<Vec<Endpoint>> = OnceLock::new();
    ALL.get_or_init(|| {
        use Activity::{Background, User};
        vec![
            Endpoint::of::<GetSessionState>(User, "The signed-in session: user, active platform, platforms, session, CSRF token"),
            Endpoint::of::<CurrentSession>(User, "The session if signed in, else why not (answers 200 when signed out)"),
            Endpoint::of::<CheckSession>(
                Background,
                "The periodic check of a tab: the session, or why it ended (not activity)",
            ),
            Endpoint::of::<ExtendSession>(User, "Counts as activity: restarts the idle timeout (the Stay signed in button)"),
            Endpoint::of::<Login>(User, "Signs in with email and password; sets the session cookie"),
            Endpoint::of::<Register>(User, "Creates an account and signs in (when registration is open)"),
            Endpoint::of::<Logout>(User, "Ends this session and clears its cookie"),
            Endpoint::of::<SwitchPlatform>(
                User,
                "Makes a platform active; with expected_version, only if the session is still at it (409 otherwise)",
            ),
            Endpoint::of::<AddPlatform>(User, "Adds a platform connection"),
            Endpoint::of::<RenamePlatform>(User, "Renames a platform connection"),
            Endpoint::of::<RemovePlatform>(User, "Removes a platform connection and its drafts"),
            Endpoint::of::<ListDrafts>(User, "The drafts of the active platform"),
            Endpoint::of::<AddDraft>(User, "Adds a draft to the active platform"),
            Endpoint::of::<EditDraft>(User, "Changes a draft of the active platform"),
            Endpoint::of::<DeleteDraft>(User, "Deletes a draft of the active platform"),
            Endpoint::of::<ListSessions>(User, "The account's live sessions, this one marked current"),
            Endpoint::of::<RevokeSession>(User, "Ends another session of the account"),
            Endpoint::of::<RevokeOtherSessions>(User, "Ends every other session of the account"),
            Endpoint::of::<SignOutEverywhere>(User, "Ends every session of the account, this one too"),
            Endpoint::of::<DisownSession>(User, "Reports a session as not yours: ends it and asks for the password again"),
            Endpoint::of::<ChangePassword>(
                User,
                "Changes the password (recent password entry needed); may end the other sessions",
            ),
            Endpoint::of::<Reauthenticate>(User, "Enters the password again, for sensitive actions"),
            Endpoint::of::<SecurityEvents>(User, "The account's own audit record, newest first"),
            Endpoint::of::<AdminUsers>(User, "Administrators: every account"),
            Endpoint::of::<AdminUserSessions>(User, "Administrators: an account and its live sessions"),
            Endpoint::of::<AdminRevokeSession>(User, "Administrators: ends any account's session"),
            Endpoint::of::<DisableUser>(User, "Administrators: disables an account and ends its sessions"),
            Endpoint::of::<EnableUser>(User, "Administrators: enables a disabled account"),
            Endpoint::of::<AuditPage>(User, "Administrators: a page of the audit log, newest first, filtered"),
            Endpoint::of::<PageFragment>(
                User,
                "A page's HTML fragment, rendered for the caller (the app's client-side navigation)",
            ),
            Endpoint::of::<SessionCount>(User, "How many live sessions the account has"),
        ]
    })
}

pub use crate::functions::SESSION_EVENTS;

/// Whether a request to a path that is not a server function counts as activity: only the push
/// stream does not (it is held open by the browser, not by its user).
pub fn activity_of(path: &str) -> Activity {
    if path == SESSION_EVENTS {
        Activity::Background
    } else {
        Activity::User
    }
}

/// The endpoint at `path`, if there is one.
pub fn endpoint(path: &str) -> Option<&'static Endpoint> {
    endpoints().iter().find(|e| e.path == path)
}

/// The field names a type's `Deserialize` asks for: serde hands them to `deserialize_struct`.
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Deserializer, Error, Visitor};
    type E = serde::de::value::Error;

    struct Names(Option<&'static [&'static str]>);
    impl<'de> Deserializer<'de> for &mut Names {
        type Error = E;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
            Err(E::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(self, _: &'static str, fields: &'static [&'static str], _: V) -> Result<V::Value, E> {
            self.0 = Some(fields);
            Err(E::custom("read the field names"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut names = Names(None);
    let _ = T::deserialize(&mut names);
    names.0.unwrap_or(&[])
}

/// What `T` makes of the field `name`: its argument struct is handed a map holding only that
/// key, and the value it then asks for (`deserialize_option`, then `deserialize_u32`, …) says
/// what the field holds. No value is ever made; the answer is read from the questions.
fn trace_input<T: DeserializeOwned>(name: &'static str) -> Input {
    use serde::de::{DeserializeSeed, Deserializer, Error, IntoDeserializer, MapAccess, Visitor};
    type E = serde::de::value::Error;

    struct Probe {
        name: &'static str,
        key_given: bool,
        optional: bool,
        kind: Option<InputKind>,
    }

    /// The argument struct's view: a map with the one key.
    struct Map<'a>(&'a mut Probe);
    impl<'de> Deserializer<'de> for Map<'_> {
        type Error = E;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
            Err(E::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(self, _: &'static str, _: &'static [&'static str], v: V) -> Result<V::Value, E> {
            v.visit_map(self)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    impl<'de> MapAccess<'de> for Map<'_> {
        type Error = E;
        fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, E> {
            if std::mem::replace(&mut self.0.key_given, true) {
                return Ok(None);
            }
            seed.deserialize(self.0.name.into_deserializer()).map(Some)
        }
        fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, E> {
            seed.deserialize(Value(self.0))
        }
    }

    /// The field's value: records what is asked of it.
    struct Value<'a>(&'a mut Probe);
    impl Value<'_> {
        fn is<T>(self, kind: InputKind) -> Result<T, E> {
            self.0.kind = Some(kind);
            Err(E::custom("traced"))
        }
        fn int<T, N: Into<i128>>(self, min: N, max: N) -> Result<T, E> {
            self.is(InputKind::Integer {
                min: min.into(),
                max: max.into(),
            })
        }
    }
    impl<'de> Deserializer<'de> for Value<'_> {
        type Error = E;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
            self.is(InputKind::Text)
        }
        fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, E> {
            self.0.optional = true;
            v.visit_some(self)
        }
        fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, v: V) -> Result<V::Value, E> {
            v.visit_newtype_struct(self)
        }
        fn deserialize_bool<V: Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
            self.is(InputKind::Boolean)
        }
        fn deserialize_i32<V: Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
            self.int(i32::MIN, i32::MAX)
        }
        fn deserialize_i64<V: Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
            self.int(i64::MIN, i64::MAX)
        }
        fn deserialize_u32<V: Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
            self.int(0, u32::MAX)
        }
        fn deserialize_u64<V: Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
            self.int(0, u64::MAX)
        }
        serde::forward_to_deserialize_any! {
            i8 i16 i128 u8 u16 u128 f32 f64 char str string bytes byte_buf unit
            unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
        }
    }

    let mut probe = Probe {
        name,
        key_given: false,
        optional: false,
        kind: None,
    };
    let _ = T::deserialize(Map(&mut probe));
    Input {
        name,
        kind: probe.kind.unwrap_or(InputKind::Text),
        required: !probe.optional,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_function_is_in_the_registry() {
        let listed: Vec<_> = endpoints().iter().map(|e| (e.path, e.method.clone())).collect();
        for (path, method) in server_fn::axum::server_fn_paths() {
            assert!(
                listed.contains(&(path, method.clone())),
                "{method} {path} is missing from registry::endpoints()"
            );
        }
        assert_eq!(listed.len(), server_fn::axum::server_fn_paths().count(), "listed twice");
    }

    #[test]
    fn fields_are_read_from_the_signatures() {
        assert_eq!(endpoint(Login::PATH).unwrap().fields, ["email", "password", "next"]);
        assert_eq!(endpoint(SwitchPlatform::PATH).unwrap().fields, ["platform_id", "expected_version"]);
        assert!(endpoint(Logout::PATH).unwrap().fields.is_empty());
        assert_eq!(endpoint(CheckSession::PATH).unwrap().activity, Activity::Background);
        assert_eq!(endpoint(CheckSession::PATH).unwrap().method, http::Method::GET);
        assert_eq!(endpoint(AddDraft::PATH).unwrap().method, http::Method::POST);
    }

    #[test]
    fn inputs_are_traced_from_the_signatures() {
        use InputKind::*;
        let switch = endpoint(SwitchPlatform::PATH).unwrap();
        let id = Integer {
            min: i64::MIN.into(),
            max: i64::MAX.into(),
        };
        assert_eq!(
            switch.inputs,
            [
                Input {
                    name: "platform_id",
                    kind: id,
                    required: true
                },
                Input {
                    name: "expected_version",
                    kind: id,
                    required: false
                },
            ]
        );
        let check = endpoint(CheckSession::PATH).unwrap();
        let kinds: Vec<_> = check.inputs.iter().map(|i| (i.name, i.kind, i.required)).collect();
        assert_eq!(
            kinds,
            [
                (
                    "checks",
                    Integer {
                        min: 0,
                        max: u32::MAX.into()
                    },
                    false
                ),
                (
                    "over_ms",
                    Integer {
                        min: 0,
                        max: u64::MAX.into()
                    },
                    false
                ),
                ("propagation_us", Text, false),
            ]
        );
        let login = endpoint(Login::PATH).unwrap();
        assert!(login.inputs.iter().all(|i| i.kind == Text));
        assert_eq!(login.inputs.iter().filter(|i| i.required).count(), 2, "next is optional");
        // Timestamps and enums are read from text.
        let audit = endpoint(AuditPage::PATH).unwrap();
        assert!(audit.inputs.iter().any(|i| i.name == "from" && i.kind == Text && !i.required));
        for e in endpoints() {
            assert_eq!(e.inputs.iter().map(|i| i.name).collect::<Vec<_>>(), e.fields, "{}", e.path);
        }
    }

    #[test]
    fn outputs_name_the_schemas_they_use() {
        let mut named = Vec::new();
        let schema = (endpoint(GetSessionState::PATH).unwrap().output)(&mut named);
        let json = serde_json::to_value(&schema).unwrap();
        assert_eq!(json["properties"]["user"]["$ref"], "#/components/schemas/UserView");
        let names: Vec<_> = named.iter().map(|(n, _)| n.as_str()).collect();
        for name in ["UserView", "PlatformView", "SessionView", "Timestamp"] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
    }
}
