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

/// The device behind a user agent; "Unknown browser" / "Unknown system" where it says nothing.
pub fn device_of(user_agent: Option<&str>) -> Device {
    let parsed = user_agent.and_then(|ua| parser().parse(ua));
    let known = |s: &str| !s.is_empty() && s != UNKNOWN;
    let browser = parsed
        .as_ref()
        .filter(|r| known(r.name))
        .map(|r| {
            let major = r.version.split('.').next().filter(|v| known(v));
            match major {
                Some(major) => format!("{} {major}", r.name),
                None => r.name.to_owned(),
            }
        })
        .unwrap_or_else(|| "Unknown browser".to_owned());
    let os = parsed
        .as_ref()
        .filter(|r| known(r.os))
        .map(|r| r.os.to_owned())
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
