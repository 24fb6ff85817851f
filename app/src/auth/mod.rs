//! Signing in and out as pages see it: where a visitor goes after signing in (only a path on this
//! site), and the `/login` address that says why a session ended. The server side (the request
//! context, cookies, engine errors as API errors) is [`ssr`].

#[cfg(feature = "ssr")]
pub mod ssr;

use crate::models::EndReason;

/// `next` if it is a path on this site (`/…`, not `//host` or `/\host`), else `None`: where to
/// go after signing in, never somewhere else.
pub fn local_path(next: Option<&str>) -> Option<&str> {
    let next = next?;
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 512
        && !next.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(next)
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/login`, with why the session ended (unless it never existed) and the page to return to.
pub fn login_path(ended: EndReason, here: &str) -> String {
    let mut query = Vec::new();
    if ended != EndReason::Unauthenticated {
        query.push(format!("reason={}", ended.as_str()));
    }
    if here != "/" && local_path(Some(here)).is_some() {
        query.push(format!("next={}", encode(here)));
    }
    if query.is_empty() {
        "/login".to_owned()
    } else {
        format!("/login?{}", query.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for good in ["/", "/platforms", "/?x=1#y"] {
            assert_eq!(local_path(Some(good)), Some(good), "{good}");
        }
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "",
            "/a\nb",
            "/a\\b",
        ] {
            assert_eq!(local_path(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(local_path(None), None);
    }

    #[test]
    fn login_keeps_the_reason_and_the_page_to_return_to() {
        assert_eq!(login_path(EndReason::Unauthenticated, "/"), "/login");
        assert_eq!(
            login_path(EndReason::SessionExpired, "/platforms"),
            "/login?reason=session_expired&next=%2Fplatforms"
        );
        assert_eq!(
            login_path(EndReason::LoggedOut, "/?a=b&c"),
            "/login?reason=logged_out&next=%2F%3Fa%3Db%26c"
        );
        assert_eq!(login_path(EndReason::Unauthenticated, "//evil.example"), "/login");
    }

    #[test]
    fn every_reason_reads_back_from_the_login_address() {
        for r in [
            EndReason::Unauthenticated,
            EndReason::LoggedOut,
            EndReason::SessionExpired,
            EndReason::SessionRevoked,
        ] {
            assert_eq!(EndReason::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str(), "the wire and the address agree");
        }
    }
}
