//! `keychain scan`, `keychain import` (settings files and age exports) and `keychain export`,
//! driven through the real binary on the Invantive-style fixtures in `tests/data/settings/`.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::*;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/settings")
        .join(name)
}

/// Every secret value planted in the fixtures, or a distinctive part of it: one list, shared
/// by the scanner's unit tests and the CLI's, one per line.
const CANARIES: &str = include_str!("../data/settings-canaries.txt");

fn assert_no_canary(out: &std::process::Output) {
    for canary in CANARIES.lines() {
        assert!(
            !contains(&out.stdout, canary) && !contains(&out.stderr, canary),
            "{canary} leaked:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        );
    }
}

/// A copy of a fixture in the test's folder, so that import --strip may rewrite it.
fn copy(kc: &Kc, fixture: &str) -> PathBuf {
    let to = kc.tmp.path().join(Path::new(fixture).file_name().unwrap());
    std::fs::copy(data(fixture), &to).unwrap();
    to
}

#[test]
fn scan_names_file_line_and_attribute_and_nothing_of_the_value() {
    let kc = Kc::new();
    let out = kc.run(&["scan", data("settings-test.xml").to_str().unwrap()]);
    assert_exit(&out, 1);
    assert_no_canary(&out);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let got: Vec<String> = text
        .lines()
        .map(|l| {
            let rest = l.split("settings-test.xml:").nth(1).unwrap();
            assert!(!rest.contains('='), "{l}");
            rest.to_string()
        })
        .collect();
    assert_eq!(
        got,
        [
            "4: defaultPassword",
            "5: totp-secret",
            "8: api-client-secret",
            "8: API-Refresh-Token",
            "13: Password"
        ]
    );
    assert!(!kc.dir.exists(), "a scan without a keychain creates none");

    // A folder: settings files by name, other text files by extension, recursively.
    let out = kc.run(&["scan", data("tree").to_str().unwrap()]);
    assert_exit(&out, 1);
    assert_no_canary(&out);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    for file in [
        "settings-sub.xml:5: api-client-secret",
        "legacy.ini:3: password",
        "app.config:",
        "notes.txt:2: api-refresh-token",
    ] {
        assert!(text.contains(file), "{file} missing from\n{text}");
    }
    assert!(
        !text.contains("settings-clean.xml") && !text.contains("readme.md"),
        "{text}"
    );

    let clean = kc.run(&[
        "scan",
        data("tree/sub/settings-clean.xml").to_str().unwrap(),
    ]);
    assert_exit(&clean, 0);
}

#[test]
fn malformed_and_hostile_xml_get_a_clear_message_and_do_not_hide_other_files() {
    let kc = Kc::new();
    let start = Instant::now();
    let out = kc.run(&["scan", data("bad").to_str().unwrap()]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "billion laughs must be refused quickly"
    );
    assert_exit(&out, 2);
    assert_no_canary(&out);
    let err = stderr(&out);
    assert!(
        err.contains("settings-malformed.xml:6:3: not well-formed XML"),
        "{err}"
    );
    assert!(
        err.contains("settings-billion-laughs.xml:2: the file has a DTD"),
        "{err}"
    );
    assert!(
        err.contains("settings-xxe.xml:2: the file has a DTD"),
        "{err}"
    );
    assert!(
        !err.contains("root:x:0:0") && !err.contains("panicked"),
        "{err}"
    );

    // A bad file beside a good one: the good one's secrets are still reported.
    let out = kc.run(&[
        "scan",
        data("bad").to_str().unwrap(),
        data("settings-test.xml").to_str().unwrap(),
    ]);
    assert_exit(&out, 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("settings-test.xml:4: defaultPassword"));
    assert!(stderr(&out).contains("settings-malformed.xml"));

    // Import refuses them the same way, and creates nothing.
    let kc = Kc::with_file_store();
    for bad in [
        "settings-malformed.xml",
        "settings-billion-laughs.xml",
        "settings-xxe.xml",
    ] {
        let out = kc.run(&["import", data(&format!("bad/{bad}")).to_str().unwrap()]);
        assert_exit(&out, 2);
        assert_no_canary(&out);
        assert!(stderr(&out).contains(bad), "{}", stderr(&out));
    }
    let listed: serde_json::Value = serde_json::from_str(&kc.ok(&["list", "--json"])).unwrap();
    assert_eq!(listed["accounts"], serde_json::json!([]));
    let missing = kc.run(&["scan", "/nonexistent/settings.xml"]);
    assert_exit(&missing, 8);
}

#[test]
fn scan_is_recorded_when_a_keychain_exists() {
    let kc = Kc::with_file_store();
    assert_exit(
        &kc.run(&["scan", data("settings-test.xml").to_str().unwrap()]),
        1,
    );
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    assert!(
        log.contains(r#""command":"scan (5 found)","action":"scan""#),
        "{log}"
    );
    for canary in CANARIES.lines() {
        assert!(!log.contains(canary));
    }
    kc.ok(&["audit", "verify"]);
}

#[test]
fn import_creates_one_account_per_database_with_unescaped_secrets_then_strips_the_file() {
    let kc = Kc::with_file_store();
    let file = copy(&kc, "settings-test.xml");
    let out = kc.run(&["import", file.to_str().unwrap(), "--strip"]);
    assert_success(&out, &["import"]);
    assert_no_canary(&out);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("imported")).count(),
        3,
        "{text}"
    );

    let nl = "exact-online-nl-eol";
    let be = "exact-online-be-app-eolbe";
    let tl = "cloud-teamleader-tl";
    let show: serde_json::Value = serde_json::from_str(&kc.ok(&["show", nl, "--json"])).unwrap();
    assert_eq!(show["provider"]["kind"], "exact-nl");
    assert_eq!(
        show["provider"]["client_id"],
        "a1b2c3d4-0000-4000-8000-00000000e01a"
    );
    assert_eq!(
        show["provider"]["redirect_uri"],
        "https://example.com/callback"
    );
    assert_eq!(show["user"], "john@example.com");
    assert_eq!(
        kc.ok(&["show", nl, "--reveal", "password"]),
        "s3cr&t-P\"w'd<9\n",
        "XML escapes decoded"
    );
    assert_eq!(
        kc.ok(&["show", nl, "--reveal", "totp-secret"]),
        "JBSWY3DPEHPK3PXP\n"
    );
    assert_eq!(
        kc.ok(&["show", be, "--reveal", "refresh-token"]),
        "Gq7.refresh-token-canary.ZZ\n"
    );
    assert_eq!(
        kc.ok(&["show", be, "--reveal", "client-secret"]),
        "Zx9-client-secret-canary-Q\n"
    );
    assert_eq!(
        kc.ok(&["show", tl, "--reveal", "password"]),
        "pa;ss\"word&1\n",
        "quoted connection-string value"
    );
    let tl_json: serde_json::Value = serde_json::from_str(&kc.ok(&["show", tl, "--json"])).unwrap();
    assert_eq!(tl_json["provider"]["kind"], "oauth2");

    // Stripped: no secret left, the rest intact; the backup is private.
    let stripped = std::fs::read_to_string(&file).unwrap();
    for canary in CANARIES.lines() {
        assert!(!stripped.contains(canary), "{canary} left in the file");
    }
    assert!(
        stripped.contains("defaultUserLogonCode=\"john@example.com\"")
            && stripped.contains("use-rest=true")
    );
    assert_exit(&kc.run(&["scan", file.to_str().unwrap()]), 0);
    let backup = std::fs::read_dir(kc.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(".keychain-backup-"))
        .expect("a backup beside the file");
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        std::fs::read(data("settings-test.xml")).unwrap()
    );

    // Every import is in the log, with fingerprints and no values.
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    assert_eq!(
        log.matches(r#""action":"import""#).count(),
        4,
        "3 accounts and the strip"
    );
    assert!(log.contains(&format!(
        r#""account":"{nl}","action":"import","outcome":"ok","fingerprints":{{"password":"#
    )));
    for canary in CANARIES.lines() {
        assert!(!log.contains(canary));
    }
    kc.ok(&["audit", "verify"]);
}

