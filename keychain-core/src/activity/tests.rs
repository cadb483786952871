//! The rules and timelines on trails built in memory with a fixed clock: each anomaly fires on
//! its pattern and stays quiet on normal use.

use super::anomaly::{finding_id, looks_like_id};
use super::*;

/// 2026-11-02 00:00:00 UTC, a Monday.
const MONDAY: i64 = 1_793_577_600;
const NOW: i64 = MONDAY + 28 * DAY;

struct Trail {
    events: Vec<TrailEvent>,
}

impl Trail {
    fn new() -> Self {
        Trail { events: Vec::new() }
    }

    fn at(&mut self, time: i64, user: &str, host: &str, account: &str, action: &str) -> &mut Self {
        self.push(time, user, host, account, action, None)
    }

    fn push(
        &mut self,
        time: i64,
        user: &str,
        host: &str,
        account: &str,
        action: &str,
        detail: Option<&str>,
    ) -> &mut Self {
        self.events.push(TrailEvent {
            seq: self.events.len() as u64,
            time,
            user: user.into(),
            host: host.into(),
            account: Some(account.into()).filter(|a: &String| !a.is_empty()),
            action: action.into(),
            detail: detail.map(str::to_string),
            ok: true,
        });
        self
    }

    /// A month of normal use of `acme` by cron@srv: a cache hit every 10 minutes from 06:00
    /// to 18:00, a refresh every hour, and one headless logon a day at 06:05.
    fn normal(&mut self) -> &mut Self {
        for day in 0..28 {
            let base = MONDAY + day * DAY;
            self.at(
                base + 6 * HOUR + 300,
                "cron",
                "srv",
                "acme",
                "login_headless",
            );
            for step in 0..72 {
                let t = base + 6 * HOUR + 600 + step * 600;
                let action = if step % 6 == 0 {
                    "login_refresh"
                } else {
                    "login_cache"
                };
                self.at(t, "cron", "srv", "acme", action);
            }
        }
        self
    }

    fn analyse(&self) -> Analysis {
        analyse(self.events.clone(), NOW, 30, &Thresholds::default())
    }
}

fn codes(a: &Analysis) -> Vec<&'static str> {
    a.anomalies.iter().map(|a| a.code).collect()
}

#[test]
fn normal_use_raises_no_anomaly() {
    let mut t = Trail::new();
    t.normal();
    // Two failed logons on one day and two broken chains in one week are within the limits.
    t.at(
        MONDAY + 3 * DAY + 7 * HOUR,
        "cron",
        "srv",
        "acme",
        "login_failed",
    )
    .at(
        MONDAY + 3 * DAY + 8 * HOUR,
        "cron",
        "srv",
        "acme",
        "login_failed",
    )
    .at(
        MONDAY + 7 * DAY + 9 * HOUR,
        "cron",
        "srv",
        "acme",
        "chain_broken",
    )
    .at(
        MONDAY + 9 * DAY + 9 * HOUR,
        "cron",
        "srv",
        "acme",
        "chain_broken",
    );
    let a = t.analyse();
    assert_eq!(codes(&a), Vec::<&str>::new(), "{:#?}", a.anomalies);
}

#[test]
fn a_new_host_or_os_user_is_found_once_and_the_first_origin_is_the_baseline() {
    let mut t = Trail::new();
    t.normal();
    let at = MONDAY + 20 * DAY + 10 * HOUR;
    t.at(at, "cron", "laptop", "acme", "login_cache")
        .at(at + 60, "cron", "laptop", "acme", "login_cache")
        .at(at + 120, "eve", "srv", "acme", "login_cache")
        // The first origin of another account is its baseline.
        .at(at + 180, "ops", "other", "beta", "login_headless");
    let a = t.analyse();
    assert_eq!(
        codes(&a),
        ["new-origin", "new-origin"],
        "{:#?}",
        a.anomalies
    );
    assert!(
        a.anomalies[0].message.contains("a new host"),
        "{}",
        a.anomalies[0].message
    );
    assert!(a.anomalies[0].message.contains("cron@srv"));
    assert!(a.anomalies[1].message.contains("a new OS user"));
    assert_eq!(a.anomalies[0].account, "acme");
    assert_eq!(a.anomalies[0].severity, crate::severity::Severity::Medium);
    let laptop_seq = t.events.len() as u64 - 4;
    assert_eq!(a.anomalies[0].events, [laptop_seq]);
}

