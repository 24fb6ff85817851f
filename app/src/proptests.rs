//! Property tests for the parsers a client's input reaches in the web layer: the `Cookie` header
//! (server), times on the wire, and error answers as the browser decodes them. For any input: no
//! panic, and what parses round-trips.

use crate::error::ApiError;
use crate::models::Timestamp;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn times_never_panic_and_round_trip(s in "\\PC{0,40}|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})") {
        if let Some(t) = Timestamp::parse_rfc3339(&s) {
            let again = Timestamp::parse_rfc3339(&t.to_string());
            prop_assert_eq!(again, Some(t));
        }
    }

    #[test]
    fn written_times_parse_back(ms in -62_135_596_800_000i64..253_402_300_799_999i64) {
        let t = Timestamp::parse_rfc3339(&Timestamp(ms).to_string());
        prop_assert_eq!(t.map(|t| t.millis()), Some(ms));
    }

    #[test]
    fn any_error_body_decodes_or_is_refused_without_panic(s in "\\PC{0,200}|\\{\"error\":\\{\"code\":\"[a-z_]{0,30}\",\"message\":\"[ -~]{0,20}\"\\}\\}") {
        if let Ok(e) = serde_json::from_str::<ApiError>(&s) {
            // Unknown codes from a newer server read as `unknown`, never fail the decode.
            let _ = e.status();
        }
    }
}

#[cfg(feature = "ssr")]
mod server {
    use crate::auth::ssr::cookie;
    use http::{HeaderMap, HeaderValue};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn the_cookie_header_never_panics_and_finds_what_is_there(
            junk in "[ -~]{0,300}",
            value in "[A-Za-z0-9_-]{0,60}",
            before in proptest::bool::ANY,
        ) {
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&junk) {
                headers.append(http::header::COOKIE, v);
                let _ = cookie(&headers, "sb_session");
            }
            let line = if before { format!("sb_session={value}; other=1") } else { format!("other=1; sb_session={value}") };
            let mut headers = HeaderMap::new();
            headers.append(http::header::COOKIE, HeaderValue::from_str(&line).unwrap());
            prop_assert_eq!(cookie(&headers, "sb_session"), Some(value.as_str()));
            prop_assert_eq!(cookie(&headers, "sb_pre"), None);
        }
    }
}
