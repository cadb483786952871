//! Issue 23 point 7 (idempotent provisioning) and the `export` and import-naming halves of
//! point 10: a provisioning command that changes nothing succeeds and says so (`"changed":
//! false`); `rm` never deletes unasked (off a terminal it needs -f/--yes); `export` takes names
//! and patterns; imported Invantive accounts are named sensibly, or by `--name`.

use std::path::Path;

use crate::support::*;

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

#[test]
fn set_with_the_values_an_account_has_exits_0_unchanged_and_writes_nothing() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let before = std::fs::read(kc.record("acme")).unwrap();
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    for args in [
        vec!["set", "acme", "--user", "dwho"],
        vec!["set", "acme", "--issuer", "http://127.0.0.1:9"],
    ] {
        let out = kc.run(&args);
        assert_exit(&out, 0);
        assert!(stderr(&out).contains("unchanged"), "{}", stderr(&out));
        let mut with_json = args.clone();
        with_json.push("--json");
        let doc = json(&kc.run(&with_json));
        assert_eq!(doc["ok"], true);
        assert_eq!(doc["changed"], false, "{doc}");
    }
    assert_eq!(std::fs::read(kc.record("acme")).unwrap(), before);
    assert_eq!(
        std::fs::read_to_string(kc.dir.join("audit.log")).unwrap(),
        log,
        "a set that changes nothing records nothing"
    );
    let doc = json(&kc.run(&["set", "acme", "--user", "rose", "--json"]));
    assert_eq!(doc["changed"], true, "{doc}");
}

#[test]
fn add_of_the_same_account_again_is_unchanged_and_of_another_is_refused() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let before = std::fs::read(kc.record("acme")).unwrap();
    let pw = kc.tmp.path().join("pw.txt");
    let totp = kc.tmp.path().join("totp.txt");
    let same = add_args(
        "acme",
        &[
            "--password-file",
            pw.to_str().unwrap(),
            "--totp-file",
            totp.to_str().unwrap(),
            "--json",
        ],
    );
    let out = kc.run(&same);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("unchanged"), "{}", stderr(&out));
    assert_eq!(json(&out)["changed"], false);
    assert_eq!(std::fs::read(kc.record("acme")).unwrap(), before);

    let other_pw = kc.file("other.txt", "another password\n");
    let other = add_args(
        "acme",
        &[
            "--password-file",
            other_pw.to_str().unwrap(),
            "--totp-file",
            totp.to_str().unwrap(),
        ],
    );
    let out = kc.run(&other);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--replace"), "{}", stderr(&out));
    assert_eq!(std::fs::read(kc.record("acme")).unwrap(), before);

    let doc = json(&kc.run(&add_args(
        "beta",
        &["--password-file", pw.to_str().unwrap(), "--json"],
    )));
    assert_eq!(doc["changed"], true, "{doc}");
}

