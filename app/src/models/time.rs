//! Times on the wire: RFC 3339 in UTC with millisecond precision (`2026-11-28T03:44:17.73Z`),
//! read once into milliseconds when an answer is decoded, so nothing re-parses them later.
//! Written by hand (days from the civil calendar and back) so the browser build needs no date
//! library: this is the only date code the WASM carries.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let num = |from: usize, len: usize| -> Option<i64> {
            let part = b.get(from..from + len)?;
            part.iter()
                .all(u8::is_ascii_digit)
                .then(|| part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
        };
        let sep = |at: usize, c: &[u8]| b.get(at).is_some_and(|x| c.contains(x));
        if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
            return None;
        }
        let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
        let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let mut at = 19;
        let mut millis = 0;
        if b.get(at) == Some(&b'.') {
            let digits = b[at + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            for i in 0..3 {
                millis = millis * 10 + if i < digits { i64::from(b[at + 1 + i] - b'0') } else { 0 };
            }
            at += 1 + digits;
        }
        let offset_minutes = match b.get(at..)? {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), ..] if b.len() == at + 6 && sep(at + 3, b":") => {
                let (h, m) = (num(at + 1, 2)?, num(at + 4, 2)?);
                if h > 23 || m > 59 {
                    return None;
                }
                let minutes = h * 60 + m;
                if *sign == b'+' {
                    minutes
                } else {
                    -minutes
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
        Some(Self(seconds * 1000 + millis))
    }
}

impl Timestamp {
    /// The text [`Display`](fmt::Display) writes, put together in `buf` digit by digit: every
    /// answer of the server carries several, and `write!` spent more on its machinery than on
    /// the digits. (The browser build writes it with the formatter, [`Timestamp::formatted`],
    /// whose machinery it carries anyway: this code would add 560 bytes to it.) A year has four
    /// digits at least, a minus sign before it if it is negative.
    #[cfg(any(not(target_arch = "wasm32"), test))]
    fn rfc3339(self, buf: &mut [u8; 40]) -> &str {
        fn digits(out: &mut [u8], mut value: u64) {
            for d in out.iter_mut().rev() {
                *d = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        let (days, ms_of_day) = (self.0.div_euclid(86_400_000), self.0.rem_euclid(86_400_000));
        let (year, month, day) = civil_from_days(days);
        let mut at = 0;
        if year < 0 {
            buf[0] = b'-';
            at = 1;
        }
        let year = year.unsigned_abs();
        let width = (year.checked_ilog10().unwrap_or(0) as usize + 1).max(4 - at);
        digits(&mut buf[at..at + width], year);
        at += width;
        let (ms, secs) = ((ms_of_day % 1000) as u64, (ms_of_day / 1000) as u64);
        buf[at..at + 16].copy_from_slice(b"-00-00T00:00:00.");
        for (from, value) in [
            (1, month as u64),
            (4, day as u64),
            (7, secs / 3600),
            (10, (secs / 60) % 60),
            (13, secs % 60),
        ] {
            digits(&mut buf[at + from..at + from + 2], value);
        }
        at += 15;
        if ms != 0 {
            // `.5`, `.73`, `.123`: without trailing zeros.
            digits(&mut buf[at + 1..at + 4], ms);
            at += 4 - buf[at + 1..at + 4].iter().rev().take_while(|&&d| d == b'0').count();
        }
        buf[at] = b'Z';
        std::str::from_utf8(&buf[..=at]).expect("digits and ASCII punctuation")
    }

    /// [`Display`](fmt::Display) through the formatter: what the browser build uses, and what
    /// [`Timestamp::rfc3339`] is tested against.
    #[cfg(any(target_arch = "wasm32", test))]
    fn formatted(self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, ms_of_day) = (self.0.div_euclid(86_400_000), self.0.rem_euclid(86_400_000));
        let (year, month, day) = civil_from_days(days);
        let secs = ms_of_day / 1000;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        )?;
        let mut rest = ms_of_day % 1000;
        if rest != 0 {
            // `.5`, `.73`, `.123`: without trailing zeros.
            f.write_str(".")?;
            while rest != 0 {
                write!(f, "{}", rest / 100)?;
                rest = rest % 100 * 10;
            }
        }
        f.write_str("Z")
    }
}

