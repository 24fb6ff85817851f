//! Values that cross the boundary from clients. Each parses or fails with a [`ParseError`] naming
//! the field: an invalid value cannot exist inside the engine. A leaf module: it knows nothing of
//! the store or the engine's errors (`Error::Invalid` wraps a `ParseError`).

use std::fmt;

/// Why a value a client sent was refused: the field, and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ParseError {
    pub field: &'static str,
    pub message: String,
}

impl ParseError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

pub type Result<T, E = ParseError> = std::result::Result<T, E>;

fn trimmed_len(field: &'static str, raw: &str, min: usize, max: usize) -> Result<String> {
    let s = raw.trim();
    let n = s.chars().count();
    if n < min {
        return Err(ParseError::new(
            field,
            if min == 1 {
                "must not be empty".into()
            } else {
                format!("must be at least {min} characters")
            },
        ));
    }
    if n > max {
        return Err(ParseError::new(field, format!("must be at most {max} characters")));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(ParseError::new(field, "must not contain control characters"));
    }
    Ok(s.to_owned())
}

fn single_line(field: &'static str, s: String) -> Result<String> {
    if s.contains(['\n', '\r', '\t']) {
        return Err(ParseError::new(field, "must be a single line"));
    }
    Ok(s)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self> {
        let s = single_line("email", trimmed_len("email", raw, 3, 254)?)?.to_lowercase();
        // An address is at most 254 octets (RFC 5321), not characters; lowercasing can grow it.
        if s.len() > 254 {
            return Err(ParseError::new("email", "must be at most 254 bytes"));
        }
        let (local, domain) = s
            .split_once('@')
            .ok_or_else(|| ParseError::new("email", "must look like name@example.org"))?;
        let ok = !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && !s.contains(char::is_whitespace)
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.');
        if !ok {
            return Err(ParseError::new("email", "must look like name@example.org"));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed. Never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN: usize = 10;
    pub const MAX: usize = 256;

    /// For new passwords: the length rules apply.
    pub fn parse_new(raw: &str) -> Result<Self> {
        let n = raw.chars().count();
        if n < Self::MIN {
            return Err(ParseError::new("password", format!("must be at least {} characters", Self::MIN)));
        }
        if n > Self::MAX {
            return Err(ParseError::new("password", format!("must be at most {} characters", Self::MAX)));
        }
        Ok(Self(raw.to_owned()))
    }

    /// For login: anything but an empty field is an attempt. One longer than [`Self::MAX`] cannot
    /// match a stored password (none is that long), so it simply fails to verify.
    pub fn parse_attempt(raw: &str) -> Result<Self> {
        if raw.is_empty() {
            return Err(ParseError::new("password", "must not be empty"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Whether this could be anyone's password at all (new passwords obey the length rules).
    pub fn is_plausible(&self) -> bool {
        (Self::MIN..=Self::MAX).contains(&self.0.chars().count())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(**redacted**)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self> {
        Ok(Self(single_line("display_name", trimmed_len("display_name", raw, 1, 64)?)?))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlatformKind {
    Mastodon,
    Pixelfed,
    Other,
}

impl PlatformKind {
    pub fn parse(raw: &str) -> Result<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "mastodon" => Ok(Self::Mastodon),
            "pixelfed" => Ok(Self::Pixelfed),
            "other" => Ok(Self::Other),
            _ => Err(ParseError::new("kind", "must be one of mastodon, pixelfed, other")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mastodon => "mastodon",
            Self::Pixelfed => "pixelfed",
            Self::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformLabel(String);

impl PlatformLabel {
    pub fn parse(raw: &str) -> Result<Self> {
        Ok(Self(single_line("label", trimmed_len("label", raw, 1, 64)?)?))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An instance's base URL: http(s), a host, nothing after the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceUrl(String);

impl InstanceUrl {
    pub fn parse(raw: &str) -> Result<Self> {
        const FIELD: &str = "instance_url";
        let s = single_line(FIELD, trimmed_len(FIELD, raw, 1, 255)?)?;
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or_else(|| ParseError::new(FIELD, "must start with https:// or http://"))?;
        let host = rest.split('/').next().unwrap_or("");
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
            && !host.starts_with('.')
            && !host.starts_with(':');
        if !host_ok || s.contains(['?', '#', ' ', '@']) {
            return Err(ParseError::new(FIELD, "must be a plain URL such as https://mastodon.social"));
        }
        Ok(Self(s.trim_end_matches('/').to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The account on the instance, e.g. `@alice` or `alice@mastodon.social`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle(String);

impl Handle {
    pub fn parse(raw: &str) -> Result<Self> {
        let s = single_line("handle", trimmed_len("handle", raw, 1, 128)?)?;
        if s.contains(char::is_whitespace) {
            return Err(ParseError::new("handle", "must not contain spaces"));
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftTitle(String);

impl DraftTitle {
    pub fn parse(raw: &str) -> Result<Self> {
        Ok(Self(single_line("title", trimmed_len("title", raw, 1, 200)?)?))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftBody(String);

impl DraftBody {
    pub const MAX: usize = 20_000;
    pub fn parse(raw: &str) -> Result<Self> {
        if raw.chars().count() > Self::MAX {
            return Err(ParseError::new("body", format!("must be at most {} characters", Self::MAX)));
        }
        if raw.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(ParseError::new("body", "must not contain control characters"));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Values this process parsed before and kept in another shape (the session cache packs them
/// into bytes), made again without parsing them twice.
macro_rules! parsed_before {
    ($($ty:ident),*) => {$(
        impl $ty {
            pub(crate) fn parsed_before(text: &str) -> Self {
                Self(text.to_owned())
            }
        }
    )*};
}
parsed_before!(Email, DisplayName, PlatformLabel, InstanceUrl, Handle);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Alice@Example.ORG ").unwrap().as_str(), "alice@example.org");
        for bad in ["", "alice", "alice@", "@example.org", "a@b@c.org", "a b@c.org", "a@nodot", "a@.org"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn passwords_have_length_rules_and_hide_in_debug() {
        assert!(Password::parse_new("short").is_err());
        assert!(Password::parse_new(&"x".repeat(300)).is_err());
        let p = Password::parse_new("correct horse battery").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
        assert!(Password::parse_attempt("").is_err());
        assert!(
            !Password::parse_attempt(&"x".repeat(300)).unwrap().is_plausible(),
            "too long to be anyone's"
        );
    }

    #[test]
    fn platform_fields_are_validated() {
        assert_eq!(PlatformKind::parse("Mastodon").unwrap(), PlatformKind::Mastodon);
        assert!(PlatformKind::parse("myspace").is_err());
        assert_eq!(
            InstanceUrl::parse("https://mastodon.social/").unwrap().as_str(),
            "https://mastodon.social"
        );
        for bad in [
            "mastodon.social",
            "ftp://x.org",
            "https://",
            "https://a b",
            "https://x.org?q=1",
            "https://u@x.org",
        ] {
            assert!(InstanceUrl::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(PlatformLabel::parse("   ").is_err());
        assert!(PlatformLabel::parse(&"l".repeat(65)).is_err());
        assert!(Handle::parse("@alice@mastodon.social").is_ok());
        assert!(Handle::parse("al ice").is_err());
    }

    #[test]
    fn drafts_are_bounded() {
        assert!(DraftTitle::parse("").is_err());
        assert!(DraftTitle::parse("two\nlines").is_err());
        assert!(DraftBody::parse("multi\nline is fine").is_ok());
        assert!(DraftBody::parse(&"b".repeat(DraftBody::MAX + 1)).is_err());
        assert!(DraftBody::parse("nul\u{0}").is_err());
    }
}
