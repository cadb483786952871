//! The reference clock of a shared keychain: the shared store's (OpenBao's) HTTP `Date`.
//!
//! The members of a shared keychain run on machines whose clocks differ. A shared record's token
//! times (issue, expiry, Exact's error times) are compared by every member, so they are kept in
//! one clock's time, the store's: each member measures its offset to it on the answers it gets
//! anyway (every OpenBao answer carries `Date`), stores times as `ours + offset` and reads them
//! against `now + offset`. A member 2 minutes behind then sees a token another member fetched as
//! issued now, not 2 minutes in the future (issue 19's month of nights found the defect: such a
//! member refused, or needlessly refreshed, every token the other one fetched).
//!
//! What one answer tells is an interval, never a point: `Date` has whole seconds, and the
//! server wrote it at some instant between our sending the request and our reading the answer.
//! So [`Offset`] keeps both ends, and [`Now`] gives the earliest and the latest the reference
//! time can be. The rules take the side that cannot hurt: a token is served only while it is
//! valid at the **latest** possible time and stamped to expire at the **earliest** (err on
//! "expired"); Exact's minimum refresh interval counts from the **latest** possible issue time
//! to the **earliest** possible now (err on "too early": the provider is never asked early).
//!
//! `Date` comes from outside (the store's operator, a proxy): an offset is followed only up to
//! [`MAX_OFFSET`] either way. Whoever controls `Date` can then move a member's idea of the time
//! by at most that much from the member's own clock, so a token is served at most
//! `2 × MAX_OFFSET` past its real expiry (the stamp and the reading each moved once) on top of
//! what the members' own clocks are off, and only a provider's 401 follows (a failed job: the
//! denial of service a store's operator has anyway). A member that has not heard from the store
//! in this process (the store down) has only its own clock: it is used as it is.
#![deny(missing_docs)]

use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// The largest offset to the store's clock a member follows, either way (5 minutes, Kerberos'
/// default). Beyond it the `Date` is followed only this far.
pub const MAX_OFFSET: i64 = 300;

/// The reference clock minus ours, in milliseconds, as an interval `[earliest, latest]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset {
    earliest_ms: i64,
    latest_ms: i64,
}

impl Offset {
    /// What an answer with `Date: date` says, sent at `sent` and read at `received` by our
    /// clock; `None` when `date` is no HTTP date or the times are before 1970.
    pub fn from_answer(date: &str, sent: SystemTime, received: SystemTime) -> Option<Offset> {
        let theirs = millis(httpdate::parse_http_date(date.trim()).ok()?)?;
        let (sent, received) = (millis(sent)?, millis(received)?);
        // The server read its clock at some instant in [sent, received], when it stood
        // somewhere in [Date, Date + 1 s).
        Some(Offset::between_ms(
            theirs.saturating_sub(received.max(sent)),
            theirs
                .saturating_add(1000)
                .saturating_sub(sent.min(received)),
        ))
    }

    /// An offset known to lie in `[earliest, latest]` seconds (clamped to [`MAX_OFFSET`]).
    pub fn between(earliest: i64, latest: i64) -> Offset {
        Offset::between_ms(earliest.saturating_mul(1000), latest.saturating_mul(1000))
    }

    fn between_ms(earliest: i64, latest: i64) -> Offset {
        let bound = MAX_OFFSET * 1000;
        let clamp = |ms: i64| ms.clamp(-bound, bound);
        Offset {
            earliest_ms: clamp(earliest.min(latest)),
            latest_ms: clamp(latest.max(earliest)),
        }
    }
}

/// The reference time now, as the earliest and the latest it can be (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// The earliest: what "too early" rules count to, and what expiries are stamped from.
    pub earliest: i64,
    /// The latest: what validity is judged at, and what issue times are stamped with.
    pub latest: i64,
    /// Our own clock at the same instant.
    pub local: i64,
    /// Whether this reads a shared keychain's clock, the store's, on which its records are
    /// stamped (with an offset followed, or ours standing in before any answer from the store).
    pub store_clock: bool,
}

impl Now {
    /// Our own clock, taken as it is (a local keychain, or no answer from the store yet).
    pub fn local(unix: i64) -> Now {
        Now {
            earliest: unix,
            latest: unix,
            local: unix,
            store_clock: false,
        }
    }

