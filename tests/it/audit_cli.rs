//! `keychain audit` (report, verify, fingerprint, rotate) and `keychain refresh`, driven through
//! the real binary on real files. Accounts are built to trigger each finding; the audit log is
//! attacked by hand and `audit verify` must name the place.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use keychain::audit::{Action, Event};
use keychain::record::{Header, SecretField};
use serde_json::Value;
use support::chromium::{chromium, file_url};
use support::*;

const DAY: i64 = 86_400;

/// Rewrites an account's authenticated header as if time had passed (test-only: with the file
/// key store the test can open and re-seal the record itself).
fn edit_header(kc: &Kc, name: &str, edit: impl FnOnce(&mut Header)) {
    let text = std::fs::read_to_string(kc.dir.join("identity.txt")).unwrap();
    let id = keychain::keystore::file::parse_identity(text.trim()).unwrap();
    let path = kc.record(name);
    let mut account = keychain::record::open(&std::fs::read(&path).unwrap(), name, &id).unwrap();
    edit(&mut account.header);
    let sealed = keychain::record::seal(&account, &[&id.to_public()]).unwrap();
    std::fs::write(&path, sealed).unwrap();
}

fn add(kc: &Kc, name: &str, password: Option<&str>, totp: Option<&str>) {
    let pw = password.map(|pw| kc.file(&format!("{name}.pw"), pw).display().to_string());
    let totp = totp.map(|t| kc.file(&format!("{name}.totp"), t).display().to_string());
    let mut extra = Vec::new();
    match &pw {
        Some(f) => extra.extend(["--password-file", f.as_str()]),
        None => extra.push("--no-password"),
    }
    match &totp {
        Some(f) => extra.extend(["--totp-file", f.as_str()]),
        None => extra.push("--no-totp"),
    }
    let args = add_args(name, &extra);
    kc.ok(&args);
}

fn set_refresh_token(kc: &Kc, name: &str, token: &str) {
    let f = kc.file(&format!("{name}.rt"), token);
    kc.ok(&["set", name, "--refresh-token-file", f.to_str().unwrap()]);
}

fn report_json(kc: &Kc, extra: &[&str]) -> (Value, i32) {
    let mut args = vec!["audit", "--json", "--fail-on", "critical"];
    args.extend_from_slice(extra);
    let out = kc.run(&args);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        )
    });
    (json, out.status.code().unwrap())
}

fn has(report: &Value, severity: &str, code: &str, account: &str) -> bool {
    findings(report)
        .iter()
        .any(|(s, c, a)| s == severity && c == code && a == account)
}

/// A keychain with one account per finding, and the canaries that must never be printed.
fn keychain_with_every_finding() -> Kc {
    let kc = Kc::with_file_store();
    add(&kc, "dup-a", Some("shared-pw-canary-1"), Some(TOTP_SECRET));
    add(&kc, "dup-b", Some("shared-pw-canary-1"), Some(TOTP_SECRET));
    add(&kc, "single", Some("own-pw-canary-2"), None);
    add(
        &kc,
        "old-pw",
        Some("old-pw-canary-3"),
        Some("GEZDGNBVGY3TQOJQ"),
    );
    add(&kc, "idle", None, Some("MFRGGZDFMZTWQ2LK"));
    add(&kc, "expired", None, Some("ONSWG4TFOQYTEMZU"));
    set_refresh_token(&kc, "idle", "rt-idle-canary-4");
    set_refresh_token(&kc, "expired", "rt-expired-canary-5");
    let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
    // The idle rule is Exact's (issue 23): the refresh-token accounts are Exact's.
    for name in ["idle", "expired"] {
        edit_header(&kc, name, |h| h.provider.kind = "exact-nl".parse().unwrap());
    }
    edit_header(&kc, "old-pw", |h| {
        h.secrets.get_mut(&SecretField::Password).unwrap().changed = now - 400 * DAY;
    });
    edit_header(&kc, "idle", |h| {
        h.refresh_token_active = Some(now - 27 * DAY)
    });
    edit_header(&kc, "expired", |h| {
        h.refresh_token_active = Some(now - 31 * DAY)
    });
    kc
}

