//! Anomaly findings and the report's pictures, through the real binary.
//!
//! Three ways of building a trail with a known pattern, none of which sleeps:
//! - real logons against the Exact emulator, with keychain's clock and the emulator's moved
//!   together through libfaketime (days of normal use, then a night of broken chains and
//!   headless logons, a day of failed logons);
//! - events appended through the library with a given time, user and host
//!   (`AuditLog::append_stamped`), for what one machine cannot produce: another host, another
//!   OS user;
//! - events appended through the library's log on a `ManualClock` set back (this process's
//!   user and host), for a past event of an ordinary command.
//!
//! Each anomaly must fire on its pattern and stay quiet on normal use; `audit ack` acknowledges
//! exactly one and is itself recorded.

use crate::support;

use std::time::{Duration, UNIX_EPOCH};

use keychain::activity::anomaly::{
    BROKEN_CHAINS_PER_WEEK, FAILED_LOGONS_PER_DAY, MIN_LOGON_HISTORY, USUAL_HOUR_SHARE_PERCENT,
};
use keychain::audit::{Action, Event, Stamp};
use serde_json::Value;
use support::chromium::{chromium, file_url};
use support::exact_emulator::Config;
use support::login::Exact;
use support::*;

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;
const ANOMALIES: [&str; 5] = [
    "new-origin",
    "off-hours-logon",
    "failed-logons",
    "broken-chains",
    "first-reveal",
];

/// The open anomaly findings of a report as (code, account, id, number of events).
fn anomalies(report: &Value) -> Vec<(String, String, String, usize)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| ANOMALIES.contains(&f["code"].as_str().unwrap()))
        .filter(|f| f["acknowledged"].is_null())
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["accounts"][0]["name"].as_str().unwrap().to_string(),
                f["id"].as_str().expect("anomalies carry an id").to_string(),
                f["events"].as_array().expect("and their events").len(),
            )
        })
        .collect()
}

/// The acknowledged findings of a report (issue 23: they stay listed, marked).
fn acknowledged(report: &Value) -> Vec<Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["acknowledged"].is_null())
        .cloned()
        .collect()
}

