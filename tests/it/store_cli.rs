//! What users see of the account store, driven through the real binary on real files.

use crate::support;

use std::os::unix::fs::PermissionsExt;

use sha2::{Digest, Sha256};
use support::*;

#[test]
fn add_list_show_and_reveal_round_trip() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let list = kc.ok(&["list"]);
    assert!(
        list.contains("acme") && list.contains("oidc") && list.contains("dwho"),
        "{list}"
    );
    assert!(
        list.contains("password(") && list.contains("totp-secret("),
        "{list}"
    );
    let show = kc.ok(&["show", "acme"]);
    assert!(show.contains("http://127.0.0.1:9"), "{show}");
    assert_eq!(
        kc.ok(&["show", "acme", "--reveal", "password"]),
        format!("{CANARY_PASSWORD}\n")
    );
    assert_eq!(
        kc.ok(&["show", "acme", "--reveal", "totp-secret"]),
        format!("{TOTP_SECRET}\n")
    );
}

#[test]
fn list_show_and_json_never_print_a_secret() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    for args in [
        &["list"][..],
        &["list", "--json"],
        &["show", "acme"],
        &["show", "acme", "--json"],
    ] {
        let out = kc.run(args);
        assert_success(&out, args);
        for secret in [CANARY_PASSWORD, TOTP_SECRET] {
            assert!(
                !contains(&out.stdout, secret) && !contains(&out.stderr, secret),
                "{args:?} printed a secret"
            );
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&kc.ok(&["show", "acme", "--json"])).unwrap();
    let shown = json["fingerprints"]["password"].as_str().unwrap();
    assert!(shown.starts_with("fp:") && shown.len() == 9, "{shown}");
}

#[test]
fn record_files_hold_no_plaintext_secret() {
    let kc = Kc::with_file_store();
    let canaries = ["cs-canary-41d2e", "rt-canary-99ab0"];
    kc.file("cs.txt", canaries[0]);
    kc.file("rt.txt", canaries[1]);
    kc.add_account("acme");
    kc.ok(&[
        "set",
        "acme",
        "--client-secret-file",
        kc.tmp.path().join("cs.txt").to_str().unwrap(),
    ]);
    kc.ok(&[
        "set",
        "acme",
        "--refresh-token-file",
        kc.tmp.path().join("rt.txt").to_str().unwrap(),
    ]);
    assert_eq!(
        kc.ok(&["show", "acme", "--reveal", "refresh-token"]),
        format!("{}\n", canaries[1])
    );
    for file in files_under(&kc.dir) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in [CANARY_PASSWORD, TOTP_SECRET, canaries[0], canaries[1]] {
            assert!(
                !contains(&bytes, secret),
                "{} holds a plaintext secret",
                file.display()
            );
        }
    }
}

#[test]
fn secret_from_stdin_never_appears_in_files_or_messages() {
    let kc = Kc::with_file_store();
    let secret = "stdin-canary-5e1f0";
    let args = add_args("acme", &["--password-file", "-", "--no-totp"]);
    let out = kc.run_stdin(&args, &format!("{secret}\n"));
    assert_success(&out, &args);
    let mut seen = vec![out.stdout, out.stderr];
    // Errors about the account must not quote it either (the same account added again is
    // unchanged and succeeds: another scope makes it a refused one).
    for args in [
        &add_args("acme", &["--password-file", "-", "--scope", "other"])[..],
        &["show", "acme", "--reveal", "client-secret"],
        &["show", "nope"],
    ] {
        let out = kc.run_stdin(args, secret);
        assert!(!out.status.success());
        seen.push(out.stdout);
        seen.push(out.stderr);
    }
    for bytes in seen {
        assert!(!contains(&bytes, secret));
    }
    for file in files_under(&kc.dir) {
        assert!(
            !contains(&std::fs::read(&file).unwrap(), secret),
            "{}",
            file.display()
        );
    }
}