#[test]
fn report_finds_each_problem_with_its_severity_and_never_prints_a_secret() {
    let kc = keychain_with_every_finding();
    // Usage recorded by other processes: two headless logons and a broken chain for dup-a.
    for action in [
        Action::LoginHeadless,
        Action::ChainBroken,
        Action::LoginHeadless,
    ] {
        keychain::audit::record_in(
            &kc.dir,
            &keychain::clock::system(),
            Event::new("login", action).account("dup-a"),
        )
        .unwrap();
    }

    let (report, code) = report_json(&kc, &[]);
    assert_eq!(code, 0, "nothing critical yet");
    assert!(
        has(&report, "high", "duplicate-password", "dup-a,dup-b"),
        "{report:#}"
    );
    let dup = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "duplicate-password")
        .unwrap();
    assert_eq!(
        dup["message"].as_str().unwrap(),
        "the same password is stored in 2 accounts: dup-a, dup-b"
    );
    assert!(has(&report, "high", "duplicate-totp-secret", "dup-a,dup-b"));
    assert!(has(&report, "medium", "no-second-factor", "single"));
    assert!(has(&report, "medium", "password-old", "old-pw"));
    assert!(has(&report, "medium", "refresh-token-idle", "idle"));
    assert!(has(&report, "high", "refresh-token-expired", "expired"));
    assert!(has(&report, "high", "plain-identity-file", "-"));
    assert!(
        !findings(&report)
            .iter()
            .any(|(_, c, _)| c == "permissions" || c == "audit-log-damaged")
    );
    assert_eq!(report["audit_log"]["status"], "intact");
    // Only dup-a and dup-b share secrets; the others are distinct.
    assert_eq!(
        findings(&report)
            .iter()
            .filter(|f| f.1.starts_with("duplicate"))
            .count(),
        2
    );

    let accounts = report["accounts"].as_array().unwrap();
    let row = |n: &str| accounts.iter().find(|a| a["name"] == n).unwrap().clone();
    assert_eq!(row("dup-a")["headless_logons_30d"], 2);
    assert_eq!(row("dup-a")["broken_chains_30d"], 1);
    assert_eq!(row("dup-a")["last_use"]["action"], "login_headless");
    assert!(!row("dup-a")["last_use"]["by"].as_str().unwrap().is_empty());
    assert_eq!(row("old-pw")["password_age_days"], 400);
    assert_eq!(row("idle")["refresh_token"]["idle_days"], 27);
    assert_eq!(row("idle")["refresh_token"]["days_left"], 3);
    assert_eq!(row("expired")["refresh_token"]["days_left"], -1);
    assert!(row("idle")["password_age_days"].is_null());

    // --max-password-age moves the line; --fail-on decides the exit code.
    let (loose, _) = report_json(&kc, &["--max-password-age", "500"]);
    assert!(!has(&loose, "medium", "password-old", "old-pw"));
    assert_eq!(
        kc.run(&["audit"]).status.code(),
        Some(1),
        "high findings fail the default --fail-on high"
    );
    assert_eq!(
        kc.run(&["audit", "report", "--fail-on", "critical"])
            .status
            .code(),
        Some(0)
    );

    // The table and the JSON hold no secret.
    for args in [
        &["audit", "--fail-on", "critical"][..],
        &["audit", "--json", "--fail-on", "critical"],
    ] {
        let out = kc.run(args);
        for canary in [
            "shared-pw-canary-1",
            "own-pw-canary-2",
            "old-pw-canary-3",
            "rt-idle-canary-4",
            TOTP_SECRET,
        ] {
            assert!(
                !contains(&out.stdout, canary) && !contains(&out.stderr, canary),
                "{args:?} printed {canary}"
            );
        }
    }
    let table = kc.run(&["audit", "--fail-on", "critical"]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("DUPLICATE") || table.contains("duplicate-password"),
        "{table}"
    );
    assert!(
        table.contains("27d") || table.contains("3d left"),
        "{table}"
    );
}