fn codes(report: &Value) -> Vec<String> {
    let mut codes: Vec<String> = anomalies(report).into_iter().map(|a| a.0).collect();
    codes.sort();
    codes
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

/// The last line of the audit log, parsed.
fn last_log_line(kc: &Kc) -> Value {
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    serde_json::from_str(log.lines().last().unwrap()).unwrap()
}

#[test]
fn real_logons_with_a_moved_clock_raise_off_hours_broken_chains_and_failed_logons_only_when_due() {
    let mut exact = Exact::start(Config {
        password: CANARY_PASSWORD.into(),
        ..Config::default()
    });
    let kc = Kc::with_file_store();
    exact.add(&kc, "ex", CANARY_PASSWORD);
    exact.add(&kc, "bad", "not-the-password");

    // Normal use: one logon a day at 10:00 UTC for as many days as the rules need history.
    let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
    exact.advance(now.div_euclid(DAY) * DAY + DAY + 10 * HOUR - now);
    for _ in 0..MIN_LOGON_HISTORY {
        exact.ok(&kc, &["login", "ex"]);
        exact.advance(DAY);
    }
    let report = json(&exact.run(&kc, &["audit", "--json", "--fail-on", "critical"]));
    assert_eq!(
        codes(&report),
        Vec::<String>::new(),
        "normal use: {report:#}"
    );

    // A stale refresh token: it will have been used. An officer reveals it and acknowledges
    // that first reveal, so that only the night's pattern is left to find.
    let stale = exact.ok(&kc, &["show", "ex", "--reveal", "refresh-token"]);
    let stale = kc.file("stale-refresh-token.txt", stale.trim());
    let report = json(&exact.run(&kc, &["audit", "--json"]));
    let reveal = anomalies(&report);
    assert_eq!(reveal.len(), 1, "{report:#}");
    assert_eq!(reveal[0].0, "first-reveal");
    exact.ok(&kc, &["audit", "ack", &reveal[0].2]);
    exact.advance(600);
    exact.ok(&kc, &["login", "ex"]);
    // The night: at 03:00, 03:15, ... the stale token comes back (through `set`: copying an
    // old record file back is a replay, refused), it is rejected (a broken chain) and keychain
    // logs on headlessly.
    exact.advance(DAY - 600 - 7 * HOUR);
    for _ in 0..=BROKEN_CHAINS_PER_WEEK {
        exact.ok(
            &kc,
            &["set", "ex", "--refresh-token-file", stale.to_str().unwrap()],
        );
        exact.ok(&kc, &["login", "ex"]);
        exact.advance(15 * 60);
    }
    // The same day: failed logons of another account, one more than allowed.
    for _ in 0..=FAILED_LOGONS_PER_DAY {
        assert_exit(&exact.run(&kc, &["login", "bad"]), 4);
        exact.advance(60);
    }

    let report = json(&exact.run(&kc, &["audit", "--json", "--fail-on", "critical"]));
    let found = anomalies(&report);
    assert_eq!(
        codes(&report),
        ["broken-chains", "failed-logons", "off-hours-logon"],
        "{report:#}"
    );
    let by_code = |code: &str| found.iter().find(|a| a.0 == code).unwrap().clone();
    let off_hours = by_code("off-hours-logon");
    assert_eq!((off_hours.1.as_str(), off_hours.3), ("ex", 1));
    let broken = by_code("broken-chains");
    assert_eq!(
        (broken.1.as_str(), broken.3),
        ("ex", BROKEN_CHAINS_PER_WEEK as usize + 1)
    );
    let failed = by_code("failed-logons");
    assert_eq!(
        (failed.1.as_str(), failed.3),
        ("bad", FAILED_LOGONS_PER_DAY as usize + 1)
    );
    let text = exact.ok(&kc, &["audit", "--fail-on", "critical"]);
    assert!(
        text.contains("outside the account's usual hours") && text.contains(&off_hours.2),
        "{text}"
    );

    // Acknowledged: recorded, then listed as acknowledged (no longer open); the log still
    // verifies.
    let out = exact.run(&kc, &["audit", "ack", &off_hours.2]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("Acknowledged"), "{}", stderr(&out));
    let line = last_log_line(&kc);
    assert_eq!(
        (
            line["action"].as_str(),
            line["detail"].as_str(),
            line["account"].as_str()
        ),
        (Some("ack"), Some(off_hours.2.as_str()), Some("ex"))
    );
    exact.ok(&kc, &["audit", "verify"]);
    let report = json(&exact.run(&kc, &["audit", "--json", "--fail-on", "critical"]));
    assert_eq!(codes(&report), ["broken-chains", "failed-logons"]);
    let ack = acknowledged(&report)
        .into_iter()
        .find(|a| a["code"] == "off-hours-logon")
        .expect("the off-hours logon is listed as acknowledged");
    assert_eq!(ack["id"].as_str(), Some(off_hours.2.as_str()));
    assert!(
        ack["acknowledged"]["by"].as_str().unwrap().contains('@'),
        "{ack}"
    );
    let text = exact.ok(&kc, &["audit", "--fail-on", "critical"]);
    assert!(
        text.contains("outside the account's usual hours")
            && text
                .lines()
                .any(|l| l.contains(&format!("id {};", off_hours.2))
                    && l.contains("acknowledged by")),
        "{text}"
    );
}

/// A month of a cron job's use of `acme` by cron@srv, appended through the library, with
/// times counted back from now.
fn normal_month(now: i64) -> Vec<(Event, Stamp)> {
    let mut trail = Vec::new();
    for day in (1..=28).rev() {
        let base = (now - day * DAY).div_euclid(DAY) * DAY;
        trail.push(at(base + 6 * HOUR, "cron", "srv", Action::LoginHeadless));
        for step in 1..12 {
            trail.push(at(
                base + 6 * HOUR + step * 1800,
                "cron",
                "srv",
                Action::LoginCache,
            ));
        }
    }
    trail
}

fn at(time: i64, user: &str, host: &str, action: Action) -> (Event, Stamp) {
    (
        Event::new("login", action).account("acme"),
        Stamp {
            time: UNIX_EPOCH + Duration::from_secs(time as u64),
            user: user.into(),
            host: host.into(),
        },
    )
}

fn append(kc: &Kc, trail: &[(Event, Stamp)]) {
    keychain::audit::log_of(&kc.dir, &keychain::clock::system())
        .append_stamped(trail.iter().map(|(e, s)| (e, s)))
        .unwrap();
}

#[test]
fn a_new_host_a_new_os_user_and_a_first_reveal_are_found_and_each_ack_is_audited() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
    append(&kc, &normal_month(now));
    let report = json(&kc.run(&["audit", "--json", "--fail-on", "critical"]));
    assert_eq!(
        codes(&report),
        Vec::<String>::new(),
        "normal use: {report:#}"
    );

    append(
        &kc,
        &[
            at(now - 2 * DAY, "cron", "laptop", Action::LoginCache),
            at(now - 2 * DAY + 60, "cron", "laptop", Action::LoginCache),
            at(now - DAY, "eve", "srv", Action::LoginRefresh),
        ],
    );
    // A real reveal by this process's OS user, who never used the account before.
    kc.ok(&["show", "acme", "--reveal", "password"]);
    let out = kc.run(&["audit", "--json", "--fail-on", "critical"]);
    let report = json(&out);
    assert_eq!(
        codes(&report),
        ["first-reveal", "new-origin", "new-origin", "new-origin"],
        "{report:#}"
    );
    let text = kc.ok(&["audit", "--fail-on", "critical"]);
    assert!(
        text.contains("first use by a new host: 'cron' on host 'laptop'"),
        "{text}"
    );
    assert!(
        text.contains("first use by a new OS user: 'eve' on host 'srv'"),
        "{text}"
    );
    assert!(!text.contains(CANARY_PASSWORD));

    // Each acknowledged finding is marked (and stays listed); the others stay open; acking
    // twice records nothing new.
    let ids: Vec<String> = anomalies(&report).into_iter().map(|a| a.2).collect();
    for (i, id) in ids.iter().enumerate() {
        kc.ok(&["audit", "ack", id]);
        assert_eq!(last_log_line(&kc)["detail"].as_str(), Some(id.as_str()));
        let report = json(&kc.run(&["audit", "--json", "--fail-on", "critical"]));
        assert_eq!(anomalies(&report).len(), ids.len() - i - 1);
        assert_eq!(acknowledged(&report).len(), i + 1);
    }
    let lines = std::fs::read_to_string(kc.dir.join("audit.log"))
        .unwrap()
        .lines()
        .count();
    let out = kc.run(&["audit", "ack", &ids[0]]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("acknowledged already"));
    assert_eq!(
        std::fs::read_to_string(kc.dir.join("audit.log"))
            .unwrap()
            .lines()
            .count(),
        lines
    );
    kc.ok(&["audit", "verify"]);
}

