//! Small text helpers: durations, time expressions, RFC 3339 output, line and
//! column of a byte offset.

use stormwatch_model::Timestamp;

/// 1-based line and column (in characters) of byte `offset` in `src`.
pub(crate) fn line_col(src: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or("");
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

/// Parses a duration: `90s`, `1.5s`, `250ms`, `5m`, `1h30m`, `2d`, `3h41m05s`.
/// Returns nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: f64 = 0.0;
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        let num: f64 = s.get(start..i)?.parse().ok()?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let mult = match s.get(ustart..i)? {
            "ms" => 1e6,
            "s" => 1e9,
            "m" | "min" => 60e9,
            "h" => 3600e9,
            "d" => 86_400e9,
            "us" | "µs" => 1e3,
            _ => return None,
        };
        total += num * mult;
    }
    if !total.is_finite() || total > 3.0e18 {
        return None;
    }
    Some(total.round() as i64)
}

/// Parses a time expression relative to `start`:
/// `+DURATION`, `HH:MM:SS[.frac]` on the start's day, or full RFC 3339.
pub(crate) fn parse_time(s: &str, start: Timestamp) -> Option<Timestamp> {
    let s = s.trim();
    if let Some(d) = s.strip_prefix('+') {
        return Some(Timestamp(start.0.checked_add(parse_duration(d)?)?));
    }
    if s.len() >= 19 {
        return Timestamp::parse(s);
    }
    // HH:MM[:SS[.frac]]
    let mut parts = s.splitn(3, ':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec: f64 = match parts.next() {
        Some(x) => x.parse().ok()?,
        None => 0.0,
    };
    if !(0..24).contains(&h) || !(0..60).contains(&m) || !(0.0..61.0).contains(&sec) {
        return None;
    }
    let day = start.secs().div_euclid(86_400) * 86_400;
    let ns = (day + h * 3600 + m * 60) * 1_000_000_000 + (sec * 1e9).round() as i64;
    Some(Timestamp(ns))
}

/// RFC 3339 UTC: `2004-04-20T09:12:04Z`, or with microseconds when not whole.
pub fn rfc3339(ts: Timestamp) -> String {
    let human = ts.to_human(); // "YYYY-MM-DD HH:MM:SS"
    let base = human.replacen(' ', "T", 1);
    let us = ts.subsec_micros();
    if us == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{us:06}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(90_000_000_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(
            parse_duration("3h41m05s"),
            Some((3 * 3600 + 41 * 60 + 5) * 1_000_000_000)
        );
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(parse_duration("-5s"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn times() {
        let start = Timestamp::parse("2004-04-20T09:00:00Z").unwrap();
        let t = parse_time("+12m04s", start).unwrap();
        assert_eq!(rfc3339(t), "2004-04-20T09:12:04Z");
        let t = parse_time("09:14:31.25", start).unwrap();
        assert_eq!(rfc3339(t), "2004-04-20T09:14:31.250000Z");
        let t = parse_time("2004-04-21T00:00:00Z", start).unwrap();
        assert_eq!(rfc3339(t), "2004-04-21T00:00:00Z");
        assert_eq!(parse_time("25:00", start), None);
        assert_eq!(parse_time("soon", start), None);
    }

    #[test]
    fn line_and_column() {
        let s = "a = 1\nbb = 2\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 6), (2, 1));
        assert_eq!(line_col(s, 9), (2, 4));
    }
}
