//! Store and audit integrity against a hostile neighbour (issue 9): each change is one
//! transaction with its audit event, replayed records and planted recipients are refused,
//! files others can write are refused, and the audit trail has no gaps. Real binary, real files.

use crate::support;

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;
use support::*;

fn pw_file(kc: &Kc, value: &str) -> String {
    kc.file("new-pw.txt", &format!("{value}\n"))
        .to_str()
        .unwrap()
        .to_string()
}

fn report(kc: &Kc, extra: &[&str]) -> Value {
    let mut args = vec!["audit", "--json", "--fail-on", "critical"];
    args.extend_from_slice(extra);
    let out = kc.run(&args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)))
}

fn has_finding(report: &Value, severity: &str, code: &str) -> bool {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["severity"] == severity && f["code"] == code)
}

fn log_lines(kc: &Kc) -> Vec<Value> {
    std::fs::read_to_string(kc.dir.join("audit.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Regression: with `audit.anchor` deleted, `set` and `rm` saved their change and then failed.
#[test]
fn set_and_rm_with_the_anchor_deleted_change_nothing_and_exit_7() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let before = std::fs::read(kc.record("acme")).unwrap();
    std::fs::remove_file(kc.dir.join("audit.anchor")).unwrap();

    let pw = pw_file(&kc, "pw-canary-changed");
    let out = kc.run(&["set", "acme", "--password-file", &pw]);
    assert_exit(&out, 7);
    assert!(stderr(&out).contains("anchor"), "{}", stderr(&out));
    assert_eq!(std::fs::read(kc.record("acme")).unwrap(), before);

    let out = kc.run(&["rm", "-f", "acme"]);
    assert_exit(&out, 7);
    assert_eq!(std::fs::read(kc.record("acme")).unwrap(), before);

    let out = kc.run(&support::add_args("beta", &["--no-password", "--no-totp"]));
    assert_exit(&out, 7);
    assert!(!kc.record("beta").exists());
}

/// A change whose event cannot be written (here: the log may not grow, as on a full disk) is
/// undone: the record is as before and the command fails.
#[test]
fn a_change_whose_event_cannot_be_logged_is_undone() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let log = kc.dir.join("audit.log");
    // Grow the log until an append of ~400 bytes crosses the next KiB boundary.
    while !(600..1000).contains(&(std::fs::metadata(&log).unwrap().len() % 1024)) {
        kc.ok(&["totp", "acme"]);
    }
    let len = std::fs::metadata(&log).unwrap().len();
    let before = std::fs::read(kc.record("acme")).unwrap();
    let pw = pw_file(&kc, "pw-canary-undone");
    let bin = assert_cmd::cargo::cargo_bin("keychain");
    // SIGXFSZ ignored (inherited across exec), so a write past the limit fails with EFBIG.
    let script = format!(
        "trap '' XFSZ; ulimit -f {}; exec \"$0\" set acme --password-file \"$1\"",
        len.div_ceil(1024)
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script, bin.to_str().unwrap(), &pw])
        .env("KEYCHAIN_DIR", &kc.dir)
        .output()
        .unwrap();
    assert_exit(&out, 8);
    assert!(
        std::fs::read(kc.record("acme")).unwrap() == before,
        "the change was not undone: {}",
        stderr(&out)
    );
    assert_eq!(std::fs::metadata(&log).unwrap().len(), len);
    kc.ok(&["audit", "verify"]);
    assert_eq!(
        kc.ok(&["show", "acme", "--reveal", "password"]).trim(),
        CANARY_PASSWORD
    );
}