#[test]
fn ack_refuses_what_is_not_an_open_finding_id() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let before = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    for bad in [
        "",
        "nonsense",
        "new-origin-XYZ",
        "rm -rf",
        "new-origin-0123456789",
    ] {
        let out = kc.run(&["audit", "ack", bad]);
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("keychain audit"),
            "{bad}: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        std::fs::read_to_string(kc.dir.join("audit.log")).unwrap(),
        before,
        "nothing recorded"
    );
    assert_exit(&kc.run(&["audit", "--days", "0"]), 2);
}

#[test]
fn a_reveal_before_the_window_is_learned_from_but_not_listed() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    // Forty days ago: the event `show --reveal` records, appended through the log on a clock
    // set back (this process's user and host, as the binary's own reveal below).
    let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
    let clock: keychain::clock::SharedClock = keychain::clock::ManualClock::at_unix(now - 40 * DAY);
    keychain::audit::log_of(&kc.dir, &clock)
        .append(&Event::new("show", Action::Reveal("password".into())).account("acme"))
        .unwrap();
    let report = json(&kc.run(&["audit", "--json", "--fail-on", "critical"]));
    assert_eq!(codes(&report), Vec::<String>::new());
    let report = json(&kc.run(&["audit", "--json", "--fail-on", "critical", "--days", "60"]));
    assert_eq!(codes(&report), ["first-reveal"]);
    // Today's reveal by the same user is not a first.
    kc.ok(&["show", "acme", "--reveal", "password"]);
    let report = json(&kc.run(&["audit", "--json", "--fail-on", "critical"]));
    assert_eq!(codes(&report), Vec::<String>::new());
}