#[test]
fn wrong_key_exits_7_and_leaves_the_record_unchanged() {
    let a = Kc::with_file_store();
    let b = Kc::with_file_store();
    a.add_account("acme");
    b.add_account("acme");
    std::fs::copy(a.record("acme"), b.record("acme")).unwrap();
    let before = Sha256::digest(std::fs::read(b.record("acme")).unwrap());
    for args in [
        &["show", "acme", "--reveal", "password"][..],
        &["totp", "acme"],
        &["set", "acme", "--user", "x"],
    ] {
        let out = b.run(args);
        assert_exit(&out, 7);
        assert!(out.stdout.is_empty(), "{args:?} printed something");
        assert!(
            stderr(&out).contains("not encrypted to this keychain's key"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(
        Sha256::digest(std::fs::read(b.record("acme")).unwrap()),
        before
    );
}

#[test]
fn truncated_or_bit_flipped_record_exits_7_without_panic_or_output() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let good = std::fs::read(kc.record("acme")).unwrap();
    let mut damaged: Vec<Vec<u8>> = [0, 10, good.len() / 2, good.len() - 1]
        .iter()
        .map(|&n| good[..n].to_vec())
        .collect();
    for at in [5, 40, good.len() - 200, good.len() - 20] {
        let mut flipped = good.clone();
        flipped[at] ^= 0x40;
        damaged.push(flipped);
    }
    for bytes in damaged {
        std::fs::write(kc.record("acme"), &bytes).unwrap();
        let out = kc.run(&["show", "acme", "--reveal", "password"]);
        assert_exit(&out, 7);
        assert!(out.stdout.is_empty());
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
        assert_eq!(
            std::fs::read(kc.record("acme")).unwrap(),
            bytes,
            "a damaged record was rewritten"
        );
    }
}

#[test]
fn swapped_record_files_are_detected() {
    let kc = Kc::with_file_store();
    kc.add_account("alice");
    kc.add_account("bob");
    std::fs::copy(kc.record("bob"), kc.record("alice")).unwrap();
    let out = kc.run(&["show", "alice", "--reveal", "password"]);
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("belongs to account 'bob'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn files_are_0600_in_0700_folders_even_under_umask_000() {
    let kc = Kc::new();
    let bin = assert_cmd::cargo::cargo_bin("keychain");
    let pw = kc.file("pw.txt", "pw");
    let script = format!(
        "umask 000; '{bin}' init --key-store file && '{bin}' add a --provider oidc --issuer https://x --client-id c --user u --password-file '{pw}' --no-totp --no-client-secret",
        bin = bin.display(),
        pw = pw.display()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("KEYCHAIN_DIR", &kc.dir)
        .output()
        .unwrap();
    assert_success(&out, &["sh"]);
    let mut checked = 0;
    let mut stack = vec![kc.dir.clone()];
    while let Some(dir) = stack.pop() {
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700,
            "{}",
            dir.display()
        );
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            checked += 1;
            if path.is_dir() {
                stack.push(path);
            } else {
                assert_eq!(
                    std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                    0o600,
                    "{}",
                    path.display()
                );
            }
        }
    }
    assert!(
        checked >= 5,
        "expected config, identity, record, lock and folders; saw {checked}"
    );
}

#[test]
fn existing_account_is_not_overwritten_without_replace() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let before = std::fs::read(kc.record("acme")).unwrap();
    let pw = kc.file("pw2.txt", "other");
    let args = add_args(
        "acme",
        &["--password-file", pw.to_str().unwrap(), "--no-totp"],
    );
    let out = kc.run(&args);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--replace"));
    assert_eq!(std::fs::read(kc.record("acme")).unwrap(), before);
    let mut replace = args.to_vec();
    replace.push("--replace");
    kc.ok(&replace);
    assert_eq!(kc.ok(&["show", "acme", "--reveal", "password"]), "other\n");
}

#[test]
fn missing_secret_without_a_terminal_fails_at_once() {
    let kc = Kc::with_file_store();
    let start = std::time::Instant::now();
    let out = kc.run(&add_args("acme", &[]));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--password-file"), "{}", stderr(&out));
    assert!(start.elapsed().as_secs() < 5);
    assert!(kc.run(&["show", "acme"]).status.code() == Some(3));
}

#[test]
fn only_one_secret_may_come_from_stdin() {
    let kc = Kc::with_file_store();
    let out = kc.run_stdin(
        &add_args("acme", &["--password-file", "-", "--totp-file", "-"]),
        "x",
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("standard input"));
}

#[test]
fn unknown_account_exits_3_and_bad_names_exit_2() {
    let kc = Kc::with_file_store();
    assert_exit(&kc.run(&["show", "nobody"]), 3);
    assert_exit(&kc.run(&["rm", "nobody"]), 3);
    assert_exit(&kc.run(&["show", "../etc"]), 2);
}

#[test]
fn provider_settings_are_checked() {
    let kc = Kc::with_file_store();
    let pw = kc.file("pw.txt", "pw");
    let pw = pw.to_str().unwrap();
    let base = [
        "add",
        "--no-client-secret",
        "a",
        "--user",
        "u",
        "--password-file",
        pw,
        "--no-totp",
    ];
    for (extra, needle) in [
        (&["--provider", "oidc", "--client-id", "c"][..], "--issuer"),
        (
            &["--provider", "oauth2", "--client-id", "c"],
            "--authorize-url",
        ),
        (
            &[
                "--provider",
                "oidc",
                "--issuer",
                "ftp://x",
                "--client-id",
                "c",
            ],
            "not an http(s) URL",
        ),
        (
            &["--provider", "oidc", "--issuer", "https://x"],
            "--client-id",
        ),
        (
            &[
                "--provider",
                "exact-nl",
                "--issuer",
                "https://x",
                "--client-id",
                "c",
            ],
            "built in",
        ),
        (
            &["--provider", "nonsense", "--client-id", "c"],
            "invalid value",
        ),
    ] {
        let out = kc.run(&[&base[..], extra].concat());
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(needle), "{extra:?}: {}", stderr(&out));
    }
    kc.ok(&[
        &base[..],
        &[
            "--provider",
            "exact-nl",
            "--client-id",
            "c",
            "--redirect-uri",
            "https://example.com/cb",
        ],
    ]
    .concat());
}