#[test]
fn every_change_is_logged_with_the_records_write_counter() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let pw = pw_file(&kc, "pw-canary-2");
    kc.ok(&["set", "acme", "--password-file", &pw, "--user", "rose"]);
    let counters: Vec<(String, Option<u64>)> = log_lines(&kc)
        .iter()
        .filter(|l| l["account"] == "acme")
        .map(|l| {
            (
                l["action"].as_str().unwrap().to_string(),
                l["counter"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        counters,
        vec![
            ("add".to_string(), Some(1)),
            ("set".to_string(), Some(2)),
            ("set".to_string(), Some(2)),
        ]
    );
}

#[test]
fn a_replayed_record_is_refused_with_exit_7_and_reported_critical() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let old = std::fs::read(kc.record("acme")).unwrap();
    let pw = pw_file(&kc, "pw-canary-newer");
    kc.ok(&["set", "acme", "--password-file", &pw]);
    std::fs::write(kc.record("acme"), &old).unwrap();

    for args in [
        &["show", "acme", "--reveal", "password"][..],
        &["totp", "acme"],
        &["login", "acme"],
    ] {
        let out = kc.run(args);
        assert_exit(&out, 7);
        assert!(
            stderr(&out).contains("older copy put back (a replay)"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!contains(&out.stdout, CANARY_PASSWORD), "{args:?}");
    }
    let out = kc.run(&["set", "acme", "--password-file", &pw]);
    assert_exit(&out, 7);
    assert_eq!(std::fs::read(kc.record("acme")).unwrap(), old);

    for extra in [&[][..], &["--no-key"]] {
        let r = report(&kc, extra);
        assert!(has_finding(&r, "critical", "record-replayed"), "{r:#}");
        assert!(!has_finding(&r, "critical", "record-unreadable"), "{r:#}");
    }
}

#[test]
fn a_removed_record_put_back_is_a_replay_and_a_new_account_of_that_name_is_not() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let old = std::fs::read(kc.record("acme")).unwrap();
    kc.ok(&["rm", "-f", "acme"]);
    std::fs::write(kc.record("acme"), &old).unwrap();
    assert_exit(&kc.run(&["show", "acme", "--reveal", "password"]), 7);

    std::fs::remove_file(kc.record("acme")).unwrap();
    kc.add_account("acme");
    kc.ok(&["show", "acme", "--reveal", "password"]);
    // And `add --replace` over an existing one.
    kc.ok(&support::add_args(
        "acme",
        &["--no-password", "--no-totp", "--replace"],
    ));
    kc.ok(&["show", "acme"]);
}

/// A keychain from before write counters: no counter in the record header, none in the log.
#[test]
fn a_record_and_log_from_before_counters_still_open_and_then_count() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    // The last line (which the anchor pins) carries no counter; strip the one before.
    kc.ok(&["show", "acme", "--reveal", "password"]);
    let log = kc.dir.join("audit.log");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, text.replace(",\"counter\":1", "")).unwrap();
    let config = keychain::config::Config::load(&kc.dir).unwrap();
    let identity =
        keychain::keystore::load_identity(&kc.dir, &config, &Default::default()).unwrap();
    let bytes = std::fs::read(kc.record("acme")).unwrap();
    let mut account = keychain::record::open(&bytes, "acme", &identity).unwrap();
    account.header.writes = 0;
    let old = keychain::record::seal(&account, &[&identity.to_public()]).unwrap();
    assert!(!contains(&old, "\"writes\""), "the old header format");
    std::fs::write(kc.record("acme"), &old).unwrap();

    assert_eq!(
        kc.ok(&["show", "acme", "--reveal", "password"]).trim(),
        CANARY_PASSWORD
    );
    kc.ok(&["set", "acme", "--user", "rose"]);
    let last = log_lines(&kc).pop().unwrap();
    assert_eq!(last["counter"], 1);
}