#[test]
fn help_audit_states_the_thresholds_the_rules_use() {
    let kc = Kc::new();
    let help = kc.ok(&["help", "audit"]);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        format!("fewer than {USUAL_HOUR_SHARE_PERCENT}%"),
        format!("once it has {MIN_LOGON_HISTORY} logins"),
        format!("more than {FAILED_LOGONS_PER_DAY} failed logons"),
        format!("more than {BROKEN_CHAINS_PER_WEEK} broken"),
        "keychain audit ack FINDING-ID".to_string(),
    ] {
        assert!(help.contains(&needle), "{needle:?} not in: {help}");
    }
}

#[test]
fn html_report_draws_timelines_and_the_daily_chart_with_titles_loads_nothing_and_holds_no_secret() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let rt = kc.file("rt", "rt-canary-9d2e");
    kc.ok(&["set", "acme", "--refresh-token-file", rt.to_str().unwrap()]);
    let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
    let mut trail = normal_month(now);
    trail.push(at(
        now - 3 * DAY,
        "<b>eve</b>",
        "laptop\"&",
        Action::LoginFailed("x".into()),
    ));
    trail.push(at(now - 2 * DAY, "cron", "srv", Action::ChainBroken));
    trail.push(at(now - 2 * DAY + 1, "cron", "srv", Action::LoginRefresh));
    append(&kc, &trail);
    kc.ok(&["show", "acme", "--reveal", "password"]);
    let html = kc.tmp.path().join("report.html");
    kc.ok(&[
        "audit",
        "--html",
        html.to_str().unwrap(),
        "--fail-on",
        "critical",
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    for canary in [CANARY_PASSWORD, TOTP_SECRET, "rt-canary-9d2e"] {
        assert!(!page.contains(canary), "{canary} in the HTML report");
    }
    assert!(
        page.contains("&lt;b&gt;eve&lt;/b&gt;@laptop&quot;&amp;"),
        "escaped origin"
    );

    let dom = chromium(&kc, &["--dump-dom".into(), file_url(&html)]);
    // Nothing that could load anything: no element or style that points outside the page.
    for external in [
        "src=", "href=", "url(", "@import", "<script", "<link", "<iframe", "<object", "<embed",
        "<img",
    ] {
        assert!(!dom.contains(external), "{external} in the rendered page");
    }
    assert!(dom.contains("Content-Security-Policy"));
    // The charts: the daily summary and one timeline for acme with a row per origin.
    assert!(dom.contains("id=\"summary-chart\""), "{dom}");
    let timeline = dom
        .split("id=\"timeline-acme\"")
        .nth(1)
        .expect("a timeline for acme")
        .split("</figure>")
        .next()
        .unwrap();
    for row in ["cron@srv", "&lt;b&gt;eve&lt;/b&gt;@laptop"] {
        assert!(timeline.contains(row), "row {row} missing: {timeline}");
    }
    // One title per kind, saying how many in which hour: "1 refresh 2026-11-28 07:00–08:00 UTC".
    for mark in [
        "2 cache hits",
        "1 headless logon",
        "1 failed logon",
        "1 broken refresh chain",
        "1 refresh",
        "1 reveal",
    ] {
        assert!(
            timeline.contains(&format!("<title>{mark} 20")),
            "no mark for {mark}: {timeline}"
        );
    }
    // Issue 23: an OIDC provider has no idle rule (Exact's 30 days is Exact's): no horizon.
    assert!(
        !timeline.contains("class=\"horizon-text\""),
        "a horizon for a provider without an idle rule"
    );
    assert!(timeline.contains("its refresh token does not expire unused"));
    // Every mark in every chart carries a title: a text equivalent of what it shows.
    let mut marks = 0;
    for svg in dom.split("<svg").skip(1) {
        let svg = svg.split("</svg>").next().unwrap();
        for shape in ["<circle", "<polygon", "<path", "<rect class=\"k-"] {
            for rest in svg.split(shape).skip(1) {
                marks += 1;
                let after = &rest[rest.find('>').unwrap() + 1..];
                assert!(
                    after.starts_with("<title>"),
                    "{shape} without a title: {rest}"
                );
            }
        }
    }
    assert!(marks > 30, "{marks} marks");

    let shot = kc.tmp.path().join("report.png");
    chromium(
        &kc,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,1200".into(),
            file_url(&html),
        ],
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    if let Ok(keep) = std::env::var("KEYCHAIN_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}
