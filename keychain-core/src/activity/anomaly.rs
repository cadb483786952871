//! The anomaly rules: what in a trail looks wrong, explained in words, with the events it is
//! based on and a FINDING-ID that stays the same from one report to the next.
//!
//! | code | severity | fires when |
//! | --- | --- | --- |
//! | `new-origin` | medium | an account is used from a host, or by an OS user, that never used it before (its first user and host are the baseline) |
//! | `off-hours-logon` | medium | a headless logon falls in an hour of day (UTC) in which fewer than [`USUAL_HOUR_SHARE_PERCENT`]% of the account's earlier successful logins (cache, refresh, headless) fell, give or take an hour, once it has [`MIN_LOGON_HISTORY`] of them |
//! | `failed-logons` | high | more than [`FAILED_LOGONS_PER_DAY`] failed logons of an account in one UTC day |
//! | `broken-chains` | high | more than [`BROKEN_CHAINS_PER_WEEK`] broken refresh chains of an account in one ISO week (UTC) |
//! | `first-reveal` | medium | an OS user reveals a secret field of an account for the first time |
//!
//! The FINDING-ID is the code and 10 hex digits of a SHA-256 over what identifies the finding
//! (account and origin, or account and day, ...), never over the trail's positions, so it
//! survives rotation and will match on a shared trail. An `ack` event carrying the ID silences
//! it; the ack is itself a line of the trail.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Kind, TrailEvent, date_of_day, day_of, hour_of, minute_of, week_of};
use crate::severity::Severity;

/// More failed logons than this in one UTC day is a finding.
pub const FAILED_LOGONS_PER_DAY: u32 = 3;
/// More broken refresh chains than this in one ISO week is a finding.
pub const BROKEN_CHAINS_PER_WEEK: u32 = 2;
/// Successful logins (cache, refresh, headless) an account must have before its usual hours
/// are judged.
pub const MIN_LOGON_HISTORY: u32 = 20;
/// An hour of day is usual when at least this share (percent) of the earlier logins fell
/// within an hour of it.
pub const USUAL_HOUR_SHARE_PERCENT: u32 = 2;

/// The thresholds of the rules; [`Default`] gives the named constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    pub failed_logons_per_day: u32,
    pub broken_chains_per_week: u32,
    pub min_logon_history: u32,
    pub usual_hour_share_percent: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            failed_logons_per_day: FAILED_LOGONS_PER_DAY,
            broken_chains_per_week: BROKEN_CHAINS_PER_WEEK,
            min_logon_history: MIN_LOGON_HISTORY,
            usual_hour_share_percent: USUAL_HOUR_SHARE_PERCENT,
        }
    }
}

/// One anomaly: what, how bad, where, why, and the events it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// Stable FINDING-ID for `keychain audit ack`.
    pub id: String,
    pub code: &'static str,
    pub severity: Severity,
    pub account: String,
    pub message: String,
    /// The `seq` of each event the finding is based on, in trail order.
    pub events: Vec<u64>,
    /// Unix time of the latest of those events.
    #[serde(skip)]
    pub last: i64,
}

/// An anomaly finding that an `ack` silenced, and who did that, where and when: the report
/// shows these apart, so that silencing is as visible as what was silenced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acknowledgement {
    pub id: String,
    pub code: &'static str,
    pub account: String,
    /// `user@host` of the `ack`.
    pub by: String,
    /// RFC 3339 time of the `ack`.
    pub at: String,
    /// `seq` of the `ack` in the trail.
    pub seq: u64,
}

/// `CODE-` and 10 hex digits of SHA-256 over the code and the parts that identify the finding.
pub fn finding_id(code: &str, parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    hash.update(code.as_bytes());
    for part in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("{code}-{hex}")
}