#[test]
fn report_flags_wide_permissions_a_damaged_log_and_unreadable_records() {
    let kc = Kc::with_file_store();
    add(&kc, "acme", Some("pw-canary-perm"), Some(TOTP_SECRET));
    add(
        &kc,
        "beta",
        Some("pw-canary-other"),
        Some("GEZDGNBVGY3TQOJQ"),
    );
    std::fs::set_permissions(kc.record("acme"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(
        kc.dir.join("accounts"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let log = kc.dir.join("audit.log");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(
        &log,
        text.replacen("\"account\":\"beta\"", "\"account\":\"bet4\"", 1),
    )
    .unwrap();

    let (report, code) = report_json(&kc, &[]);
    assert_eq!(code, 1, "a damaged log is critical");
    let perms: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "permissions")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        perms
            .iter()
            .any(|m| m.contains("acme.kcr") && m.contains("0644")),
        "{perms:?}"
    );
    assert!(
        perms.iter().any(
            |m| m.ends_with("wider than 0700: other users may read it; chmod 700 it")
                && m.contains("accounts")
        ),
        "{perms:?}"
    );
    assert!(has(&report, "high", "permissions", "-"));
    assert!(
        has(&report, "critical", "audit-log-damaged", "-"),
        "{report:#}"
    );
    assert_eq!(report["audit_log"]["status"], "damaged");
    assert!(
        report["audit_log"]["problems"][0]
            .as_str()
            .unwrap()
            .contains("line 3"),
        "{report:#}"
    );

    // A record that cannot be read is critical, and the rest of the report still comes.
    std::fs::write(kc.record("beta"), b"keychain-record/1\n{not json\n").unwrap();
    let (report, _) = report_json(&kc, &[]);
    assert!(
        has(&report, "critical", "record-unreadable", "beta"),
        "{report:#}"
    );
    assert_eq!(report["accounts"].as_array().unwrap().len(), 1);
}

#[test]
fn report_without_the_key_skips_duplicates_and_says_so() {
    let kc = Kc::with_file_store();
    add(&kc, "a", Some("same-pw"), Some(TOTP_SECRET));
    add(&kc, "b", Some("same-pw"), Some(TOTP_SECRET));
    let (report, code) = report_json(&kc, &["--no-key"]);
    assert_eq!(code, 0);
    assert!(has(&report, "low", "checks-skipped", "-"), "{report:#}");
    assert!(
        !findings(&report)
            .iter()
            .any(|f| f.1.starts_with("duplicate"))
    );
    // Without the key, the hash chain and the anchor are still checked (no MACs).
    assert_eq!(report["audit_log"]["status"], "chain-intact");
    assert_eq!(report["key_used"], false);
    assert_eq!(report["accounts"].as_array().unwrap().len(), 2);

    // A key store that cannot be opened is the same case, not a failure.
    let id = kc.dir.join("identity.txt");
    std::fs::rename(&id, kc.tmp.path().join("away.txt")).unwrap();
    let (report, code) = report_json(&kc, &[]);
    assert_eq!(code, 0);
    assert!(has(&report, "low", "checks-skipped", "-"), "{report:#}");
}

/// A keychain whose log has five lines (seq 0..4), and those lines.
fn logged_keychain() -> (Kc, PathBuf, Vec<String>) {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.add_account("beta");
    kc.add_account("gamma");
    kc.ok(&["show", "acme", "--reveal", "password"]);
    let log = kc.dir.join("audit.log");
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 5);
    (kc, log, lines)
}

fn verify_fails_at(kc: &Kc, what: &str, expected: &[&str]) {
    let out = kc.run(&["audit", "verify"]);
    assert_exit(&out, 7);
    let text = String::from_utf8_lossy(&out.stdout);
    for e in expected {
        assert!(text.contains(e), "{what}: expected {e:?} in\n{text}");
    }
    assert!(!contains(&out.stdout, CANARY_PASSWORD) && !contains(&out.stderr, CANARY_PASSWORD));
}

#[test]
fn audit_verify_names_each_attack_and_exits_7() {
    let (kc, log, lines) = logged_keychain();
    let ok = kc.ok(&["audit", "verify"]);
    assert!(ok.contains("audit log intact: 5 lines"), "{ok}");
    let write = |ls: &[String]| {
        std::fs::write(
            &log,
            ls.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap()
    };
    let original = lines.clone();

    let mut edited = original.clone();
    edited[2] = edited[2].replace("\"account\":\"beta\"", "\"account\":\"bet4\"");
    write(&edited);
    verify_fails_at(
        &kc,
        "edit",
        &["audit.log line 3", "seq 2", "MAC does not match"],
    );

    let mut deleted = original.clone();
    deleted.remove(2);
    write(&deleted);
    verify_fails_at(
        &kc,
        "delete",
        &["audit.log line 3", "seq 3 where 2 was expected"],
    );

    let mut reordered = original.clone();
    reordered.swap(2, 3);
    write(&reordered);
    verify_fails_at(
        &kc,
        "reorder",
        &["audit.log line 3", "seq 3 where 2 was expected"],
    );

    let mut inserted = original.clone();
    inserted.insert(3, original[1].clone());
    write(&inserted);
    verify_fails_at(
        &kc,
        "insert",
        &["audit.log line 4", "seq 1 where 3 was expected"],
    );

    let mut forged = original.clone();
    forged.insert(2, "{\"seq\":2,\"note\":\"forged\"}".into());
    write(&forged);
    verify_fails_at(&kc, "insert garbage", &["audit.log line 3"]);

    write(&original[..4]);
    verify_fails_at(
        &kc,
        "truncate",
        &["log ends after 4 lines but the anchor records 5"],
    );

    let mut torn = original
        .iter()
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    torn.truncate(torn.len() - 20);
    std::fs::write(&log, torn).unwrap();
    verify_fails_at(
        &kc,
        "torn tail",
        &["audit.log line 5", "ends without a newline"],
    );

    write(&original);
    kc.ok(&["audit", "verify"]);
}

#[test]
fn audit_verify_detects_a_rollback_to_an_older_copy() {
    let (kc, log, _) = logged_keychain();
    let old = std::fs::read(&log).unwrap();
    kc.ok(&["show", "acme", "--reveal", "password"]);
    kc.ok(&["rm", "-f", "gamma"]);
    std::fs::write(&log, old).unwrap();
    verify_fails_at(&kc, "rollback", &["anchor records 7"]);
    // Fail closed: nothing is revealed while the log does not match its anchor.
    let out = kc.run(&["show", "acme", "--reveal", "password"]);
    assert!(!out.status.success() && !contains(&out.stdout, CANARY_PASSWORD));
}

#[test]
fn rotation_keeps_the_log_verifiable_and_a_lost_rotated_file_shows() {
    let (kc, log, _) = logged_keychain();
    kc.ok(&["audit", "rotate"]);
    kc.ok(&["show", "beta", "--reveal", "password"]);
    kc.ok(&["audit", "rotate"]);
    kc.ok(&["show", "gamma", "--reveal", "password"]);
    let ok = kc.ok(&["audit", "verify"]);
    assert!(ok.contains("intact") && ok.contains("3 files"), "{ok}");
    assert!(
        log.with_file_name("audit.log.1").exists() && log.with_file_name("audit.log.2").exists()
    );
    let (report, _) = report_json(&kc, &[]);
    assert_eq!(report["audit_log"]["status"], "intact");
    let row = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "acme")
        .unwrap()
        .clone();
    assert_eq!(
        row["last_use"]["action"], "reveal",
        "use read across rotated files"
    );

    std::fs::remove_file(log.with_file_name("audit.log.1")).unwrap();
    verify_fails_at(&kc, "lost rotated file", &["log starts at seq 5, not 0"]);
}

#[test]
fn fingerprint_reads_stdin_matches_the_log_and_is_recorded() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let out = kc.run_stdin(
        &["audit", "fingerprint", "acme", "password"],
        &format!("{CANARY_PASSWORD}\n"),
    );
    assert_success(&out, &["audit", "fingerprint"]);
    let fp = String::from_utf8(out.stdout.clone()).unwrap();
    let fp = fp.trim();
    assert_eq!(fp.len(), 64, "{fp}");
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    assert!(
        log.contains(&format!("\"password\":\"{fp}\"")),
        "the add event carries the same fingerprint"
    );
    assert!(
        stderr(&out).contains("This is the current password of 'acme'"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("audit.log line 2"),
        "{}",
        stderr(&out)
    );
    assert!(
        log.contains("\"action\":\"fingerprint\",\"detail\":\"password\""),
        "{log}"
    );
    assert!(!log.contains(CANARY_PASSWORD) && !contains(&out.stderr, CANARY_PASSWORD));

    // An otpauth URI of the same seed is the same TOTP secret.
    let uri = format!("otpauth://totp/x?secret={}", TOTP_SECRET.to_lowercase());
    let out = kc.run_stdin(&["audit", "fingerprint", "acme", "totp-secret"], &uri);
    assert!(
        stderr(&out).contains("This is the current totp-secret"),
        "{}",
        stderr(&out)
    );

    let out = kc.run_stdin(&["audit", "fingerprint", "acme", "password"], "not-it");
    // No match: exit 1 (issue 10), the answer still given.
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("This is not the current password"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("holds no password with this fingerprint"));

    // The value is never an argument.
    assert_exit(
        &kc.run(&["audit", "fingerprint", "acme", "password", CANARY_PASSWORD]),
        2,
    );
    assert_exit(
        &kc.run_stdin(&["audit", "fingerprint", "acme", "password"], ""),
        2,
    );
}

#[test]
fn html_report_opens_in_headless_chromium_and_holds_no_secret() {
    let kc = keychain_with_every_finding();
    // A hostile account name cannot exist (names are checked), but a user name can be anything.
    let f = kc.file("evil.pw", "evil-pw-canary-6");
    kc.ok(&[
        "add",
        "--no-client-secret",
        "evil",
        "--provider",
        "oidc",
        "--issuer",
        "http://127.0.0.1:9",
        "--client-id",
        "c",
        "--user",
        "<script>alert(1)</script>&",
        "--password-file",
        f.to_str().unwrap(),
        "--no-totp",
    ]);
    let html = kc.tmp.path().join("report.html");
    let out = kc.run(&["audit", "--html", html.to_str().unwrap()]);
    assert_exit(&out, 1);
    assert_eq!(
        std::fs::metadata(&html).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        !page.contains("<script>") && page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;")
    );
    assert!(
        !page.contains("src=") && !page.contains("href=") && !page.contains("url("),
        "no external resources"
    );
    for canary in [
        "shared-pw-canary-1",
        "evil-pw-canary-6",
        "rt-idle-canary-4",
        TOTP_SECRET,
    ] {
        assert!(!page.contains(canary), "{canary} in the HTML report");
    }

    let dom = chromium(&kc, &["--dump-dom".into(), file_url(&html)]);
    assert!(dom.contains("keychain audit report"), "{dom}");
    assert!(
        dom.contains("duplicate-password") && dom.contains("refresh-token-expired"),
        "{dom}"
    );
    assert!(
        dom.contains("<td>idle</td>"),
        "the accounts table rendered: {dom}"
    );
    // Timelines show when a refresh token expires unused: in 3 days, and a day ago.
    for account in ["idle", "expired"] {
        let timeline = dom
            .split(&format!("id=\"timeline-{account}\""))
            .nth(1)
            .and_then(|t| t.split("</figure>").next())
            .unwrap_or_else(|| panic!("no timeline for {account}: {dom}"));
        assert!(timeline.contains("class=\"horizon\""), "{timeline}");
    }
    let shot = kc.tmp.path().join("report.png");
    chromium(
        &kc,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,900".into(),
            file_url(&html),
        ],
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a rendered page, {} bytes",
        png.len()
    );
}