#[test]
fn a_headless_logon_outside_usual_hours_is_found_after_enough_history() {
    let mut t = Trail::new();
    t.normal();
    let night = MONDAY + 27 * DAY + 3 * HOUR + 12 * 60;
    t.at(night, "cron", "srv", "acme", "login_headless");
    let a = t.analyse();
    assert_eq!(codes(&a), ["off-hours-logon"], "{:#?}", a.anomalies);
    let m = &a.anomalies[0].message;
    assert!(
        m.contains("03:12 UTC") && m.contains("0% of its") && m.contains("06, 07"),
        "{m}"
    );

    // Within an hour of a usual hour: not a finding.
    let mut t = Trail::new();
    t.normal();
    t.at(
        MONDAY + 27 * DAY + 5 * HOUR + 10 * 60,
        "cron",
        "srv",
        "acme",
        "login_headless",
    );
    assert_eq!(codes(&t.analyse()), Vec::<&str>::new());

    // Too little history to judge: 19 logons at 06:00, then one at 03:00.
    let mut t = Trail::new();
    for day in 0..19 {
        t.at(
            MONDAY + day * DAY + 6 * HOUR,
            "cron",
            "srv",
            "acme",
            "login_headless",
        );
    }
    t.at(
        MONDAY + 20 * DAY + 3 * HOUR,
        "cron",
        "srv",
        "acme",
        "login_headless",
    );
    assert_eq!(codes(&t.analyse()), Vec::<&str>::new());
    // The 20th makes enough.
    let mut t = Trail::new();
    for day in 0..20 {
        t.at(
            MONDAY + day * DAY + 6 * HOUR,
            "cron",
            "srv",
            "acme",
            "login_headless",
        );
    }
    t.at(
        MONDAY + 21 * DAY + 3 * HOUR,
        "cron",
        "srv",
        "acme",
        "login_headless",
    );
    assert_eq!(codes(&t.analyse()), ["off-hours-logon"]);
}

#[test]
fn more_than_three_failed_logons_in_a_utc_day_is_a_finding() {
    let mut t = Trail::new();
    t.normal();
    let day = MONDAY + 10 * DAY;
    for i in 0..3 {
        let reason = "exit 4: the provider rejected the password";
        t.push(
            day + 9 * HOUR + i * 60,
            "cron",
            "srv",
            "acme",
            "login_failed",
            Some(reason),
        );
    }
    t.push(
        day + 10 * HOUR,
        "cron",
        "srv",
        "acme",
        "login_failed",
        Some("exit 5: timed out"),
    );
    let a = t.analyse();
    assert_eq!(codes(&a), ["failed-logons"], "{:#?}", a.anomalies);
    assert_eq!(a.anomalies[0].events.len(), 4);
    assert_eq!(a.anomalies[0].severity, crate::severity::Severity::High);
    assert_eq!(
        a.anomalies[0].message,
        "4 failed logons on 2026-11-12 (more than 3 in a day; 3 rejected by the provider (exit 4), \
         1 provider unreachable or rate-limited (exit 5)): a wrong or changed password or TOTP \
         secret, or someone trying: the provider may lock the user"
    );

    // Four failures across midnight are two days of two.
    let mut t = Trail::new();
    t.normal();
    for i in 0..4 {
        t.at(
            day + 23 * HOUR + 58 * 60 + i * 60,
            "cron",
            "srv",
            "acme",
            "login_failed",
        );
    }
    assert_eq!(codes(&t.analyse()), Vec::<&str>::new());
}

#[test]
fn more_than_two_broken_chains_in_an_iso_week_is_a_finding() {
    let mut t = Trail::new();
    t.normal();
    // Monday, Wednesday and Sunday of the third week.
    for d in [14, 16, 20] {
        t.at(
            MONDAY + d * DAY + 12 * HOUR,
            "cron",
            "srv",
            "acme",
            "chain_broken",
        );
    }
    let a = t.analyse();
    assert_eq!(codes(&a), ["broken-chains"], "{:#?}", a.anomalies);
    assert!(
        a.anomalies[0].message.contains("week of 2026-11-16"),
        "{}",
        a.anomalies[0].message
    );

    // Sunday and the next Monday and Tuesday: two weeks, no finding.
    let mut t = Trail::new();
    t.normal();
    for d in [13, 14, 15] {
        t.at(
            MONDAY + d * DAY + 12 * HOUR,
            "cron",
            "srv",
            "acme",
            "chain_broken",
        );
    }
    assert_eq!(codes(&t.analyse()), Vec::<&str>::new());
}

