//! The wall clock as an input, and the one way a Unix time becomes text.
//!
//! Every rule that depends on the time (Exact's 570 s between tokens and its error budget, the
//! TOTP step guard and its waits, token expiry, audit timestamps) reads it from a [`Clock`]
//! handed in, never from `SystemTime::now`: production passes [`SystemClock`], unit tests a
//! [`ManualClock`] that they set and that records the sleeps instead of waiting. There is no
//! test hook here (no environment variable, no global): the clock a command uses is the one its
//! [`Keychain`](crate::keychain::Keychain) was opened with.
//!
//! Monotonic waits (a lock's timeout, a keyring call's) keep `std::time::Instant`: they measure
//! how long this process waited, which a wall clock set back or forward must not shorten or
//! stretch, and no rule compares them with a stored time.
//!
//! Every conversion here is total: any `i64` (a time read back from a header, an expiry computed
//! from a provider's number) gives a string or a number, never a panic or a wrapped value.
#![deny(missing_docs)]

pub mod reference;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the time comes from, and how a wait is spent.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;

    /// Waits `pause` (really, or on a manual clock by moving it on).
    fn sleep(&self, pause: Duration);

    /// Seconds since the Unix epoch; 0 for a clock set before 1970.
    fn unix(&self) -> i64 {
        unix_seconds(self.now())
    }
}

/// A clock shared by the keychain, its audit log and the logon engine.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock and real sleeps.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, pause: Duration) {
        std::thread::sleep(pause);
    }
}

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock for tests: it stands still until set or advanced, and a `sleep` advances it at once
/// and is recorded, so a rule that waits is tested without waiting.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
    sleeps: Mutex<Vec<Duration>>,
}

impl ManualClock {
    /// A clock standing at `unix` seconds (clamped to 1970 and later).
    pub fn at_unix(unix: i64) -> Arc<Self> {
        Arc::new(ManualClock {
            now: Mutex::new(from_unix(unix)),
            sleeps: Mutex::new(Vec::new()),
        })
    }

    /// Sets the clock to `unix` seconds.
    pub fn set_unix(&self, unix: i64) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = from_unix(unix);
    }

    /// Moves the clock forward by `seconds`, as time passing would.
    pub fn advance(&self, seconds: u64) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += Duration::from_secs(seconds);
    }

    /// Every sleep asked of this clock, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sleep(&self, pause: Duration) {
        self.sleeps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(pause);
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += pause;
    }
}

/// Seconds since the Unix epoch of `time`; 0 before 1970.
pub fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn from_unix(unix: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix.max(0).unsigned_abs())
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
    fn a_manual_clock_stands_still_and_its_sleeps_move_it_without_waiting() {
        let clock = ManualClock::at_unix(1_700_000_000);
        assert_eq!(clock.unix(), 1_700_000_000);
        let started = std::time::Instant::now();
        clock.sleep(Duration::from_secs(3600));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(clock.unix(), 1_700_003_600);
        clock.advance(5);
        clock.sleep(Duration::from_secs(2));
        assert_eq!(clock.unix(), 1_700_003_607);
        assert_eq!(
            clock.sleeps(),
            [Duration::from_secs(3600), Duration::from_secs(2)]
        );
        clock.set_unix(-5);
        assert_eq!(clock.unix(), 0);
    }

    #[test]
    fn elapsed_never_overflows() {
        assert_eq!(elapsed(i64::MIN, i64::MAX), i64::MAX);
        assert_eq!(elapsed(i64::MAX, 0), 0);
    }
}