#[test]
fn a_planted_escrow_recipient_is_refused_before_any_write_and_listed_by_audit() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let config_path = kc.dir.join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    let planted = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    config["escrow_recipients"] = serde_json::json!([planted]);
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let before = std::fs::read(kc.record("acme")).unwrap();

    let pw = pw_file(&kc, "pw-canary-3");
    let out = kc.run(&["set", "acme", "--password-file", &pw]);
    assert_exit(&out, 7);
    let err = stderr(&out);
    assert!(err.contains("MAC does not match"), "{err}");
    assert!(err.contains("keychain audit seal-config"), "{err}");
    assert_eq!(std::fs::read(kc.record("acme")).unwrap(), before);
    assert_exit(
        &kc.run(&support::add_args("beta", &["--no-password", "--no-totp"])),
        7,
    );
    assert!(!kc.record("beta").exists());

    for extra in [&[][..], &["--no-key"]] {
        let r = report(&kc, extra);
        let recipients: Vec<(String, String)> = r["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["role"].as_str().unwrap().into(),
                    x["recipient"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert!(
            recipients.contains(&("escrow".into(), planted.into())),
            "{recipients:?}"
        );
    }
    let r = report(&kc, &[]);
    assert_eq!(r["config"], "not-authenticated");
    assert!(
        has_finding(&r, "critical", "config-not-authenticated"),
        "{r:#}"
    );
    let text = kc.run(&["audit"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(planted));
    let html = kc.tmp.path().join("report.html");
    kc.run(&["audit", "--html", html.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(planted) && page.contains("not-authenticated"));

    // An officer who checked the list vouches for it; then writes work again.
    kc.ok(&["audit", "seal-config"]);
    kc.ok(&["set", "acme", "--password-file", &pw]);
    assert_eq!(report(&kc, &[])["config"], "authenticated");
    assert!(log_lines(&kc).iter().any(|l| l["action"] == "seal_config"));
}

#[test]
fn files_and_folders_others_can_write_are_refused_with_the_chmod_to_run() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let cases = [
        (kc.dir.clone(), 0o777, 0o700, "chmod 700"),
        (kc.dir.join("accounts"), 0o775, 0o700, "chmod 700"),
        (kc.dir.join("locks"), 0o703, 0o700, "chmod 700"),
        (kc.dir.join("config.json"), 0o666, 0o600, "chmod 600"),
        (kc.record("acme"), 0o620, 0o600, "chmod 600"),
    ];
    for (path, wide, narrow, fix) in cases {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(wide)).unwrap();
        for args in [&["list"][..], &["show", "acme"], &["totp", "acme"]] {
            let out = kc.run(args);
            assert_exit(&out, 7);
            let err = stderr(&out);
            assert!(
                err.contains(&format!("{fix} {}", path.display())),
                "{args:?} {}: {err}",
                path.display()
            );
        }
        // The officer's report still runs, and says so; seal-config refuses.
        let r = report(&kc, &[]);
        assert!(has_finding(&r, "critical", "writable-by-others"), "{r:#}");
        if path.extension().is_none() {
            assert_exit(&kc.run(&["audit", "seal-config"]), 7);
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(narrow)).unwrap();
        kc.ok(&["show", "acme"]);
    }
}

#[test]
fn totp_records_an_event_before_the_code_is_shown() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.ok(&["totp", "acme"]);
    let last = log_lines(&kc).pop().unwrap();
    assert_eq!(last["action"], "totp");
    assert_eq!(last["account"], "acme");
    // Fail closed: no log, no code.
    std::fs::remove_file(kc.dir.join("audit.anchor")).unwrap();
    let out = kc.run(&["totp", "acme"]);
    assert_exit(&out, 7);
    assert!(out.stdout.is_empty());
}

/// Regression: without the key, a log whose lines were edited passed with a low finding.
#[test]
fn audit_without_the_key_checks_the_hash_chain_and_reports_a_break_as_critical() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.add_account("beta");
    kc.ok(&["show", "acme"]);
    let log = kc.dir.join("audit.log");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(
        &log,
        text.replacen("\"account\":\"acme\"", "\"account\":\"acmf\"", 1),
    )
    .unwrap();
    let r = report(&kc, &["--no-key"]);
    assert!(has_finding(&r, "critical", "audit-log-damaged"), "{r:#}");
    assert_eq!(r["audit_log"]["status"], "damaged");

    // The anchor's hash too: cut the last line off.
    std::fs::write(&log, &text[..text.trim_end().rfind('\n').unwrap() + 1]).unwrap();
    let r = report(&kc, &["--no-key"]);
    assert!(has_finding(&r, "critical", "audit-log-damaged"), "{r:#}");
}

/// Regression: an anchor edited to say 10^12 lines, with a forged first line claiming a seq
/// just below, made `audit verify` derive 10^12 keys.
#[test]
fn an_anchor_claiming_a_trillion_lines_is_reported_not_walked() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let anchor_path = kc.dir.join("audit.anchor");
    let mut anchor: Value = serde_json::from_slice(&std::fs::read(&anchor_path).unwrap()).unwrap();
    anchor["next_seq"] = serde_json::json!(1_000_000_000_000u64);
    std::fs::write(&anchor_path, serde_json::to_vec(&anchor).unwrap()).unwrap();
    let log = kc.dir.join("audit.log");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(
        &log,
        text.replacen("{\"seq\":0,", "{\"seq\":999999999999,", 1),
    )
    .unwrap();
    let out = kc.run(&["audit", "verify"]);
    assert_exit(&out, 7);
}

#[test]
fn durations_are_validated_at_the_edge() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    // Regression: 2^32 + 1 seconds reported 136 years while the kernel key expired in 1 s.
    for bad in ["4294967297s", "31d", "0s", "500ms"] {
        let out = kc.run(&["unlock", "--for", bad]);
        assert_exit(&out, 2);
        assert!(stderr(&out).contains("--for"), "{bad}: {}", stderr(&out));
    }
    // Regression: a huge KEYCHAIN_LOCK_TIMEOUT panicked.
    for bad in ["1e300", "-5", "soon"] {
        let out = kc
            .cmd()
            .env("KEYCHAIN_LOCK_TIMEOUT", bad)
            .args(["set", "acme", "--user", "x"])
            .output()
            .unwrap();
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(err.contains("KEYCHAIN_LOCK_TIMEOUT"), "{bad}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