/// `2026-11-28T03:44:17.73Z`: the fraction has no trailing zeros and is left out when zero.
impl fmt::Display for Timestamp {
    #[cfg(not(target_arch = "wasm32"))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc3339(&mut [0; 40]))
    }

    #[cfg(target_arch = "wasm32")]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.formatted(f)
    }
}

/// In the OpenAPI document: an RFC 3339 `date-time` string.
#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .examples(["2026-11-28T03:44:17.730Z"])
            .into()
    }
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for Timestamp {}

impl Serialize for Timestamp {
    #[cfg(not(target_arch = "wasm32"))]
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.rfc3339(&mut [0; 40]))
    }

    #[cfg(target_arch = "wasm32")]
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse_rfc3339(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not an RFC 3339 time")))
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01: the inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    #[test]
    fn formats_like_the_documented_examples() {
        let t = Timestamp::parse_rfc3339("2026-11-28T03:44:17.73Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-28T03:44:17.73Z");
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(1_500).to_string(), "1970-01-01T00:00:01.5Z");
        assert_eq!(Timestamp(1_800_000_000_123).to_string(), "2027-01-15T08:00:00.123Z");
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999Z");
        assert_eq!(Timestamp(1_050).to_string(), "1970-01-01T00:00:01.05Z");
        assert_eq!(Timestamp(1_007).to_string(), "1970-01-01T00:00:01.007Z");
    }

    /// [`Timestamp::formatted`], the browser's way and the reference.
    struct Long(Timestamp);

    impl std::fmt::Display for Long {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.formatted(f)
        }
    }

    #[test]
    fn written_by_hand_as_the_formatter_wrote_it() {
        let mut ms = -62_167_219_200_000_i64; // 0000-01-01
        while ms < 253_402_300_800_000 {
            // To 9999-12-31, every week or so, at times of day with every kind of fraction.
            for t in [ms, ms + 1, ms + 10, ms + 100, ms + 86_399_999, ms + 43_200_120] {
                let t = Timestamp(t);
                assert_eq!(t.to_string(), Long(t).to_string());
            }
            ms += 86_400_000 * 7 + 3_601_001;
        }
        // Years of more than four digits, and before year 0, as the formatter wrote them.
        for t in [
            253_402_300_800_000,
            -62_167_219_200_001,
            -1_000_000_000_000_000,
            1_000_000_000_000_000,
            i64::MAX / 2,
            i64::MIN / 2,
        ] {
            let t = Timestamp(t);
            assert_eq!(t.to_string(), Long(t).to_string(), "{t}");
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{}\"", Long(t)));
        }
        let t = Timestamp(1_800_000_000_123);
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2027-01-15T08:00:00.123Z\"");
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        // 1900-01-01 .. 2300-01-01, one timestamp per day at a varying time of day.
        let mut ms = -2_208_988_800_000_i64;
        while ms < 10_413_792_000_000 {
            let t = Timestamp(ms + (ms.rem_euclid(86_399_999)));
            assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Some(t), "{t}");
            ms += 86_400_000;
        }
    }

    #[test]
    fn offsets_and_fractions_are_read() {
        let utc = Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(Timestamp::parse_rfc3339("2026-01-01T01:30:00+01:30"), Some(utc));
        assert_eq!(Timestamp::parse_rfc3339("2025-12-31T23:00:00-01:00"), Some(utc));
        assert_eq!(Timestamp::parse_rfc3339("1970-01-01T00:00:01.5Z"), Some(Timestamp(1_500)));
        assert_eq!(Timestamp::parse_rfc3339("1970-01-01T00:00:01.123456789Z"), Some(Timestamp(1_123)));
    }

    #[test]
    fn anything_else_is_refused_not_read_as_zero() {
        for bad in [
            "",
            "not a time",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+0100",
            "2026-01-01T00:00:00Zjunk",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad:?}");
        }
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
        assert_eq!(
            serde_json::from_str::<Timestamp>("\"2024-02-29T12:00:00Z\"").unwrap().to_string(),
            "2024-02-29T12:00:00Z"
        );
    }
}
