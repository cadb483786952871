//! The wall clock, in one place, as Unix seconds, and the one way a Unix time becomes text.
//!
//! Every conversion here is total: any `i64` (a time read back from a header, an expiry computed
//! from a provider's number) gives a string or a number, never a panic or a wrapped value.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch; 0 for a clock set before 1970.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 form of a Unix time (UTC, seconds), for people and JSON. Years outside 0..=9999
/// (which RFC 3339 cannot write) get the ISO 8601 expanded form with a sign, such as
/// `+292277026596-12-04T15:30:07Z`, rather than a panic: such a time can only come from a
/// damaged or hostile header, and showing it is how a person finds it.
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{year:+05}")
    };
    format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Year, month, day of the proleptic Gregorian calendar for days since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`), in i128 so that no `i64` day count can overflow.
fn civil_from_days(days: i64) -> (i128, u32, u32) {
    let z = i128::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

/// Whole days from `since` to `now`, 0 when `since` lies ahead; total for any inputs.
pub fn days_between(since: i64, now: i64) -> i64 {
    elapsed(since, now) / 86_400
}

/// Seconds from `since` to `now`, 0 when `since` is later; never overflows, whatever a header
/// says.
pub fn elapsed(since: i64, now: i64) -> i64 {
    now.saturating_sub(since).max(0)
}

/// A short age such as `3d`, `5h`, `12m` or `40s`.
pub fn age(since: i64, now: i64) -> String {
    match elapsed(since, now) {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h", s / 3_600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    /// Regression (issue 8, defect 7): `expires_in` of 3·10¹¹ put the expiry past the year 9999
    /// and `show`, `audit` and `list --json` panicked in humantime.
    #[test]
    fn years_past_9999_and_before_0_are_written_not_panicked() {
        assert_eq!(rfc3339(253_402_300_800), "+10000-01-01T00:00:00Z");
        assert_eq!(rfc3339(300_000_000_000 + 1_700_000_000).len(), 22);
        assert!(rfc3339(i64::MAX).starts_with("+292277026596-"));
        assert!(rfc3339(i64::MIN).starts_with("-292277022657-"));
        assert_eq!(age(i64::MIN, i64::MAX), format!("{}d", i64::MAX / 86_400));
        assert_eq!(age(i64::MAX, i64::MIN), "0s");
        assert_eq!(days_between(i64::MIN, i64::MAX), i64::MAX / 86_400);
    }

    proptest! {
        #[test]
        fn every_time_has_a_text_and_matches_humantime_where_it_can(t in any::<i64>()) {
            let text = rfc3339(t);
            prop_assert!(text.ends_with('Z'));
            if (0..=253_402_300_799).contains(&t) {
                let st = UNIX_EPOCH + std::time::Duration::from_secs(t as u64);
                prop_assert_eq!(text, humantime::format_rfc3339_seconds(st).to_string());
            }
        }
    }

    #[test]
    fn elapsed_never_overflows() {
        assert_eq!(elapsed(i64::MIN, i64::MAX), i64::MAX);
        assert_eq!(elapsed(i64::MAX, 0), 0);
    }
}
