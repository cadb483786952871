//! Issue 10, the operator's tool: regression tests for the defects a daily operator met, each
//! driven through the real binary on real files.

use crate::support;

use support::*;

fn settings_data(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/settings")
        .join(name)
}

fn show_json(kc: &Kc, name: &str) -> serde_json::Value {
    serde_json::from_str(&kc.ok(&["show", name, "--json"])).unwrap()
}

#[test]
fn add_without_provider_is_refused_naming_the_flag_and_stores_nothing() {
    let kc = Kc::with_file_store();
    let out = kc.run(&[
        "add",
        "--no-client-secret",
        "acme",
        "--user",
        "dwho",
        "--client-id",
        "c",
        "--no-password",
        "--no-totp",
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--provider"), "{}", stderr(&out));
    assert!(!kc.record("acme").exists());
}

#[test]
fn set_without_a_field_is_an_error_and_a_set_that_changes_nothing_writes_nothing() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let before = std::fs::read(kc.record("acme")).unwrap();
    let out = kc.run(&["set", "acme"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("nothing to change"),
        "{}",
        stderr(&out)
    );
    // The values it already has: idempotent, exit 0 (issue 23 point 7), nothing written.
    let out = kc.run(&["set", "acme", "--user", "dwho"]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("unchanged"), "{}", stderr(&out));
    assert_eq!(std::fs::read(kc.record("acme")).unwrap(), before);
}

#[test]
fn set_provider_resets_the_endpoints_and_hosts_the_old_provider_implied() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.ok(&["set", "acme", "--allow-host", "sso.example.com"]);
    // Before: the OIDC issuer stayed and an Exact provider refused it.
    let out = kc.run(&["set", "acme", "--provider", "exact-nl"]);
    assert_success(&out, &["set", "--provider"]);
    assert!(stderr(&out).contains("issuer"), "{}", stderr(&out));
    let provider = &show_json(&kc, "acme")["provider"];
    assert_eq!(provider["kind"], "exact-nl");
    assert!(provider["issuer"].is_null(), "{provider}");
    assert_eq!(provider["allow_hosts"], serde_json::json!([]), "{provider}");
    // The same call's own URLs are kept.
    kc.ok(&[
        "set",
        "acme",
        "--provider",
        "oauth2",
        "--authorize-url",
        "https://a.example.com/auth",
        "--token-url",
        "https://a.example.com/token",
    ]);
    let provider = &show_json(&kc, "acme")["provider"];
    assert_eq!(provider["token_url"], "https://a.example.com/token");
}

#[test]
fn set_unset_removes_a_plain_field_and_refuses_what_cannot_go() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.ok(&["set", "acme", "--scope", "openid"]);
    assert_eq!(show_json(&kc, "acme")["provider"]["scope"], "openid");
    kc.ok(&["set", "acme", "--unset", "scope"]);
    assert!(show_json(&kc, "acme")["provider"]["scope"].is_null());
    // Absent, contradicted, or needed to log on: each refused with exit 2.
    for args in [
        &["set", "acme", "--unset", "scope"][..],
        &["set", "acme", "--unset", "scope", "--scope", "x"],
        &["set", "acme", "--unset", "client-id"],
        &["set", "acme", "--unset", "issuer"],
    ] {
        assert_exit(&kc.run(args), 2);
    }
    // --clear stays as the old name for secrets.
    kc.ok(&["set", "acme", "--clear", "totp-secret"]);
    assert!(!kc.ok(&["list"]).contains("totp-secret"));
}

#[test]
fn audit_fingerprint_exits_0_on_a_match_and_1_otherwise() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let args = ["audit", "fingerprint", "acme", "password"];
    assert_exit(&kc.run_stdin(&args, CANARY_PASSWORD), 0);
    assert_exit(&kc.run_stdin(&args, "not-the-password"), 1);
    let gone = ["audit", "fingerprint", "nobody", "password"];
    assert_exit(&kc.run_stdin(&gone, CANARY_PASSWORD), 1);
}