#[test]
fn import_never_overwrites_and_strips_only_values_the_keychain_holds() {
    let kc = Kc::with_file_store();
    let file = copy(&kc, "settings-test.xml");
    kc.ok(&["import", file.to_str().unwrap()]);
    // The keychain's password for one account now differs from the file's.
    let other = kc.file("other-pw", "changed-since-import\n");
    kc.ok(&[
        "set",
        "exact-online-nl-eol",
        "--password-file",
        other.to_str().unwrap(),
    ]);
    let out = kc.run(&["import", file.to_str().unwrap(), "--strip"]);
    assert_exit(&out, 2);
    assert_no_canary(&out);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        report.lines().filter(|l| l.starts_with("skipped")).count(),
        3
    );
    // Existing accounts that hold the file's values let those values go; the changed
    // password stays in the file, named.
    assert_eq!(
        report.lines().filter(|l| l.starts_with("moved")).count(),
        4,
        "{report}"
    );
    let left: Vec<&str> = report.lines().filter(|l| l.starts_with("left")).collect();
    assert!(
        left.len() == 1 && left[0].contains(":4  defaultPassword"),
        "{report}"
    );
    let stripped = std::fs::read_to_string(&file).unwrap();
    assert!(stripped.contains("s3cr&amp;t"));
    for canary in ["JBSWY3DPEHPK3PXP", "client-secret-canary", "pa;ss"] {
        assert!(!stripped.contains(canary), "{canary} left in the file");
    }
    // With --replace the file's password is in the keychain again, so it goes too.
    kc.ok(&["import", file.to_str().unwrap(), "--strip", "--replace"]);
    assert_exit(&kc.run(&["scan", file.to_str().unwrap()]), 0);
}