#[test]
fn a_first_reveal_by_an_os_user_is_found_once_per_field() {
    let mut t = Trail::new();
    t.normal();
    let at = MONDAY + 15 * DAY + 10 * HOUR;
    t.push(at, "cron", "srv", "acme", "reveal", Some("password"))
        .push(at + 60, "cron", "srv", "acme", "reveal", Some("password"))
        .push(
            at + 120,
            "cron",
            "srv",
            "acme",
            "reveal",
            Some("totp-secret"),
        );
    let a = t.analyse();
    assert_eq!(
        codes(&a),
        ["first-reveal", "first-reveal"],
        "{:#?}",
        a.anomalies
    );
    assert!(
        a.anomalies[0]
            .message
            .contains("revealed the password for the first time")
    );
    assert!(a.anomalies[1].message.contains("totp-secret"));
}

#[test]
fn an_ack_silences_exactly_its_finding_and_ids_are_stable() {
    let mut t = Trail::new();
    t.normal();
    let at = MONDAY + 20 * DAY;
    t.at(at, "eve", "laptop", "acme", "login_cache");
    t.push(at, "eve", "laptop", "acme", "reveal", Some("password"));
    let a = t.analyse();
    assert_eq!(codes(&a), ["first-reveal", "new-origin"]);
    let id = a.anomalies[1].id.clone();
    assert_eq!(id, finding_id("new-origin", &["acme", "laptop", "eve"]));
    assert!(looks_like_id(&id), "{id}");
    // The same trail read again gives the same ids.
    assert_eq!(t.analyse().anomalies[1].id, id);

    t.push(at + DAY, "officer", "desk", "", "ack", Some(&id));
    t.push(
        at + DAY,
        "officer",
        "desk",
        "",
        "ack",
        Some("new-origin-0000000000"),
    );
    let a = t.analyse();
    assert_eq!(codes(&a), ["first-reveal"]);
    assert_eq!(a.acknowledged.len(), 1);
    let ack = &a.acknowledged[0];
    assert_eq!(
        (
            ack.id.as_str(),
            ack.code,
            ack.account.as_str(),
            ack.by.as_str()
        ),
        (id.as_str(), "new-origin", "acme", "officer@desk")
    );
}

#[test]
fn anomalies_before_the_window_are_not_listed() {
    let mut t = Trail::new();
    t.at(MONDAY, "cron", "srv", "acme", "login_cache").at(
        MONDAY + HOUR,
        "eve",
        "laptop",
        "acme",
        "login_cache",
    );
    assert_eq!(codes(&t.analyse()), ["new-origin"]);
    let a = analyse(t.events.clone(), NOW, 7, &Thresholds::default());
    assert!(a.anomalies.is_empty());
}

#[test]
fn ids_have_a_checkable_shape() {
    assert!(looks_like_id("failed-logons-0123456789"));
    for bad in [
        "",
        "failed-logons",
        "failed-logons-012345678",
        "failed-logons-0123456789a",
        "failed-logons-012345678G",
        "failed-logons-ABCDEF0123",
        "unknown-0123456789",
        "../x-0123456789",
    ] {
        assert!(!looks_like_id(bad), "{bad}");
    }
}

