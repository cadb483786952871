//! The wall clock, in one place, as Unix seconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch; 0 for a clock set before 1970.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The last second RFC 3339 can write: 9999-12-31T23:59:59Z.
const LAST_WRITABLE: i64 = 253_402_300_799;

/// RFC 3339 form of a Unix time, for people and JSON.
///
/// Times come from record headers and audit lines that are read before anything checks them,
/// so any i64 must format: times before 1970 show as 1970, after 9999 as 9999 (the formatter
/// cannot write more, and would panic).
pub fn rfc3339(unix: i64) -> String {
    let t = UNIX_EPOCH + std::time::Duration::from_secs(unix.clamp(0, LAST_WRITABLE) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Seconds from `since` to `now`, 0 when `since` is later; never overflows, whatever a header
/// says.
pub fn elapsed(since: i64, now: i64) -> i64 {
    now.saturating_sub(since).max(0)
}

/// A short age such as `3d`, `5h`, `12m` or `40s`.
pub fn age(since: i64, now: i64) -> String {
    let secs = elapsed(since, now);
    match secs {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h", s / 3_600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_time_formats_and_any_age_computes_without_overflow() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(-5), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(i64::MIN), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(300_000_000_000), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(elapsed(i64::MIN, i64::MAX), i64::MAX);
        assert_eq!(elapsed(i64::MAX, 0), 0);
        assert_eq!(age(i64::MIN, 1_000), format!("{}d", i64::MAX / 86_400));
    }
}
