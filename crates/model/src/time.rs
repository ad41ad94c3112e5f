//! Packet time. The engine never reads the wall clock: every timeout, window and
//! rate is measured in [`Timestamp`]s taken from the capture.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A point in packet time: nanoseconds since the Unix epoch (UTC).
///
/// Captures carry seconds plus a fraction in µs or ns; both fit without loss.
///
/// Serialised as the EVE string (`2009-11-24T18:13:51.591346+0000`, µs precision);
/// deserialised from that form, RFC 3339 (`2004-04-20T09:12:04Z`, `...+00:00`,
/// up to ns), or an integer of nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 % 1000 == 0 {
            s.serialize_str(&self.to_eve())
        } else {
            // Sub-microsecond precision would be lost in the EVE form.
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a timestamp string (2009-11-24T18:13:51.591346+0000) or integer nanoseconds",
                )
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .map(Timestamp)
                    .map_err(|_| E::custom("timestamp out of range"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).ok_or_else(|| E::custom(format!("invalid timestamp {v:?}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Timestamp {
    /// The Unix epoch.
    pub const ZERO: Timestamp = Timestamp(0);

    /// Builds a timestamp from whole seconds and nanoseconds within the second.
    pub const fn from_secs_nanos(secs: i64, nanos: u32) -> Self {
        Timestamp(
            secs.saturating_mul(NANOS_PER_SEC)
                .saturating_add(nanos as i64),
        )
    }

    /// Builds a timestamp from whole seconds and microseconds within the second.
    pub const fn from_secs_micros(secs: i64, micros: u32) -> Self {
        Timestamp(
            secs.saturating_mul(NANOS_PER_SEC)
                .saturating_add((micros as i64).saturating_mul(1000)),
        )
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded towards negative infinity).
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC)
    }

    /// Nanoseconds within the current second.
    pub const fn subsec_nanos(self) -> u32 {
        // rem_euclid is in 0..1e9, which fits u32.
        self.0.rem_euclid(NANOS_PER_SEC) as u32
    }

    /// Microseconds within the current second.
    pub const fn subsec_micros(self) -> u32 {
        self.subsec_nanos() / 1000
    }

    /// Seconds as a float (for rates and reports).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// `self + secs` seconds.
    pub const fn add_secs(self, secs: i64) -> Self {
        Timestamp(self.0.saturating_add(secs.saturating_mul(NANOS_PER_SEC)))
    }

    /// Signed difference `self - earlier` in nanoseconds.
    pub const fn nanos_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Difference `self - earlier` in seconds (float; negative when `earlier` is later).
    pub fn secs_since(self, earlier: Timestamp) -> f64 {
        self.nanos_since(earlier) as f64 / NANOS_PER_SEC as f64
    }

    /// Suricata's EVE timestamp: `2009-11-24T18:13:51.591346+0000` (UTC, microseconds).
    pub fn to_eve(self) -> String {
        let mut s = String::with_capacity(31);
        self.write_eve(&mut s);
        s
    }

    /// Appends the EVE form of this timestamp to `out` without allocating.
    pub fn write_eve(self, out: &mut String) {
        match self.eve_ascii() {
            Some(b) => out.extend(b.iter().map(|&c| char::from(c))),
            None => self.write_eve_fmt(out),
        }
    }

    /// [`Timestamp::write_eve`] through `fmt` (any year).
    fn write_eve_fmt(self, out: &mut String) {
        use fmt::Write;
        let (y, mo, d, h, mi, s) = civil(self.secs());
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}+0000",
            self.subsec_micros()
        );
    }

    /// The EVE form as bytes, for years 0 to 9999 (None otherwise: see
    /// [`Timestamp::write_eve`]). Digits are written directly: formatting
    /// seven padded numbers through `fmt` was ≈ 3.5 % of `analyze`'s time
    /// (every EVE record has a timestamp, flow records two more).
    pub fn eve_ascii(self) -> Option<[u8; 31]> {
        let (y, mo, d, h, mi, s) = civil(self.secs());
        let y = u32::try_from(y).ok().filter(|y| *y <= 9999)?;
        let mut b = *b"0000-00-00T00:00:00.000000+0000";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                if let Some(c) = b.get_mut(i) {
                    *c = b'0' + (v % 10) as u8;
                }
                v /= 10;
            }
        };
        put(0, 4, y);
        put(5, 2, mo);
        put(8, 2, d);
        put(11, 2, h);
        put(14, 2, mi);
        put(17, 2, s);
        put(20, 6, self.subsec_micros());
        Some(b)
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HHMM|+HH:MM|-..)` (also with a space
    /// instead of `T`, or no zone = UTC).
    pub fn parse(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.len() < 19 {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let t = s.get(r)?;
            if t.bytes().all(|c| c.is_ascii_digit()) {
                t.parse().ok()
            } else {
                None
            }
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if b.get(4) != Some(&b'-')
            || b.get(7) != Some(&b'-')
            || !matches!(b.get(10), Some(b'T' | b' '))
        {
            return None;
        }
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let mut rest = s.get(19..)?;
        let mut nanos: i64 = 0;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            let f = frac.get(..digits)?;
            for (i, c) in f.bytes().enumerate() {
                if i < 9 {
                    nanos = nanos * 10 + i64::from(c - b'0');
                }
            }
            for _ in digits.min(9)..9 {
                nanos *= 10;
            }
            rest = frac.get(digits..)?;
        }
        let offset_secs = match rest {
            "" | "Z" | "z" => 0,
            z => {
                let sign = match z.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let z = z.get(1..)?.replace(':', "");
                if z.len() != 4 || !z.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                let hh: i64 = z.get(..2)?.parse().ok()?;
                let mm: i64 = z.get(2..)?.parse().ok()?;
                sign * (hh * 3600 + mm * 60)
            }
        };
        let days = days_from_civil(y, mo as u32, d as u32);
        let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
        Some(Timestamp(
            secs.checked_mul(NANOS_PER_SEC)?.checked_add(nanos)?,
        ))
    }

    /// ISO-8601 date and time in UTC to the second: `2004-04-20 09:12:04` (for reports).
    pub fn to_human(self) -> String {
        let (y, mo, d, h, mi, s) = civil(self.secs());
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    }

    /// Time of day in UTC to the second: `09:12:04` (for timelines).
    pub fn to_time_of_day(self) -> String {
        let (_, _, _, h, mi, s) = civil(self.secs());
        format!("{h:02}:{mi:02}:{s:02}")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_eve())
    }
}

/// Splits seconds since the epoch into UTC (year, month, day, hour, minute, second).
fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (sod / 3600) as u32,
        ((sod % 3600) / 60) as u32,
        (sod % 60) as u32,
    )
}

/// Days since the epoch of a UTC civil date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats a duration in seconds the way the reports do: `3h41m`, `12m05s`, `41s`.
pub fn human_duration(secs: f64) -> String {
    let total = if secs.is_finite() && secs > 0.0 {
        secs.round() as u64
    } else {
        0
    };
    let (d, h, m, s) = (
        total / 86_400,
        (total / 3600) % 24,
        (total / 60) % 60,
        total % 60,
    );
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eve_format_matches_suricata() {
        // 2009-11-24 18:13:51.591346 UTC
        let ts = Timestamp::from_secs_micros(1_259_086_431, 591_346);
        assert_eq!(ts.to_eve(), "2009-11-24T18:13:51.591346+0000");
        assert_eq!(Timestamp::ZERO.to_eve(), "1970-01-01T00:00:00.000000+0000");
    }

    /// The direct digits equal `fmt`'s padded numbers over the whole
    /// representable range (years 1677 to 2262).
    #[test]
    fn eve_digits_match_fmt() {
        let fmt = |t: Timestamp| {
            let mut s = String::new();
            t.write_eve_fmt(&mut s);
            s
        };
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut cases = vec![i64::MIN, i64::MAX, 0, -1, 951_782_400_000_000_000];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(x as i64);
        }
        for nanos in cases {
            let t = Timestamp(nanos);
            let b = t
                .eve_ascii()
                .expect("every representable year has 4 digits");
            assert_eq!(std::str::from_utf8(&b).unwrap(), fmt(t), "{nanos}");
            assert_eq!(t.to_eve(), fmt(t));
        }
    }

    #[test]
    fn pre_epoch_and_leap_days() {
        assert_eq!(
            Timestamp::from_secs_nanos(-1, 0).to_eve(),
            "1969-12-31T23:59:59.000000+0000"
        );
        // 2004-02-29 12:00:00
        assert_eq!(
            Timestamp::from_secs_nanos(1_078_056_000, 0).to_human(),
            "2004-02-29 12:00:00"
        );
    }

    #[test]
    fn parse_round_trips() {
        for ts in [
            Timestamp::from_secs_micros(1_259_086_431, 591_346),
            Timestamp::ZERO,
            Timestamp::from_secs_nanos(-1, 0),
            Timestamp::from_secs_nanos(1_078_056_000, 0),
        ] {
            assert_eq!(Timestamp::parse(&ts.to_eve()), Some(ts));
            let json = serde_json::to_string(&ts).unwrap();
            assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), ts);
        }
        assert_eq!(
            Timestamp::parse("2004-04-20T09:12:04Z"),
            Timestamp::parse("2004-04-20T11:12:04+02:00")
        );
        assert_eq!(
            Timestamp::parse("2004-04-20T09:12:04.000000001Z").map(|t| t.subsec_nanos()),
            Some(1)
        );
        assert_eq!(
            serde_json::from_str::<Timestamp>("42").unwrap(),
            Timestamp(42)
        );
        assert!(Timestamp::parse("2004-13-20T09:12:04Z").is_none());
        assert!(Timestamp::parse("yesterday").is_none());
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(13_260.0), "3h41m");
        assert_eq!(human_duration(725.0), "12m05s");
        assert_eq!(human_duration(41.2), "41s");
        assert_eq!(human_duration(-3.0), "0s");
    }
}
