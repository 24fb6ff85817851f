//! Property tests for every parser a client's input reaches in the engine: the session token and
//! pre-session id (cookies), CSRF tokens, the form fields' domain values and ids. For any input:
//! no panic; what is accepted is exactly the documented shape; parsing is idempotent (a parsed
//! value parses again to itself).

use crate::csrf::{CsrfBinding, CsrfKey};
use crate::domain::{DisplayName, DraftBody, DraftTitle, Email, Handle, InstanceUrl, Password, PlatformKind, PlatformLabel};
use crate::ids::{PlatformId, PublicSessionId, SessionVersion, UserId};
use crate::token::{PreSessionId, SessionToken};
use proptest::prelude::*;

fn is_b64url(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Text a client might send: arbitrary Unicode, and near-misses of the valid shapes.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,60}",
        "[ -~]{0,300}",
        "[a-z0-9.+_-]{0,20}@[a-z0-9.-]{0,20}",
        "(https?|ftp|javascript)://[ -~]{0,40}",
        "\\PC{0,5000}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn tokens_and_pre_session_ids_accept_exactly_their_shape(s in hostile_text()) {
        let token = SessionToken::parse(&s);
        prop_assert_eq!(token.is_some(), s.len() == 43 && is_b64url(&s));
        if let Some(t) = token {
            prop_assert_eq!(t.expose(), s.as_str());
            prop_assert_eq!(t.hash().as_str().len(), 64);
        }
        let pre = PreSessionId::parse(&s);
        prop_assert_eq!(pre.is_some(), s.len() == 22 && is_b64url(&s));
    }

    #[test]
    fn issued_tokens_parse_back(_n in 0..64u8) {
        let token = SessionToken::generate();
        prop_assert_eq!(SessionToken::parse(token.expose()), Some(token.clone()));
        let pre = PreSessionId::generate();
        prop_assert_eq!(PreSessionId::parse(pre.expose()).map(|p| p.expose().to_owned()), Some(pre.expose().to_owned()));
    }

    #[test]
    fn a_csrf_token_verifies_only_for_its_binding(presented in hostile_text(), byte in any::<u8>()) {
        let key = CsrfKey::fixed(byte);
        let pre = PreSessionId::generate();
        let session = PublicSessionId::parse("abcdefghijklmnopqrstuv").unwrap();
        let for_pre = key.token_for(CsrfBinding::PreSession(&pre));
        let for_session = key.token_for(CsrfBinding::Session(&session));
        prop_assert!(key.verify(CsrfBinding::PreSession(&pre), &for_pre));
        prop_assert!(!key.verify(CsrfBinding::Session(&session), &for_pre));
        prop_assert!(!key.verify(CsrfBinding::PreSession(&pre), &for_session));
        prop_assert!(!CsrfKey::fixed(byte.wrapping_add(1)).verify(CsrfBinding::PreSession(&pre), &for_pre));
        prop_assert!(key.verify(CsrfBinding::PreSession(&pre), &key.token_for(CsrfBinding::PreSession(&pre))), "any masking verifies");
        prop_assert!(!key.verify(CsrfBinding::PreSession(&pre), &presented), "hostile text never does");
    }

    #[test]
    fn form_values_parse_idempotently_and_within_bounds(s in hostile_text()) {
        if let Ok(email) = Email::parse(&s) {
            prop_assert!(email.as_str().len() <= 254 && email.as_str().contains('@'));
            prop_assert_eq!(email.as_str(), email.as_str().to_lowercase());
            prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
        }
        if let Ok(name) = DisplayName::parse(&s) {
            prop_assert!(!name.as_str().is_empty());
            prop_assert_eq!(DisplayName::parse(name.as_str()), Ok(name.clone()));
        }
        if let Ok(label) = PlatformLabel::parse(&s) {
            prop_assert_eq!(PlatformLabel::parse(label.as_str()), Ok(label.clone()));
        }
        if let Ok(url) = InstanceUrl::parse(&s) {
            prop_assert!(url.as_str().starts_with("https://") || url.as_str().starts_with("http://"));
            prop_assert_eq!(InstanceUrl::parse(url.as_str()), Ok(url.clone()));
        }
        if let Ok(handle) = Handle::parse(&s) {
            prop_assert_eq!(Handle::parse(handle.as_str()), Ok(handle.clone()));
        }
        if let Ok(title) = DraftTitle::parse(&s) {
            prop_assert_eq!(DraftTitle::parse(title.as_str()), Ok(title.clone()));
        }
        if let Ok(body) = DraftBody::parse(&s) {
            prop_assert_eq!(DraftBody::parse(body.as_str()), Ok(body.clone()));
        }
        if let Ok(kind) = PlatformKind::parse(&s) {
            prop_assert_eq!(PlatformKind::parse(kind.as_str()), Ok(kind));
        }
        let _ = Password::parse_new(&s);
        let _ = Password::parse_attempt(&s);
        let _ = PublicSessionId::parse(&s);
    }

    #[test]
    fn ids_and_versions_are_positive(raw in any::<i64>()) {
        prop_assert_eq!(PlatformId::parse(raw).is_ok(), raw > 0);
        prop_assert_eq!(UserId::parse(raw).is_ok(), raw > 0);
        prop_assert_eq!(SessionVersion::parse(raw).is_ok(), raw > 0);
    }
}