#[test]
fn export_and_import_round_trip_through_age_and_are_audited() {
    let source = Kc::with_file_store();
    source.add_account("acme");
    let rt = source.file("rt", "rt-export-canary-31");
    source.ok(&["set", "acme", "--refresh-token-file", rt.to_str().unwrap()]);
    let officer = Kc::with_file_store();
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(officer.dir.join("config.json")).unwrap()).unwrap();
    let recipient = config["recipient"].as_str().unwrap();
    let identity = officer.dir.join("identity.txt");

    let backup = source.tmp.path().join("backup.age");
    let out = source.run(&["export", "--recipient", recipient, backup.to_str().unwrap()]);
    assert_success(&out, &["export"]);
    let bytes = std::fs::read(&backup).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1"));
    for canary in [CANARY_PASSWORD, TOTP_SECRET, "rt-export-canary-31"] {
        assert!(
            !contains(&bytes, canary)
                && !contains(&out.stderr, canary)
                && !contains(&out.stdout, canary)
        );
    }
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let log = std::fs::read_to_string(source.dir.join("audit.log")).unwrap();
    assert!(
        log.contains(r#""account":"acme","action":"export""#),
        "{log}"
    );
    assert_exit(
        &source.run(&["export", "--recipient", recipient, backup.to_str().unwrap()]),
        2,
    );

    // Restore into a third keychain with the officer's identity.
    let target = Kc::with_file_store();
    assert_exit(&target.run(&["import", backup.to_str().unwrap()]), 2);
    let wrong = source.dir.join("identity.txt");
    assert_exit(
        &target.run(&[
            "import",
            backup.to_str().unwrap(),
            "--identity",
            wrong.to_str().unwrap(),
        ]),
        7,
    );
    let out = target.run(&[
        "import",
        backup.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
    ]);
    assert_success(&out, &["import"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("imported  acme"));
    assert_eq!(
        target.ok(&["show", "acme", "--reveal", "password"]),
        format!("{CANARY_PASSWORD}\n")
    );
    assert_eq!(
        target.ok(&["show", "acme", "--reveal", "refresh-token"]),
        "rt-export-canary-31\n"
    );
    let log = std::fs::read_to_string(target.dir.join("audit.log")).unwrap();
    assert!(
        log.contains(r#""account":"acme","action":"import""#),
        "{log}"
    );
    // The same password in both keychains fingerprints differently (per-keychain key).
    let fp = |kc: &Kc| {
        kc.run_stdin(
            &["audit", "fingerprint", "acme", "password"],
            CANARY_PASSWORD,
        )
        .stdout
    };
    assert_ne!(fp(&source), fp(&target));
}

#[test]
fn export_fails_closed_when_the_audit_log_cannot_be_written() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(kc.dir.join("config.json")).unwrap()).unwrap();
    std::fs::write(kc.dir.join("audit.anchor"), "garbage\n").unwrap();
    let backup = kc.tmp.path().join("backup.age");
    let out = kc.run(&[
        "export",
        "--recipient",
        config["recipient"].as_str().unwrap(),
        backup.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("audit log"), "{}", stderr(&out));
    assert!(!backup.exists(), "no audit, no export");
}
