//! The one registry of server functions (server side). The request layer reads each endpoint's
//! method, accepted fields and whether it counts as activity from it; a test checks that it
//! lists every server function `server_fn` registered, so a new one cannot be forgotten.

use crate::auth::ssr::Activity;
use crate::functions::*;
use crate::pages::PageFragment;
use serde::de::DeserializeOwned;
use server_fn::ServerFn;
use std::sync::OnceLock;

/// One server function as the request layer sees it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub path: &'static str,
    pub method: http::Method,
    /// The form fields it takes (besides `csrf_token`), read from its argument struct.
    pub fields: &'static [&'static str],
    pub activity: Activity,
}

impl Endpoint {
    fn of<S: ServerFn + DeserializeOwned>(activity: Activity) -> Self {
        let method = server_fn::axum::server_fn_paths()
            .find(|(path, _)| *path == S::PATH)
            .map(|(_, method)| method)
            .unwrap_or_else(|| panic!("{} is not a registered server function", S::PATH));
        Self {
            path: S::PATH,
            method,
            fields: field_names::<S>(),
            activity,
        }
    }
}

/// Every server function, once.
pub fn endpoints() -> &'static [Endpoint] {
    static ALL: OnceLock<Vec<Endpoint>> = OnceLock::new();
    ALL.get_or_init(|| {
        use Activity::{Background, User};
        vec![
            Endpoint::of::<GetSessionState>(User),
            Endpoint::of::<CurrentSession>(User),
            Endpoint::of::<CheckSession>(Background),
            Endpoint::of::<ExtendSession>(User),
            Endpoint::of::<Login>(User),
            Endpoint::of::<Register>(User),
            Endpoint::of::<Logout>(User),
            Endpoint::of::<SwitchPlatform>(User),
            Endpoint::of::<AddPlatform>(User),
            Endpoint::of::<RenamePlatform>(User),
            Endpoint::of::<RemovePlatform>(User),
            Endpoint::of::<ListDrafts>(User),
            Endpoint::of::<AddDraft>(User),
            Endpoint::of::<EditDraft>(User),
            Endpoint::of::<DeleteDraft>(User),
            Endpoint::of::<ListSessions>(User),
            Endpoint::of::<RevokeSession>(User),
            Endpoint::of::<RevokeOtherSessions>(User),
            Endpoint::of::<SignOutEverywhere>(User),
            Endpoint::of::<DisownSession>(User),
            Endpoint::of::<ChangePassword>(User),
            Endpoint::of::<Reauthenticate>(User),
            Endpoint::of::<SecurityEvents>(User),
            Endpoint::of::<AdminUsers>(User),
            Endpoint::of::<AdminUserSessions>(User),
            Endpoint::of::<AdminRevokeSession>(User),
            Endpoint::of::<DisableUser>(User),
            Endpoint::of::<EnableUser>(User),
            Endpoint::of::<AuditPage>(User),
            Endpoint::of::<PageFragment>(User),
            Endpoint::of::<SessionCount>(User),
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
}