/// An OAuth2 token endpoint on 127.0.0.1 that rotates refresh tokens starting with `rt-good`
/// and rejects every other one with `invalid_grant`. Returns its base URL.
fn token_server() -> (String, std::sync::Arc<tiny_http::Server>) {
    let server = std::sync::Arc::new(support::loopback_http::server(0));
    let port = server.server_addr().to_ip().unwrap().port();
    let srv = server.clone();
    std::thread::spawn(move || {
        let mut n = 0;
        for mut request in srv.incoming_requests() {
            let mut body = String::new();
            request.as_reader().read_to_string(&mut body).ok();
            let form: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect();
            let rt = form.get("refresh_token").cloned().unwrap_or_default();
            let (status, json) = if form.get("grant_type").map(String::as_str)
                == Some("refresh_token")
                && rt.starts_with("rt-good")
            {
                n += 1;
                (
                    200,
                    format!(
                        r#"{{"access_token":"at-{n}","token_type":"Bearer","expires_in":600,"refresh_token":"rt-good-rotated-{n}"}}"#
                    ),
                )
            } else {
                (400, r#"{"error":"invalid_grant"}"#.to_string())
            };
            let header = tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
            request
                .respond(
                    tiny_http::Response::from_string(json)
                        .with_status_code(status)
                        .with_header(header),
                )
                .ok();
        }
    });
    (format!("http://127.0.0.1:{port}"), server)
}

#[test]
fn refresh_all_refreshes_idle_tokens_only_and_reports_each_account() {
    let (base, server) = token_server();
    let kc = Kc::with_file_store();
    let authorize = format!("{base}/authorize");
    let token = format!("{base}/token");
    for (name, rt) in [
        ("stale", Some("rt-good-1")),
        ("fresh", Some("rt-good-2")),
        ("none", None),
        ("dead", Some("rt-dead")),
    ] {
        kc.ok(&[
            "add",
            "--no-client-secret",
            name,
            "--provider",
            "oauth2",
            "--authorize-url",
            &authorize,
            "--token-url",
            &token,
            "--client-id",
            "cli",
            "--user",
            "u",
            "--no-password",
            "--no-totp",
        ]);
        if let Some(rt) = rt {
            set_refresh_token(&kc, name, rt);
        }
    }
    let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
    for name in ["stale", "dead"] {
        edit_header(&kc, name, |h| h.refresh_token_active = Some(now - 21 * DAY));
    }

    let out = kc.run(&["refresh", "--all", "--idle-days", "20"]);
    assert_exit(&out, 5);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("{name} in {text}"))
            .to_string()
    };
    assert!(line("stale").starts_with("refreshed"), "{text}");
    assert!(
        line("fresh").starts_with("skipped") && line("fresh").contains("idle 0 days"),
        "{text}"
    );
    assert!(line("none").contains("no refresh token"), "{text}");
    assert!(
        line("dead").starts_with("failed") && line("dead").contains("no password"),
        "{text}"
    );
    for secret in ["rt-good-1", "rt-good-rotated-1", "at-1", "rt-dead"] {
        assert!(
            !contains(&out.stdout, secret) && !contains(&out.stderr, secret),
            "printed {secret}"
        );
    }
    assert_eq!(
        kc.ok(&["show", "stale", "--reveal", "refresh-token"]),
        "rt-good-rotated-1\n",
        "rotated token written back"
    );
    assert_eq!(
        kc.ok(&["show", "fresh", "--reveal", "refresh-token"]),
        "rt-good-2\n",
        "not touched"
    );

    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    assert!(
        log.contains(r#""account":"stale","action":"login_refresh""#),
        "{log}"
    );
    assert!(
        log.contains(r#""account":"dead","action":"chain_broken""#),
        "{log}"
    );
    let (report, _) = report_json(&kc, &[]);
    let stale = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "stale")
        .unwrap()
        .clone();
    assert_eq!(stale["refresh_token"]["idle_days"], 0);

    // Nothing idle any more: a second run does nothing and succeeds.
    let again = kc.run(&["refresh", "stale", "fresh", "--idle-days", "20"]);
    assert_exit(&again, 0);
    assert!(
        String::from_utf8_lossy(&again.stdout)
            .lines()
            .all(|l| l.starts_with("skipped"))
    );
    assert_exit(&kc.run(&["refresh", "--idle-days", "1"]), 2);
    server.unblock();
}
