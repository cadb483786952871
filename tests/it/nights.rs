//! The month of nights (issue 19): a simulated stretch of cron on one moved clock, with real
//! faults, against the Exact emulator, LemonLDAP::NG and a two-machine keychain on OpenBao
//! (see `support::nights`). `one_day_of_nights_keeps_the_promise` runs one day in `cargo test`
//! (machine 2's member of the shared keychain 2 minutes behind);
//! `benches/nights` runs the month (`a_month_of_nights`, ignored here) and prints its figures.
//!
//! Needs libfaketime, LemonLDAP::NG, OpenBao and /usr/bin/time; fails loudly without them.

use crate::support;

use support::Kc;
use support::nights::{Plan, Report, run};

/// The goals the issue sets, except timing (the machine is shared; the figures are printed).
fn assert_goals(r: &Report) {
    let failures = r.expected_failures();
    assert!(
        failures.is_empty(),
        "{} of {} jobs that should have succeeded failed; the first: {:#?}",
        failures.len(),
        r.expected().count(),
        failures.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        (r.chain_breaks..=r.chain_breaks + r.provider_expiries).contains(&r.headless_total()),
        "headless logons {:?} against {} injected chain breaks (+ at most {} offline sessions ended by LemonLDAP::NG)",
        r.headless_logons,
        r.chain_breaks,
        r.provider_expiries
    );
    assert_eq!(r.guards, r.guard_goal, "lockout guards");
    assert_eq!(
        r.budget_blocks, 0,
        "the provider's error budget was exceeded"
    );
    assert!(r.audit_failures.is_empty(), "{:?}", r.audit_failures);
    assert!(r.status_checks > 0, "status was never checked");
    assert!(
        r.status_untruthful.is_empty(),
        "status was wrong {} time(s): {:#?}",
        r.status_untruthful.len(),
        r.status_untruthful
    );
    assert_eq!(
        r.kills, r.kills_goal,
        "the kill -9 during a refresh was not delivered"
    );
}

#[test]
fn one_day_of_nights_keeps_the_promise() {
    let plan = Plan::from_env(1);
    if plan.key_store == "os" {
        support::require_secret_service();
    }
    let report = run(plan);
    report.print();
    assert_goals(&report);
}

/// Issue 19 (issue 20's class): a shared keychain's members on clocks 2 minutes either side of
/// the store's, machine 1's ahead and machine 2's behind (libfaketime), for the first six hours
/// of a day (the rush hour, bursts on E1 and LemonLDAP::NG). Before token times were kept on the
/// store's clock (OpenBao's `Date`), the member behind saw every token the other fetched as
/// issued in the future: on Exact it counted the 570 s rule from that time and exited 5, on
/// LemonLDAP::NG it refreshed needlessly and killed the token the other member had just handed
/// out; the member ahead saw them 2 minutes older than they were. (The one-day test runs
/// machine 2's member behind too.)
#[test]
fn six_hours_of_nights_with_shared_keychain_members_2_minutes_behind_and_ahead() {
    let mut plan = Plan::from_env(1);
    plan.skew = -120;
    plan.skew_shared = true;
    plan.skew_m1_shared = 120;
    plan.minutes = Some(6 * 60);
    let report = run(plan);
    report.print();
    assert_goals(&report);
}

#[test]
#[ignore = "the month: run benches/nights"]
fn a_month_of_nights() {
    let report = run(Plan::from_env(30));
    report.print();
    assert_goals(&report);
}

/// Found by the month of nights with `KEYCHAIN_NIGHTS_KEY_STORE=passphrase` (the documented server
/// set-up): `audit verify` and the audit report opened the keychain with default settings, so
/// they ignored KEYCHAIN_PASSPHRASE_FILE (and --lock-timeout, the OpenBao lease) that every other
/// command honours: exit 6, "the keychain is locked", on every machine.
#[test]
fn audit_verify_and_report_read_the_passphrase_file_as_every_command_does() {
    let kc = Kc::new();
    let passphrase = kc.file("passphrase", "nights passphrase\n");
    let with_file = |args: &[&str]| {
        kc.cmd()
            .env("KEYCHAIN_PASSPHRASE_FILE", &passphrase)
            .args(args)
            .output()
            .unwrap()
    };
    support::assert_success(
        &with_file(&["init", "--key-store", "passphrase"]),
        &["init"],
    );
    let pw = kc.file("pw", "pw\n");
    let add = support::add_args("acct", &["--password-file", pw.to_str().unwrap()]);
    support::assert_success(&with_file(&add), &add);
    for args in [
        &["audit", "verify"][..],
        &["--json", "audit", "verify"],
        &["audit"],
        &["audit", "report"],
    ] {
        support::assert_success(&with_file(args), args);
    }
    // Without the file it is locked, as before: the file is what opened it.
    let out = kc.run(&["audit", "verify"]);
    support::assert_exit(&out, 6);
}

