//! The device a session was started from, as people recognise it ("Firefox 128 on Linux"), read
//! from the user agent with `woothee`. The raw user agent is kept beside it.

use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Browser family and major version, e.g. `Chrome 120`.
    pub browser: String,
    /// Operating system, e.g. `Mac OSX` or `Windows 10`.
    pub os: String,
}

const UNKNOWN: &str = "UNKNOWN";

fn parser() -> &'static woothee::parser::Parser {
    static PARSER: OnceLock<woothee::parser::Parser> = OnceLock::new();
    PARSER.get_or_init(woothee::parser::Parser::new)
}

fn known(s: &str) -> bool {
    !s.is_empty() && s != UNKNOWN
}

fn browser_in(parsed: Option<&woothee::parser::WootheeResult<'_>>) -> (Option<String>, Option<String>) {
    match parsed.filter(|r| known(r.name)) {
        Some(r) => {
            let major = r.version.split('.').next().filter(|v| known(v)).map(str::to_owned);
            (Some(r.name.to_owned()), major)
        }
        None => (None, None),
    }
}

/// The browser behind a user agent: its family (`Chrome`) and major version (`156`), where the
/// user agent says.
pub fn browser_of(user_agent: Option<&str>) -> (Option<String>, Option<String>) {
    browser_in(user_agent.and_then(|ua| parser().parse(ua)).as_ref())
}

/// The device behind a user agent; "Unknown browser" / "Unknown system" where it says nothing.
pub fn device_of(user_agent: Option<&str>) -> Device {
    let parsed = user_agent.and_then(|ua| parser().parse(ua));
    let browser = match browser_in(parsed.as_ref()) {
        (Some(name), Some(major)) => format!("{name} {major}"),
        (Some(name), None) => name,
        (None, _) => "Unknown browser".to_owned(),
    };
    let os = parsed
        .map(|r| r.os)
        .filter(|os| known(os))
        .map(str::to_owned)
        .unwrap_or_else(|| "Unknown system".to_owned());
    Device { browser, os }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_and_systems_are_named() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.8078.73 Safari/537.36";
        assert_eq!(
            device_of(Some(chrome)),
            Device {
                browser: "Chrome 156".into(),
                os: "Linux".into()
            }
        );
        let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";
        let device = device_of(Some(firefox));
        assert_eq!(device.browser, "Firefox 128");
        assert!(device.os.starts_with("Windows"), "{device:?}");
        assert_eq!(device_of(None).browser, "Unknown browser");
        assert_eq!(device_of(Some("curl/8.5.0")).os, "Unknown system");
    }
}
