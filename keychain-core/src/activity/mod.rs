//! What the audit trail shows when read as a whole: per account, who used it from where and
//! when (timelines for the report's pictures), and what looks wrong (anomaly findings).
//!
//! This module only reads [`TrailEvent`]s from an iterator, in trail order, in one pass. It does
//! not know where they come from: today the report feeds it the local `audit.log` (and its
//! rotated files); the shared keychain's trail will feed it the same way. It never sees a
//! secret (the trail holds none), never prints and never reads the clock: `now` is an input,
//! so every rule is tested with a fixed time.
//!
//! - [`anomaly`]: the rules, their thresholds (named constants) and the stable FINDING-IDs
//!   that `keychain audit ack` records to silence a finding.
//! - [`timeline`]: counts per account, origin (host and OS user), hour and kind of event, and
//!   per day across accounts.
#![deny(missing_docs)]

pub mod anomaly;
pub mod timeline;

#[cfg(test)]
mod tests;

pub use anomaly::{Acknowledgement, Anomaly, Thresholds};
pub use timeline::{AccountTimeline, Timelines};

/// Seconds in a UTC day (trail times have no leap seconds).
pub const DAY: i64 = 86_400;
/// Seconds in an hour.
pub const HOUR: i64 = 3_600;

/// One line of an audit trail, as the analysis needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailEvent {
    /// Position in its trail; named in findings as the evidence.
    pub seq: u64,
    /// Unix seconds (UTC).
    pub time: i64,
    /// OS user that ran the command.
    pub user: String,
    /// Host name of the machine it ran on.
    pub host: String,
    /// The account the event is about; `None` for events about the keychain as a whole.
    pub account: Option<String>,
    /// The action as the log writes it: `login_cache`, `reveal`, `ack`, ...
    pub action: String,
    /// The action's detail: the field of a `reveal`, the FINDING-ID of an `ack`, ...
    pub detail: Option<String>,
    /// Whether the command ended `ok`.
    pub ok: bool,
}

/// The kinds of use the pictures and the rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A token served from the cache.
    CacheHit,
    /// A new access token got with the refresh token.
    Refresh,
    /// A full logon (password, second factor) without a browser.
    Headless,
    /// A failed logon.
    Failed,
    /// A refresh token the provider rejected.
    ChainBroken,
    /// A secret shown to a person.
    Reveal,
}

impl Kind {
    /// Every kind, in the order of [`Timelines::daily`]'s counts.
    pub const ALL: [Kind; 6] = [
        Kind::CacheHit,
        Kind::Refresh,
        Kind::Headless,
        Kind::Failed,
        Kind::ChainBroken,
        Kind::Reveal,
    ];

    /// The kind of a log action, if it is one the analysis looks at.
    pub fn of(action: &str) -> Option<Kind> {
        Some(match action {
            "login_cache" => Kind::CacheHit,
            "login_refresh" => Kind::Refresh,
            "login_headless" => Kind::Headless,
            "login_failed" => Kind::Failed,
            "chain_broken" => Kind::ChainBroken,
            "reveal" => Kind::Reveal,
            _ => return None,
        })
    }

    /// Singular and plural, for titles such as "3 refreshes".
    pub fn noun(self, count: u64) -> &'static str {
        let one = count == 1;
        match self {
            Kind::CacheHit if one => "cache hit",
            Kind::CacheHit => "cache hits",
            Kind::Refresh if one => "refresh",
            Kind::Refresh => "refreshes",
            Kind::Headless if one => "headless logon",
            Kind::Headless => "headless logons",
            Kind::Failed if one => "failed logon",
            Kind::Failed => "failed logons",
            Kind::ChainBroken if one => "broken refresh chain",
            Kind::ChainBroken => "broken refresh chains",
            Kind::Reveal if one => "reveal",
            Kind::Reveal => "reveals",
        }
    }
}

/// A line of the log as the activity analysis reads it (was `trail::lines`'s; the analysis
/// reads the log, the log knows nothing of the analysis).
impl crate::audit::Line {
    /// The line as a [`TrailEvent`]; `None` when its time does not parse.
    pub fn trail_event(&self) -> Option<TrailEvent> {
        Some(TrailEvent {
            seq: self.seq,
            time: self.unix()?,
            user: self.user.clone(),
            host: self.host.clone(),
            account: self.account.clone(),
            action: self.action.clone(),
            detail: self.detail.clone(),
            ok: self.outcome == "ok",
        })
    }
}

impl TrailEvent {
    /// The event's kind, or `None` for actions the analysis does not look at.
    pub fn kind(&self) -> Option<Kind> {
        Kind::of(&self.action)
    }

    /// Where the event came from, as shown to people: `user@host`.
    pub fn origin(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }
}

/// The UTC day of a Unix time, counted from 1970-01-01.
pub fn day_of(time: i64) -> i64 {
    time.div_euclid(DAY)
}

/// The UTC hour of day (0..24) of a Unix time.
pub fn hour_of(time: i64) -> u32 {
    (time.rem_euclid(DAY) / HOUR) as u32
}

/// The ISO week (Monday to Sunday, UTC) of a Unix time, as the day number of its Monday.
pub fn week_of(time: i64) -> i64 {
    // 1970-01-01 was a Thursday: day 4 is the first Monday.
    let day = day_of(time);
    day - (day - 4).rem_euclid(7)
}

/// The last second RFC 3339 can write (9999-12-31T23:59:59Z).
const LAST_WRITABLE: i64 = 253_402_300_799;

/// A trail from elsewhere may carry any time. `clock::rfc3339` writes years past 9999 in the
/// expanded form (`+10000-...`), which the fixed slices of [`date_of_day`] and [`minute_of`]
/// would cut mid-date; shown times are clamped to 1970..=9999 here instead.
fn rfc3339(time: i64) -> String {
    crate::clock::rfc3339(time.clamp(0, LAST_WRITABLE))
}

/// `YYYY-MM-DD` of a day number.
pub fn date_of_day(day: i64) -> String {
    rfc3339(day.saturating_mul(DAY))[..10].to_string()
}

/// `YYYY-MM-DD HH:MM` (UTC) of a Unix time.
pub fn minute_of(time: i64) -> String {
    let full = rfc3339(time);
    format!("{} {}", &full[..10], &full[11..16])
}

/// What the analysis returns: the anomalies still open, the acknowledged ones, and the
/// timelines of the window.
#[derive(Debug)]
pub struct Analysis {
    /// Anomalies whose latest event falls in the window and that no `ack` silenced, in the
    /// order of their latest event.
    pub anomalies: Vec<Anomaly>,
    /// Anomalies in the window that an `ack` silenced.
    pub acknowledged: Vec<Acknowledgement>,
    /// The window's counts, for the report's pictures.
    pub timelines: Timelines,
}

/// Reads a trail once and returns its anomalies and timelines. `days` is the window that ends
/// at `now`: the timelines cover it, and only anomalies whose latest event falls in it are
/// listed (the rules learn from the whole trail).
pub fn analyse(
    events: impl IntoIterator<Item = TrailEvent>,
    now: i64,
    days: u32,
    thresholds: &Thresholds,
) -> Analysis {
    let start = now - i64::from(days) * DAY;
    let mut rules = anomaly::Rules::new(thresholds.clone());
    let mut timelines = Timelines::new(start, now);
    for event in events {
        rules.push(&event);
        timelines.push(&event);
    }
    let (anomalies, acknowledged) = rules.finish(start);
    Analysis {
        anomalies,
        acknowledged,
        timelines,
    }
}