    /// The reference time at `ours` (our clock) with `offset`; our clock alone without one.
    pub fn at(ours: SystemTime, offset: Option<Offset>) -> Now {
        let ms = millis(ours).unwrap_or(0);
        let local = ms.div_euclid(1000);
        match offset {
            None => Now::local(local),
            Some(o) => Now {
                earliest: ms.saturating_add(o.earliest_ms).div_euclid(1000),
                // Rounded up: a part of a second counts as a whole one.
                latest: ms
                    .saturating_add(o.latest_ms)
                    .saturating_add(999)
                    .div_euclid(1000),
                local,
                store_clock: true,
            },
        }
    }

    /// A reference time `t` on our own clock, as early as it can be (for an expiry shown to
    /// the caller, who counts it down on this machine's clock).
    pub fn to_local(&self, t: i64) -> i64 {
        t.saturating_sub(self.latest.saturating_sub(self.local))
    }

    /// A reference time `t` on our own clock, as late as it can be (for a time a rule must not
    /// count from too early, such as Exact's 570 s from a token's issue).
    pub fn to_local_late(&self, t: i64) -> i64 {
        t.saturating_sub(self.earliest.saturating_sub(self.local))
    }

    /// A time `t` of our own clock on the reference clock, as early as it can be (a refresh
    /// token's last use brought in from this machine: its idle days are never counted short).
    pub fn from_local(&self, t: i64) -> i64 {
        t.saturating_add(self.earliest.saturating_sub(self.local))
    }

    /// A time `t` of our own clock on the reference clock, as late as it can be (an error
    /// brought in from this machine: the error budget's hour lasts as long as it can).
    pub fn from_local_late(&self, t: i64) -> i64 {
        t.saturating_add(self.latest.saturating_sub(self.local))
    }
}

/// The last offset measured in this process (on any thread: the store's calls may come from a
/// helper thread), or none yet.
static LAST: Mutex<Option<Offset>> = Mutex::new(None);

/// Notes an answer of the store: its `Date` (if any), when the request went out and when the
/// answer came, by our clock. Called by the store's client for every answer it reads.
pub fn observe(date: Option<&str>, sent: SystemTime, received: SystemTime) {
    if let Some(offset) = date.and_then(|d| Offset::from_answer(d, sent, received)) {
        *LAST.lock().unwrap_or_else(PoisonError::into_inner) = Some(offset);
    }
}

/// The offset this process last measured to the store's clock, or `None` before any answer.
pub fn last() -> Option<Offset> {
    *LAST.lock().unwrap_or_else(PoisonError::into_inner)
}

fn millis(t: SystemTime) -> Option<i64> {
    i64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    const T: u64 = 1_800_000_000;

    #[test]
    fn one_answer_bounds_the_offset_by_the_second_of_date_and_the_round_trip() {
        // Our clock 120 s behind: the answer, sent at T - 120.2 and read at T - 119.9, says T.
        let date = httpdate::fmt_http_date(at(T * 1000));
        let o = Offset::from_answer(&date, at(T * 1000 - 120_200), at(T * 1000 - 119_900)).unwrap();
        assert_eq!(
            o,
            Offset {
                earliest_ms: 119_900,
                latest_ms: 121_200
            }
        );
        // At T - 60 by our clock the reference is T + 60 (within the interval's bounds).
        let now = Now::at(at((T - 60) * 1000), Some(o));
        assert!(now.earliest <= (T + 60) as i64 && (T + 60) as i64 <= now.latest);
        assert_eq!(
            (now.earliest, now.latest),
            ((T + 59) as i64, (T + 62) as i64)
        );
        // An expiry at T + 600 on the store's clock, on ours: 120 s earlier and 2 s to spare.
        assert_eq!(now.to_local((T + 600) as i64), (T + 600 - 122) as i64);
        // An issue at T on ours (really T - 120), for a rule that must not fire early: no earlier.
        assert_eq!(now.to_local_late(T as i64), (T - 119) as i64);
    }

    #[test]
    fn a_date_beyond_the_bound_is_followed_only_as_far_as_the_bound() {
        let date = httpdate::fmt_http_date(at((T + 86_400) * 1000));
        let o = Offset::from_answer(&date, at(T * 1000), at(T * 1000)).unwrap();
        assert_eq!(Now::at(at(T * 1000), Some(o)).latest, (T + 300) as i64);
        let o = Offset::between(-86_400, -86_400);
        assert_eq!(Now::at(at(T * 1000), Some(o)).earliest, (T - 300) as i64);
    }

    #[test]
    fn what_is_no_http_date_is_not_an_offset() {
        assert_eq!(Offset::from_answer("yesterday", at(0), at(0)), None);
        assert_eq!(Offset::from_answer("", at(T), at(T)), None);
        assert_eq!(Now::at(at(T * 1000 + 500), None), Now::local(T as i64));
    }
}
