//! Counts for the report's pictures: per account and origin (OS user and host), how many events
//! of each kind fell in each hour of the window; and per UTC day, across accounts, how many of
//! each kind. Counting per hour keeps a picture of 100,000 events small: a cron job that logs
//! on every minute gives at most 24 marks a day per row, not 1,440.

use std::collections::BTreeMap;

use super::{DAY, HOUR, Kind, TrailEvent, day_of};

/// Events of one origin of one account: (hour since the window's start, kind) → count.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Row {
    pub marks: BTreeMap<(u32, Kind), u64>,
}

impl Row {
    pub fn total(&self) -> u64 {
        self.marks.values().sum()
    }
}

/// One account's rows, keyed by (OS user, host).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AccountTimeline {
    pub rows: BTreeMap<(String, String), Row>,
}

/// The window's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timelines {
    /// Unix time of the window's start and end (the report's `now`).
    pub start: i64,
    pub end: i64,
    pub accounts: BTreeMap<String, AccountTimeline>,
    /// UTC day → count per kind, in the order of [`Kind::ALL`].
    pub daily: BTreeMap<i64, [u64; 6]>,
}

impl Timelines {
    pub fn new(start: i64, end: i64) -> Self {
        Timelines {
            start,
            end,
            accounts: BTreeMap::new(),
            daily: BTreeMap::new(),
        }
    }

    /// Hours in the window, rounded up.
    pub fn hours(&self) -> u32 {
        ((self.end - self.start + HOUR - 1) / HOUR).max(1) as u32
    }

    /// The UTC days the window touches, first to last.
    pub fn days(&self) -> std::ops::RangeInclusive<i64> {
        day_of(self.start)..=day_of(self.end)
    }

    /// Unix time at which hour `index` of the window starts.
    pub fn hour_start(&self, index: u32) -> i64 {
        self.start + i64::from(index) * HOUR
    }

    pub(crate) fn push(&mut self, e: &TrailEvent) {
        let (Some(account), Some(kind)) = (&e.account, e.kind()) else {
            return;
        };
        if e.time < self.start || e.time > self.end {
            return;
        }
        let hour = ((e.time - self.start) / HOUR) as u32;
        let timeline = match self.accounts.get_mut(account) {
            Some(t) => t,
            None => self.accounts.entry(account.clone()).or_default(),
        };
        let key = (e.user.clone(), e.host.clone());
        let row = match timeline.rows.get_mut(&key) {
            Some(r) => r,
            None => timeline.rows.entry(key).or_default(),
        };
        *row.marks.entry((hour, kind)).or_default() += 1;
        let slot = Kind::ALL.iter().position(|k| *k == kind).expect("listed");
        self.daily.entry(day_of(e.time)).or_insert([0; 6])[slot] += 1;
    }

    /// The number of days in the window (for captions).
    pub fn window_days(&self) -> i64 {
        (self.end - self.start) / DAY
    }
}