#[test]
fn exec_of_a_missing_program_is_127_and_of_an_unrunnable_one_126_before_any_logon() {
    use std::os::unix::fs::PermissionsExt;
    let kc = Kc::with_file_store();
    // The provider (127.0.0.1:9) is unreachable: a logon attempt would exit 5.
    kc.add_account("acme");
    let plain = kc.file("not-executable.sh", "#!/bin/sh\nexit 0\n");
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cases: [(&str, i32); 4] = [
        ("keychain-no-such-program-x9", 127),
        ("/nonexistent/bin/prog", 127),
        (plain.to_str().unwrap(), 126),
        (kc.tmp.path().to_str().unwrap(), 126),
    ];
    for (program, code) in cases {
        let out = kc.run(&["exec", "acme", "--", program]);
        assert_exit(&out, code);
        assert!(stderr(&out).contains(program), "{}", stderr(&out));
    }
}

#[test]
fn scan_suggests_import_only_for_files_import_reads() {
    let kc = Kc::new();
    let out = kc.run(&["scan", settings_data("tree").to_str().unwrap()]);
    assert_exit(&out, 1);
    let text = stderr(&out);
    let import_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("keychain import"))
        .collect();
    assert!(!import_lines.is_empty(), "{text}");
    assert!(
        import_lines.iter().all(|l| l.contains("settings")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("by hand") && l.contains("legacy.ini")),
        "{text}"
    );
}

#[test]
fn counts_of_one_are_singular() {
    let kc = Kc::with_file_store();
    let verify = kc.ok(&["audit", "verify"]);
    assert!(verify.contains("1 line in 1 file"), "{verify}");
    kc.add_account("acme");
    let out = kc.run(&["refresh", "acme", "--idle-days", "1"]);
    let text = stderr(&out);
    assert!(text.contains("1 account checked"), "{text}");
    assert!(text.contains("idle 1 day or more"), "{text}");
}

/// `add` of a minimal OIDC account under `name` (no secrets).
fn add_plain(kc: &Kc, name: &str) {
    kc.ok(&add_args(name, &["--no-password", "--no-totp"]));
}

fn names_listed(kc: &Kc, args: &[&str]) -> Vec<String> {
    kc.ok(args)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn mv_renames_keeps_the_secrets_and_is_audited() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    add_plain(&kc, "taken");
    assert_exit(&kc.run(&["mv", "acme", "taken"]), 2);
    assert_exit(&kc.run(&["mv", "nobody", "x"]), 3);
    assert_exit(&kc.run(&["mv", "acme", "../x"]), 2);
    kc.ok(&["mv", "acme", "acme-prod"]);
    assert!(!kc.record("acme").exists());
    assert_eq!(
        kc.ok(&["show", "acme-prod", "--reveal", "password"]),
        format!("{CANARY_PASSWORD}\n")
    );
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    let moves: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"action\":\"mv\""))
        .collect();
    assert_eq!(moves.len(), 1, "{log}");
    assert!(
        moves[0].contains("\"account\":\"acme-prod\"") && moves[0].contains("\"detail\":\"acme\""),
        "{}",
        moves[0]
    );
    kc.ok(&["audit", "verify"]);
}

#[test]
fn rm_checks_every_name_first_and_removes_several() {
    let kc = Kc::with_file_store();
    for name in ["a1", "a2", "a3"] {
        add_plain(&kc, name);
    }
    // One unknown name: nothing is removed.
    assert_exit(&kc.run(&["rm", "a1", "nope", "a2"]), 3);
    assert!(kc.record("a1").exists() && kc.record("a2").exists());
    kc.ok(&["rm", "-f", "a1", "a2"]);
    assert_eq!(names_listed(&kc, &["list"]), ["a3"]);
}

/// Runs `keychain ARGS` on a pseudo-terminal (util-linux `script`), with `answer` typed.
fn on_terminal(kc: &Kc, args: &str, answer: &str) -> std::process::Output {
    use std::io::Write;
    let bin = assert_cmd::cargo::cargo_bin("keychain");
    let mut child = std::process::Command::new("script")
        .args(["-qec", &format!("{} {args}", bin.display()), "/dev/null"])
        .env("KEYCHAIN_DIR", &kc.dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux 'script' is needed for terminal tests");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn rm_on_a_terminal_asks_first_and_minus_f_does_not() {
    let kc = Kc::with_file_store();
    add_plain(&kc, "acme");
    let out = on_terminal(&kc, "rm acme", "n\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Remove account 'acme'?"));
    assert!(kc.record("acme").exists());
    let out = on_terminal(&kc, "rm acme", "y\n");
    assert_eq!(out.status.code(), Some(0));
    assert!(!kc.record("acme").exists());
    add_plain(&kc, "acme");
    let out = on_terminal(&kc, "rm -f acme", "");
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Remove account"));
    assert!(!kc.record("acme").exists());
}