/// Issue 19 (issue 20's class, left in `status` and the audit report): a shared record keeps a
/// refresh token's last use on the store's clock (OpenBao's `Date`). A member 2 minutes behind
/// counted its idle days against its own clock: just after a day's turn it said a day more was
/// left than the member on time did, and missed the warning of day 26. Both members now count
/// the same days, in `status` and in the report. (The error budget's hour, the same class in
/// `status`, is pinned by the core's `ops::status` unit tests.)
///
/// The same class in `export` and `import`: an export carried the store's times into a file
/// read on the importing machine's clock, and an import into a shared keychain wrote a file's
/// local times as the store's. Both now convert, so a restore on the member behind counts the
/// days the store counts, and a record imported there reads the same on every member.
#[test]
fn a_member_behind_the_store_clock_counts_a_refresh_tokens_idle_days_as_the_member_on_time() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};
    use support::exact_emulator::{Config, Emulator, SecretFiles};
    use support::fault_proxy::{DownAs, FaultProxy};
    use support::login::{FAKETIME_LIB, require_faketime};
    use support::openbao::Bao;
    use support::shared_keychain::Machine;

    require_faketime();
    let config = Config::default();
    let emulator = Emulator::start(config.clone());
    let bao = Bao::start();
    let mount = bao.new_mount();
    // OpenBao's `Date` moves with the machines' clocks (libfaketime cannot move Go's).
    let store_clock = Arc::new(AtomicI64::new(0));
    let proxy = FaultProxy::start(
        &url::Url::parse(&bao.addr).unwrap(),
        store_clock.clone(),
        true,
        DownAs::SealedStore,
    );
    let machine = |name: &str| {
        let mut m = Machine::new(&bao, name, &mount, "idle", "idle");
        m.addr = proxy.url.as_str().trim_end_matches('/').to_string();
        m
    };
    let (on_time, behind) = (machine("on-time"), machine("behind"));
    let args = on_time.init_args("file", false);
    on_time.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let args = behind.init_args("file", true);
    let joined = behind.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let recipient = joined
        .split_whitespace()
        .find(|w| w.starts_with("age1"))
        .expect("init --join prints the recipient");
    let code = on_time.ok(&["member", "add", recipient, "--name", "behind"]);
    behind.ok(&["member", "join", code.trim()]);

    let file = |name: &str, text: &str| on_time.kc.file(name, text);
    let (pw, cs, totp) = (
        file("pw", &format!("{}\n", config.password)),
        file("cs", &config.client_secret),
        file("totp", &config.totp_secret),
    );
    let files = SecretFiles {
        password: &pw,
        totp: &totp,
        client_secret: &cs,
    };
    let add_args = |name: &str| emulator.add_args(&config, name, &files);
    on_time.ok(&add_args("acct")
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    // The logon stamps the refresh token's last use, on the store's clock.
    on_time.ok(&["login", "acct"]);

    // A command at `offset` s after the logon on the store's clock, on a machine `skew` s off.
    let faked = |mut cmd: std::process::Command, args: &[&str], offset: i64, skew: i64| {
        store_clock.store(offset, Ordering::SeqCst);
        let out = cmd
            .args(args)
            .env("LD_PRELOAD", FAKETIME_LIB)
            .env("FAKETIME", format!("{:+}s", offset + skew))
            .env("FAKETIME_DONT_RESET", "1")
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .output()
            .unwrap();
        // `status` and `audit` exit non-zero with findings: what they say is in their JSON. A
        // transfer must succeed.
        assert!(
            out.status.success() || args.contains(&"status") || args.contains(&"audit"),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let json = |stdout: Vec<u8>| -> serde_json::Value {
        serde_json::from_slice(&stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&stdout)))
    };
    let account = |v: &serde_json::Value| {
        v["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "acct")
            .cloned()
            .unwrap_or_else(|| panic!("no acct: {v}"))
    };
    let days_left = |v: &serde_json::Value| account(v)["refresh_token_days_left"].clone();

    // A minute before day 26 of idleness on the store's clock, the member behind exports the
    // account (the refresh token's last use on its own clock) and restores it into a local
    // keychain of its own; then imports the same file back into the shared keychain.
    let before_26 = 26 * 86_400 - 60;
    let restore_key = age::x25519::Identity::generate();
    let key_file = {
        use secrecy::ExposeSecret;
        behind
            .kc
            .file("restore.key", restore_key.to_string().expose_secret())
    };
    let backup = behind.kc.tmp.path().join("acct.age");
    let recipient = restore_key.to_public().to_string();
    let backup_arg = backup.to_str().unwrap();
    faked(
        behind.std_cmd(),
        &["export", "--recipient", &recipient, backup_arg, "acct"],
        before_26,
        -120,
    );
    let restored = Kc::with_file_store();
    let key_arg = key_file.to_str().unwrap();
    faked(
        restored.std_cmd(),
        &["import", backup_arg, "--identity", key_arg],
        before_26,
        -120,
    );
    faked(
        behind.std_cmd(),
        &["import", backup_arg, "--identity", key_arg, "--replace"],
        before_26,
        -120,
    );
    // Day 25 on the store's clock: imported back from the member behind, the record still says
    // so on the member on time (written as the member's own times, it would be a day older).
    let status = json(faked(
        on_time.std_cmd(),
        &["--json", "status"],
        before_26,
        0,
    ));
    assert_eq!(
        days_left(&status),
        5,
        "status on the member on time after the member behind imported the export: {status}"
    );

    // A minute into day 26 of idleness on the store's clock; the member behind is 2 minutes
    // behind it, still on day 25 by its own clock.
    let later = 26 * 86_400 + 60;
    let status = json(faked(
        restored.std_cmd(),
        &["--json", "status"],
        later,
        -120,
    ));
    assert_eq!(
        days_left(&status),
        4,
        "status of the export restored on the member behind: {status}"
    );
    let at = |m: &Machine, args: &[&str], skew: i64| json(faked(m.std_cmd(), args, later, skew));
    for (m, skew) in [(&on_time, 0), (&behind, -120)] {
        let status = at(m, &["--json", "status"], skew);
        assert_eq!(
            account(&status)["refresh_token_days_left"],
            4,
            "status on the member {skew} s off: {status}"
        );
        assert!(
            status.to_string().contains("refresh-token-idle"),
            "status on the member {skew} s off warns of the idle refresh token: {status}"
        );
        let report = at(m, &["audit", "--json"], skew);
        let row = account(&report);
        assert_eq!(
            (
                &row["refresh_token"]["idle_days"],
                &row["refresh_token"]["days_left"]
            ),
            (&serde_json::json!(26), &serde_json::json!(4)),
            "the audit report on the member {skew} s off: {row}"
        );
    }

    // `show` and `list` give the token times on the machine's own clock, as `status` counts
    // them: the member behind's are its offset earlier than the member on time's.
    for args in [&["--json", "show", "acct"][..], &["--json", "list"]] {
        let active = |skew: i64, m: &Machine| {
            let v = json(faked(m.std_cmd(), args, later, skew));
            let found = if v["accounts"].is_array() {
                account(&v)
            } else {
                v.clone()
            };
            let text = found["refresh_token_active"].as_str().map(str::to_string);
            let text = text.unwrap_or_else(|| panic!("{args:?}: no refresh_token_active: {v}"));
            humantime::parse_rfc3339(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
        };
        let (on, off) = (active(0, &on_time), active(-120, &behind));
        let earlier = on.duration_since(off).map(|d| d.as_secs()).unwrap_or(0);
        assert!(
            (119..=123).contains(&earlier),
            "{args:?}: the member behind shows the last use {earlier} s before the member on time"
        );
    }

    // A refresh token typed in on the member behind (`set`, and `add` of a second account) is
    // stamped on the store's clock: a minute before day 26 after it, the member on time still
    // counts day 25 (stamped on the member's own clock it would be a day older).
    let typed_in = later + 60;
    let token = behind.kc.file("rt", "rt-typed-in-by-hand\n");
    let token_arg = token.to_str().unwrap();
    faked(
        behind.std_cmd(),
        &["set", "acct", "--refresh-token-file", token_arg],
        typed_in,
        -120,
    );
    let mut add_second = add_args("second");
    add_second.extend(["--refresh-token-file".to_string(), token_arg.to_string()]);
    faked(
        behind.std_cmd(),
        &add_second.iter().map(String::as_str).collect::<Vec<_>>(),
        typed_in,
        -120,
    );
    let status = json(faked(
        on_time.std_cmd(),
        &["--json", "status"],
        typed_in + 26 * 86_400 - 60,
        0,
    ));
    for name in ["acct", "second"] {
        let row = status["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("no {name}: {status}"));
        assert_eq!(
            row["refresh_token_days_left"], 5,
            "{name}'s refresh token typed in on the member behind, on the member on time: {status}"
        );
    }
}