#[test]
fn set_changes_fields_and_clear_removes_a_secret() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.ok(&[
        "set",
        "acme",
        "--user",
        "rtyler",
        "--scope",
        "openid offline_access",
    ]);
    let json: serde_json::Value =
        serde_json::from_str(&kc.ok(&["show", "acme", "--json"])).unwrap();
    assert_eq!(json["user"], "rtyler");
    assert_eq!(json["provider"]["scope"], "openid offline_access");
    kc.ok(&["set", "acme", "--clear", "totp-secret"]);
    assert_exit(&kc.run(&["totp", "acme"]), 2);
    assert!(!kc.ok(&["list"]).contains("totp-secret"));
}

#[test]
fn rm_removes_the_account() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.ok(&["rm", "-f", "acme"]);
    assert!(!kc.record("acme").exists());
    assert_exit(&kc.run(&["show", "acme"]), 3);
}

#[test]
fn init_refuses_an_existing_keychain_and_a_bad_recipient() {
    let kc = Kc::with_file_store();
    assert_exit(&kc.run(&["init", "--key-store", "file"]), 2);
    let other = Kc::new();
    let out = other.run(&["init", "--key-store", "file", "--recipient", "age1notakey"]);
    assert_exit(&out, 2);
    assert!(!other.dir.join("config.json").exists());
}

#[test]
fn escrow_recipient_can_open_every_record() {
    let escrow = age::x25519::Identity::generate();
    let kc = Kc::new();
    kc.ok(&[
        "init",
        "--key-store",
        "file",
        "--recipient",
        &escrow.to_public().to_string(),
    ]);
    kc.add_account("acme");
    let bytes = std::fs::read(kc.record("acme")).unwrap();
    let account =
        keychain::record::open(&bytes, "acme", &escrow).expect("escrow key opens the record");
    use secrecy::ExposeSecret;
    assert_eq!(
        account
            .secret(keychain::record::SecretField::Password)
            .unwrap()
            .expose_secret(),
        CANARY_PASSWORD
    );
}

#[test]
fn identity_file_readable_by_others_is_refused() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    std::fs::set_permissions(
        kc.dir.join("identity.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = kc.run(&["show", "acme"]);
    assert_exit(&out, 6);
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
}

#[test]
fn completions_and_version_work_and_survive_a_closed_pipe() {
    let kc = Kc::new();
    assert!(kc.ok(&["completions", "bash"]).contains("keychain"));
    assert!(kc.ok(&["--version"]).starts_with("keychain "));
    let bin = assert_cmd::cargo::cargo_bin("keychain");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' completions zsh | head -c 10 >/dev/null",
            bin.display()
        ))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn help_documents_the_exit_codes() {
    let out = Kc::new().ok(&["--help"]);
    for code in [
        "3  account not found",
        "6  keychain locked",
        "7  data integrity",
    ] {
        assert!(out.contains(code), "{out}");
    }
}