#[test]
fn list_filters_by_pattern() {
    let kc = Kc::with_file_store();
    for name in ["acme-prod", "acme-test", "other"] {
        add_plain(&kc, name);
    }
    assert_eq!(
        names_listed(&kc, &["list", "acme"]),
        ["acme-prod", "acme-test"]
    );
    assert_eq!(names_listed(&kc, &["list", "*-prod"]), ["acme-prod"]);
    assert_eq!(names_listed(&kc, &["list", "o?her"]), ["other"]);
    let json: serde_json::Value =
        serde_json::from_str(&kc.ok(&["list", "test", "--json"])).unwrap();
    assert_eq!(json.to_string().matches("acme-test").count(), 1, "{json}");
    assert_exit(&kc.run(&["list", "[a"]), 2);
}

#[test]
fn an_unknown_name_gets_a_did_you_mean_for_every_command() {
    let kc = Kc::with_file_store();
    add_plain(&kc, "acme-prod");
    add_plain(&kc, "zeta");
    for args in [
        &["show", "acme-prd"][..],
        &["set", "acme-prd", "--user", "x"],
        &["totp", "acme-prd"],
        &["login", "acme-prd"],
        &["rm", "-f", "acme-prd"],
        &["mv", "acme-prd", "new"],
        &["exec", "acme-prd", "--", "true"],
    ] {
        let out = kc.run(args);
        assert_exit(&out, 3);
        let text = stderr(&out);
        assert!(
            text.contains("did you mean 'acme-prod'?"),
            "{args:?}: {text}"
        );
        assert!(!text.contains("zeta"), "{text}");
    }
    // Nothing alike: the plain hint.
    let text = stderr(&kc.run(&["show", "qqqq"]));
    assert!(!text.contains("did you mean"), "{text}");
}