#[test]
fn timelines_count_per_origin_hour_and_kind_and_per_day() {
    let mut t = Trail::new();
    let start = NOW - 2 * DAY;
    t.at(start + 10, "cron", "srv", "acme", "login_cache")
        .at(start + 20, "cron", "srv", "acme", "login_cache")
        .at(start + HOUR + 5, "cron", "srv", "acme", "login_refresh")
        .at(start + HOUR + 6, "eve", "laptop", "acme", "login_failed")
        .at(start - 5, "cron", "srv", "acme", "login_cache") // before the window
        .at(start + 30, "cron", "srv", "acme", "add"); // not a use
    let a = analyse(t.events.clone(), NOW, 2, &Thresholds::default());
    let tl = &a.timelines;
    assert_eq!(tl.hours(), 48);
    let acme = &tl.accounts["acme"];
    assert_eq!(acme.rows.len(), 2);
    let srv = &acme.rows[&("cron".to_string(), "srv".to_string())];
    assert_eq!(srv.marks[&(0, Kind::CacheHit)], 2);
    assert_eq!(srv.marks[&(1, Kind::Refresh)], 1);
    assert_eq!(srv.total(), 3);
    let day = day_of(start);
    assert_eq!(tl.daily[&day], [2, 1, 0, 1, 0, 0]);
}

#[test]
fn calendar_helpers_use_utc_days_and_iso_weeks() {
    assert_eq!(date_of_day(day_of(MONDAY)), "2026-11-02");
    assert_eq!(week_of(MONDAY + 6 * DAY + 23 * HOUR), day_of(MONDAY));
    assert_eq!(week_of(MONDAY + 7 * DAY), day_of(MONDAY) + 7);
    assert_eq!(hour_of(MONDAY + 3 * HOUR + 59 * 60), 3);
    assert_eq!(minute_of(MONDAY + 3 * HOUR + 12 * 60), "2026-11-02 03:12");
}

/// Regression (merge of issues 8 and 14): the clamp was lost when `clock::rfc3339` learnt
/// expanded years, and a time past 9999 showed as the date "+10000-01-".
#[test]
fn dates_past_9999_or_before_1970_are_clamped_not_cut() {
    assert_eq!(date_of_day(i64::MAX / DAY), "9999-12-31");
    assert_eq!(minute_of(i64::MAX), "9999-12-31 23:59");
    assert_eq!(date_of_day(i64::MIN / DAY), "1970-01-01");
    assert_eq!(minute_of(-1), "1970-01-01 00:00");
}

mod properties {
    use proptest::prelude::*;

    use super::super::*;

    const ACTIONS: [&str; 10] = [
        "login_cache",
        "login_refresh",
        "login_headless",
        "login_failed",
        "chain_broken",
        "reveal",
        "ack",
        "add",
        "set",
        "export",
    ];

    fn event() -> impl Strategy<Value = TrailEvent> {
        (
            any::<u64>(),
            prop_oneof![any::<i64>(), 1_700_000_000i64..1_800_000_000],
            "[a-z<>&\"]{0,4}",
            "[a-z]{0,3}",
            proptest::option::of("[ab]"),
            0..ACTIONS.len(),
            proptest::option::of("[a-z0-9 :-]{0,12}"),
            any::<bool>(),
        )
            .prop_map(
                |(seq, time, user, host, account, action, detail, ok)| TrailEvent {
                    seq,
                    time,
                    user,
                    host,
                    account,
                    action: ACTIONS[action].to_string(),
                    detail,
                    ok,
                },
            )
    }

    proptest! {
        /// A trail from elsewhere may hold anything: the analysis never panics, the daily counts
        /// add up to the uses in the window, and every finding rests on events of the trail.
        #[test]
        fn any_trail_is_analysed_without_panic_and_counts_add_up(
            events in proptest::collection::vec(event(), 0..200),
            now in 1_700_000_000i64..1_800_000_000,
            days in 1u32..400,
        ) {
            let a = analyse(events.clone(), now, days, &Thresholds::default());
            let start = now - i64::from(days) * DAY;
            let in_window = events
                .iter()
                .filter(|e| e.account.is_some() && e.kind().is_some())
                .filter(|e| e.time >= start && e.time <= now)
                .count() as u64;
            let daily: u64 = a.timelines.daily.values().flat_map(|c| c.iter()).sum();
            prop_assert_eq!(daily, in_window);
            let rows: u64 = a
                .timelines
                .accounts
                .values()
                .flat_map(|t| t.rows.values())
                .map(|r| r.total())
                .sum();
            prop_assert_eq!(rows, in_window);
            for anomaly in &a.anomalies {
                prop_assert!(anomaly::looks_like_id(&anomaly.id));
                prop_assert!(!anomaly.events.is_empty());
                for seq in &anomaly.events {
                    prop_assert!(events.iter().any(|e| e.seq == *seq));
                }
            }
        }
    }
}