/// Whether `text` has the shape of a FINDING-ID (a check on input, not on existence).
pub fn looks_like_id(text: &str) -> bool {
    let Some((code, hex)) = text.rsplit_once('-') else {
        return false;
    };
    CODES.contains(&code)
        && hex.len() == 10
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Every code the rules produce.
pub const CODES: [&str; 5] = [
    "new-origin",
    "off-hours-logon",
    "failed-logons",
    "broken-chains",
    "first-reveal",
];

#[derive(Default)]
struct AccountState {
    /// (host, user) pairs that used the account.
    origins: HashSet<(String, String)>,
    /// Successful logons per UTC hour of day.
    hours: [u32; 24],
    logons: u32,
    /// Failed logons per day: (seq, time), and the exit code each gave.
    failed: BTreeMap<i64, Vec<(u64, i64)>>,
    failed_exits: BTreeMap<i64, Vec<Option<u32>>>,
    /// Broken chains per ISO week: (seq, time).
    broken: BTreeMap<i64, Vec<(u64, i64)>>,
    /// (user, field) pairs that revealed a secret.
    revealed: HashSet<(String, String)>,
}

/// The rules as a one-pass reader of a trail.
pub(crate) struct Rules {
    th: Thresholds,
    accounts: HashMap<String, AccountState>,
    /// FINDING-ID → the first `ack` of it.
    acks: HashMap<String, Acknowledgement>,
    found: Vec<Anomaly>,
}

impl Rules {
    pub(crate) fn new(th: Thresholds) -> Self {
        Rules {
            th,
            accounts: HashMap::new(),
            acks: HashMap::new(),
            found: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, e: &TrailEvent) {
        if e.action == "ack" {
            if let Some(id) = &e.detail
                && e.ok
            {
                self.acks
                    .entry(id.clone())
                    .or_insert_with(|| Acknowledgement {
                        id: id.clone(),
                        code: "",
                        account: String::new(),
                        by: e.origin(),
                        at: crate::clock::rfc3339(e.time),
                        seq: e.seq,
                    });
            }
            return;
        }
        let (Some(account), Some(kind)) = (&e.account, e.kind()) else {
            return;
        };
        if !self.accounts.contains_key(account) {
            self.accounts
                .insert(account.clone(), AccountState::default());
        }
        let state = self.accounts.get_mut(account).expect("inserted above");
        if let Some(a) = new_origin(state, account, e, kind) {
            self.found.push(a);
        }
        match kind {
            Kind::CacheHit | Kind::Refresh | Kind::Headless if e.ok => {
                if kind == Kind::Headless
                    && let Some(a) = off_hours(state, &self.th, account, e)
                {
                    self.found.push(a);
                }
                state.hours[hour_of(e.time) as usize] += 1;
                state.logons += 1;
            }
            Kind::Failed => {
                let day = day_of(e.time);
                state.failed.entry(day).or_default().push((e.seq, e.time));
                state
                    .failed_exits
                    .entry(day)
                    .or_default()
                    .push(e.detail.as_deref().and_then(exit_code_of));
            }
            Kind::ChainBroken => state
                .broken
                .entry(week_of(e.time))
                .or_default()
                .push((e.seq, e.time)),
            Kind::Reveal if e.ok => {
                let field = e.detail.clone().unwrap_or_else(|| "secret".into());
                if state.revealed.insert((e.user.clone(), field.clone())) {
                    self.found.push(Anomaly {
                        id: finding_id("first-reveal", &[account, &e.user, &field]),
                        code: "first-reveal",
                        severity: Severity::Medium,
                        account: account.clone(),
                        message: format!(
                            "OS user '{}' revealed the {field} for the first time (on host '{}', {} UTC); no earlier reveal of it by this user is in the trail",
                            e.user,
                            e.host,
                            minute_of(e.time)
                        ),
                        events: vec![e.seq],
                        last: e.time,
                    });
                }
            }
            _ => {}
        }
    }

    /// The anomalies whose latest event is at or after `since`, minus the acknowledged ones
    /// (returned apart, with who silenced them), ordered by time.
    pub(crate) fn finish(mut self, since: i64) -> (Vec<Anomaly>, Vec<Acknowledgement>) {
        let mut names: Vec<&String> = self.accounts.keys().collect();
        names.sort();
        for name in names {
            let state = &self.accounts[name];
            for (day, events) in &state.failed {
                if events.len() as u64 > u64::from(self.th.failed_logons_per_day) {
                    let date = date_of_day(*day);
                    self.found.push(burst(
                        "failed-logons",
                        Severity::High,
                        name,
                        &date,
                        events,
                        format!(
                            "{} failed logons on {date} (more than {} in a day; {}",
                            events.len(),
                            self.th.failed_logons_per_day,
                            failure_causes(state.failed_exits.get(day).map_or(&[][..], |v| v))
                        ),
                    ));
                }
            }
            for (monday, events) in &state.broken {
                if events.len() as u64 > u64::from(self.th.broken_chains_per_week) {
                    let date = date_of_day(*monday);
                    self.found.push(burst(
                        "broken-chains",
                        Severity::High,
                        name,
                        &date,
                        events,
                        format!(
                            "the refresh-token chain broke {} times in the week of {date} (more than {}): another copy of the refresh token is probably in use (a restored backup, a second keychain)",
                            events.len(),
                            self.th.broken_chains_per_week
                        ),
                    ));
                }
            }
        }
        let mut acknowledged = Vec::new();
        let mut open = Vec::new();
        for a in self.found.into_iter().filter(|a| a.last >= since) {
            match self.acks.get(&a.id) {
                Some(ack) => acknowledged.push((
                    a.last,
                    Acknowledgement {
                        code: a.code,
                        account: a.account,
                        ..ack.clone()
                    },
                )),
                None => open.push(a),
            }
        }
        open.sort_by(|a, b| a.last.cmp(&b.last).then_with(|| a.id.cmp(&b.id)));
        acknowledged.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
        (open, acknowledged.into_iter().map(|(_, a)| a).collect())
    }
}

/// The exit code at the start of a `login_failed` detail (`exit 4: ...`).
fn exit_code_of(detail: &str) -> Option<u32> {
    detail
        .strip_prefix("exit ")?
        .split(':')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// What the exit codes of a day's failures say, and what that suggests.
fn failure_causes(exits: &[Option<u32>]) -> String {
    let count = |code: Option<u32>| exits.iter().filter(|e| **e == code).count();
    let rejected = count(Some(4));
    let unavailable = count(Some(5));
    let other = exits.len() - rejected - unavailable;
    let mut parts = Vec::new();
    if rejected > 0 {
        parts.push(format!("{rejected} rejected by the provider (exit 4)"));
    }
    if unavailable > 0 {
        parts.push(format!(
            "{unavailable} provider unreachable or rate-limited (exit 5)"
        ));
    }
    if other > 0 {
        parts.push(format!("{other} for other reasons"));
    }
    let why = if rejected > 0 {
        "a wrong or changed password or TOTP secret, or someone trying: the provider may lock the user"
    } else {
        "the logons of a job are failing"
    };
    format!("{}): {why}", parts.join(", "))
}

fn burst(
    code: &'static str,
    severity: Severity,
    account: &str,
    period: &str,
    events: &[(u64, i64)],
    message: String,
) -> Anomaly {
    Anomaly {
        id: finding_id(code, &[account, period]),
        code,
        severity,
        account: account.to_string(),
        message,
        events: events.iter().map(|(seq, _)| *seq).collect(),
        last: events.iter().map(|(_, t)| *t).max().unwrap_or(0),
    }
}

/// The first use of an account seeds its origins; a later use from an unseen host or by an
/// unseen OS user is a finding.
fn new_origin(
    state: &mut AccountState,
    account: &str,
    e: &TrailEvent,
    kind: Kind,
) -> Option<Anomaly> {
    let key = (e.host.clone(), e.user.clone());
    if state.origins.contains(&key) {
        return None;
    }
    let first = state.origins.is_empty();
    let known_host = state.origins.iter().any(|(h, _)| *h == e.host);
    let known_user = state.origins.iter().any(|(_, u)| *u == e.user);
    state.origins.insert(key);
    if first {
        return None;
    }
    let what = match (known_host, known_user) {
        (false, false) => "a new host and a new OS user",
        (false, true) => "a new host",
        _ => "a new OS user",
    };
    Some(Anomaly {
        id: finding_id("new-origin", &[account, &e.host, &e.user]),
        code: "new-origin",
        severity: Severity::Medium,
        account: account.to_string(),
        message: format!(
            "first use by {what}: '{}' on host '{}' ({}, {} UTC); before, only {} used it",
            e.user,
            e.host,
            kind.noun(1),
            minute_of(e.time),
            origins_text(&state.origins, &e.host, &e.user)
        ),
        events: vec![e.seq],
        last: e.time,
    })
}

/// The known origins other than the new one, at most three, as `user@host`.
fn origins_text(origins: &HashSet<(String, String)>, host: &str, user: &str) -> String {
    let mut known: Vec<String> = origins
        .iter()
        .filter(|(h, u)| !(h == host && u == user))
        .map(|(h, u)| format!("{u}@{h}"))
        .collect();
    known.sort();
    let more = known.len().saturating_sub(3);
    known.truncate(3);
    let mut text = known.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// Share of the earlier logons (percent, rounded down) that fell within an hour of `hour`.
fn share_near(hours: &[u32; 24], logons: u32, hour: u32) -> u64 {
    let near: u64 = [23, 0, 1]
        .iter()
        .map(|d| u64::from(hours[((hour + d) % 24) as usize]))
        .sum();
    near * 100 / u64::from(logons.max(1))
}

fn off_hours(
    state: &AccountState,
    th: &Thresholds,
    account: &str,
    e: &TrailEvent,
) -> Option<Anomaly> {
    if state.logons < th.min_logon_history {
        return None;
    }
    let hour = hour_of(e.time);
    let share = share_near(&state.hours, state.logons, hour);
    if share >= u64::from(th.usual_hour_share_percent) {
        return None;
    }
    let usual: Vec<String> = (0..24)
        .filter(|h| {
            u64::from(state.hours[*h as usize]) * 100 / u64::from(state.logons)
                >= u64::from(th.usual_hour_share_percent)
        })
        .map(|h| format!("{h:02}"))
        .collect();
    Some(Anomaly {
        id: finding_id(
            "off-hours-logon",
            &[account, &e.time.to_string(), &e.host, &e.user],
        ),
        code: "off-hours-logon",
        severity: Severity::Medium,
        account: account.to_string(),
        message: format!(
            "headless logon at {} UTC by '{}' on host '{}', outside the account's usual hours: {share}% of its {} earlier logins fell within an hour of {hour:02}:00 (usual hours, UTC: {})",
            minute_of(e.time),
            e.user,
            e.host,
            state.logons,
            if usual.is_empty() {
                "none stands out".to_string()
            } else {
                usual.join(", ")
            }
        ),
        events: vec![e.seq],
        last: e.time,
    })
}