#[test]
fn shell_completion_offers_account_names() {
    let kc = Kc::with_file_store();
    add_plain(&kc, "acme-prod");
    add_plain(&kc, "other");
    let script = kc.ok(&["completions", "bash"]);
    assert!(script.contains("KEYCHAIN_COMPLETE"), "{script}");
    let out = kc
        .cmd()
        .env("KEYCHAIN_COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .args(["--", "keychain", "show", "ac"])
        .output()
        .unwrap();
    assert_success(&out, &["complete show"]);
    let words = String::from_utf8(out.stdout).unwrap();
    let words: Vec<&str> = words
        .split(['\n', '\u{b}'])
        .filter(|w| !w.is_empty())
        .collect();
    assert_eq!(words, ["acme-prod"]);
}

/// `--provider` completes to exactly the kinds keychain knows (one list, `providers::all`).
#[test]
fn shell_completion_offers_every_provider_kind() {
    let kc = Kc::with_file_store();
    let out = kc
        .cmd()
        .env("KEYCHAIN_COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "3")
        .args(["--", "keychain", "add", "--provider", ""])
        .output()
        .unwrap();
    assert_success(&out, &["complete add --provider"]);
    let words = String::from_utf8(out.stdout).unwrap();
    let words: Vec<&str> = words
        .split(['\n', '\u{b}'])
        .filter(|w| !w.is_empty())
        .collect();
    let kinds: Vec<String> = keychain::providers::all()
        .iter()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(words, kinds);
}

#[test]
fn a_copied_record_is_not_listed_as_the_account_twice() {
    let kc = Kc::with_file_store();
    add_plain(&kc, "acme");
    std::fs::copy(kc.record("acme"), kc.record("acme-copy")).unwrap();
    for args in [&["list"][..], &["status"], &["audit", "--no-key"]] {
        let out = kc.run(args);
        let text = String::from_utf8_lossy(&out.stdout);
        let rows = text
            .lines()
            .filter(|l| l.split_whitespace().next() == Some("acme"))
            .count();
        assert_eq!(rows, 1, "{args:?}: {text}");
        assert!(
            stderr(&out).contains("acme-copy") || text.contains("acme-copy"),
            "{args:?}: the copy is named\n{text}\n{}",
            stderr(&out)
        );
        assert_ne!(out.status.code(), Some(0), "{args:?}");
    }
}

#[test]
fn totp_select_picks_one_entry_of_a_google_authenticator_export() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/totp");
    let text = std::fs::read_to_string(data.join("migration-two-entries.txt")).unwrap();
    let entries = keychain::totp::TotpSecret::parse_all(&text).unwrap();
    assert_eq!(entries.len(), 2);
    let second = {
        use secrecy::ExposeSecret;
        entries[1].secret_base32().expose_secret().to_string()
    };
    let kc = Kc::with_file_store();
    let file = data.join("migration-two-entries.txt");
    let qr = data.join("qr-migration.png");
    // Without a choice: refused, naming the flag and the entries.
    let out = kc.run(&add_args(
        "a",
        &["--no-password", "--totp-file", file.to_str().unwrap()],
    ));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--totp-select"), "{}", stderr(&out));
    // By number from the text, by ISSUER:LABEL from the QR image: the same second entry.
    let name = entries[1].name();
    for (account, source, selector) in [
        ("by-number", ["--totp-file", file.to_str().unwrap()], "2"),
        (
            "by-name",
            ["--totp-qr", qr.to_str().unwrap()],
            name.as_str(),
        ),
    ] {
        let mut extra = vec!["--no-password"];
        extra.extend(source);
        let mut args = add_args(account, &extra);
        args.extend(["--totp-select", selector]);
        kc.ok(&args);
        assert_eq!(
            kc.ok(&["show", account, "--reveal", "totp-secret"]).trim(),
            second
        );
    }
    let mut args = add_args(
        "none",
        &["--no-password", "--totp-file", file.to_str().unwrap()],
    );
    args.extend(["--totp-select", "9"]);
    assert_exit(&kc.run(&args), 2);
    assert_exit(
        &kc.run(&add_args("lone", &["--no-password", "--totp-select", "1"])),
        2,
    );
}

/// Pointing an account at another provider or token endpoint must not send the old one's
/// credentials there: its tokens are dropped (unless the same call brings new ones), and the
/// client secret, which belongs to the old registration, must be given anew or unset.
#[test]
fn a_new_token_endpoint_never_receives_the_old_providers_credentials() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let cs = kc.file("cs.txt", "client-secret-of-the-old-provider");
    let rt = kc.file("rt.txt", "refresh-token-of-the-old-provider");
    kc.ok(&[
        "set",
        "acme",
        "--client-secret-file",
        cs.to_str().unwrap(),
        "--refresh-token-file",
        rt.to_str().unwrap(),
    ]);
    let moved = [
        "set",
        "acme",
        "--provider",
        "oauth2",
        "--authorize-url",
        "https://elsewhere.example.com/auth",
        "--token-url",
        "https://elsewhere.example.com/token",
    ];
    // The client secret would go along: refused, nothing changed.
    let out = kc.run(&moved);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("client secret"), "{}", stderr(&out));
    let secrets = &show_json(&kc, "acme")["fingerprints"];
    assert!(secrets["refresh-token"].is_string(), "{secrets}");
    assert!(secrets["client-secret"].is_string(), "{secrets}");

    // Dropping the client secret: the move happens and the old refresh token goes too.
    let mut unset = moved.to_vec();
    unset.extend(["--unset", "client-secret"]);
    kc.ok(&unset);
    let shown = show_json(&kc, "acme");
    assert!(shown["fingerprints"]["refresh-token"].is_null(), "{shown}");
    assert!(shown["fingerprints"]["client-secret"].is_null(), "{shown}");
    assert!(shown["fingerprints"]["password"].is_string(), "{shown}");

    // A new refresh token given in the same call as a move is kept.
    let rt2 = kc.file("rt2.txt", "refresh-token-of-the-third-provider");
    kc.ok(&[
        "set",
        "acme",
        "--token-url",
        "https://third.example.com/token",
        "--authorize-url",
        "https://third.example.com/auth",
        "--refresh-token-file",
        rt2.to_str().unwrap(),
    ]);
    assert!(show_json(&kc, "acme")["fingerprints"]["refresh-token"].is_string());
}