#[test]
fn rm_off_a_terminal_needs_force_or_yes_and_removes_nothing_without() {
    let kc = Kc::with_file_store();
    for name in ["a1", "a2", "a3"] {
        kc.add_account(name);
    }
    let out = kc.run(&["rm", "a1"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("-f"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert!(
        kc.record("a1").exists(),
        "rm deleted without being asked to"
    );
    kc.ok(&["rm", "-f", "a1"]);
    kc.ok(&["rm", "--yes", "a2"]);
    kc.ok(&["rm", "-y", "a3"]);
    for name in ["a1", "a2", "a3"] {
        assert!(!kc.record(name).exists());
    }
}

fn recipient_of(kc: &Kc) -> String {
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(kc.dir.join("config.json")).unwrap()).unwrap();
    config["recipient"].as_str().unwrap().to_string()
}

/// The accounts in an export, as `import` reads them back into a fresh keychain.
fn exported_names(source: &Kc, select: &[&str]) -> Vec<String> {
    let target = Kc::with_file_store();
    let backup = source.tmp.path().join(format!("b{}.age", select.len()));
    let _ = std::fs::remove_file(&backup);
    let recipient = recipient_of(&target);
    let mut args = vec![
        "export",
        "--recipient",
        &recipient,
        backup.to_str().unwrap(),
    ];
    args.extend_from_slice(select);
    source.ok(&args);
    let identity = target.dir.join("identity.txt");
    target.ok(&[
        "import",
        backup.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
    ]);
    let list: serde_json::Value = serde_json::from_str(&target.ok(&["list", "--json"])).unwrap();
    let mut names: Vec<String> = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn export_takes_account_names_and_patterns() {
    let kc = Kc::with_file_store();
    for name in ["acme-prd", "acme-tst", "beta", "gamma"] {
        kc.add_account(name);
    }
    assert_eq!(exported_names(&kc, &["beta"]), ["beta"]);
    assert_eq!(
        exported_names(&kc, &["acme-*", "gamma"]),
        ["acme-prd", "acme-tst", "gamma"]
    );
    assert_eq!(
        exported_names(&kc, &[]),
        ["acme-prd", "acme-tst", "beta", "gamma"]
    );
    // A name or pattern that matches nothing exports nothing.
    let backup = kc.tmp.path().join("none.age");
    let recipient = recipient_of(&kc);
    let out = kc.run(&[
        "export",
        "--recipient",
        &recipient,
        backup.to_str().unwrap(),
        "beta",
        "nope*",
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("nope*"), "{}", stderr(&out));
    assert!(!backup.exists());
}

fn settings(kc: &Kc) -> std::path::PathBuf {
    let to = kc.tmp.path().join("settings-test.xml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/settings/settings-test.xml"),
        &to,
    )
    .unwrap();
    to
}

fn names_in(kc: &Kc) -> Vec<String> {
    let list: serde_json::Value = serde_json::from_str(&kc.ok(&["list", "--json"])).unwrap();
    let mut names: Vec<String> = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn imported_invantive_accounts_are_named_without_repeating_words_or_by_name() {
    // The default: group, connection and alias, each word once.
    let kc = Kc::with_file_store();
    kc.ok(&["import", settings(&kc).to_str().unwrap()]);
    let names = names_in(&kc);
    assert!(
        names.contains(&"exact-online-nl-eol".to_string()),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with("exact-exact") && !n.contains("cloud-cloud")),
        "{names:?}"
    );

    // A pattern names each.
    let kc = Kc::with_file_store();
    kc.ok(&[
        "import",
        settings(&kc).to_str().unwrap(),
        "--name",
        "inv-{alias}",
    ]);
    let names = names_in(&kc);
    assert!(names.contains(&"inv-eol".to_string()), "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("inv-")), "{names:?}");

    // A literal name fits a file of one account; for several it is refused, naming a pattern.
    let kc = Kc::with_file_store();
    let out = kc.run(&["import", settings(&kc).to_str().unwrap(), "--name", "books"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("{alias}"), "{}", stderr(&out));
    assert!(names_in(&kc).is_empty());
}

/// Issue 23 point 10: `unlock` says its duration in words ("1 day 1 hour"), as every duration
/// keychain prints, never humantime's "1day 1h".
#[test]
fn unlock_says_its_duration_in_words() {
    let kc = Kc::new();
    let pass = kc.file("pass.txt", "correct horse battery staple\n");
    let init = ["init", "--key-store", "passphrase"];
    let out = kc
        .cmd()
        .args(init)
        .env("KEYCHAIN_PASSPHRASE_FILE", &pass)
        .output()
        .unwrap();
    assert_success(&out, &init);
    for (given, said) in [
        ("25h", "for 1 day 1 hour,"),
        ("90m", "for 1 hour 30 minutes,"),
        ("8h", "for 8 hours,"),
    ] {
        let args = ["unlock", "--for", given];
        let out = kc
            .cmd()
            .args(args)
            .env("KEYCHAIN_PASSPHRASE_FILE", &pass)
            .output()
            .unwrap();
        assert_success(&out, &args);
        assert!(stderr(&out).contains(said), "{given}: {}", stderr(&out));
    }
    kc.ok(&["lock"]);
}

/// `store copy` run again: the accounts the target holds already, the same, are left as they
/// are (exit 0, "unchanged"); another account of a name there is still refused.
#[test]
fn store_copy_run_again_changes_nothing() {
    let source = Kc::with_file_store();
    source.add_account("acme");
    let target = Kc::with_file_store();
    let to = target.dir.to_str().unwrap();
    source.ok(&["store", "copy", "--to", to, "acme"]);
    let before = std::fs::read(target.record("acme")).unwrap();
    let out = source.run(&["store", "copy", "--to", to, "acme"]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("unchanged"), "{}", stderr(&out));
    assert_eq!(std::fs::read(target.record("acme")).unwrap(), before);

    target.ok(&["set", "acme", "--user", "someone-else"]);
    let out = source.run(&["store", "copy", "--to", to, "acme"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
}
