//! Issue 23 point 2 and the output half of point 7: `-` is standard output for every output
//! file argument and standard input for every input file argument (as `age -o -`, `tar -f -`),
//! never a file named `-`; one stream feeds one input at most; and every command that writes a
//! file follows one rule (refused if it exists unless `--force`, written atomically with mode
//! 0600). Table-driven over every such argument.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::*;

fn recipient_of(kc: &Kc) -> String {
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(kc.dir.join("config.json")).unwrap()).unwrap();
    config["recipient"].as_str().unwrap().to_string()
}

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

/// Runs `keychain ARGS` in the test's folder with `stdin`, so a file named `-` would land
/// there.
fn run_in(kc: &Kc, args: &[&str], stdin: &[u8]) -> std::process::Output {
    kc.cmd()
        .current_dir(kc.tmp.path())
        .args(args)
        .write_stdin(stdin.to_vec())
        .output()
        .unwrap()
}

fn no_file_named_dash(kc: &Kc, args: &[&str]) {
    assert!(
        !kc.tmp.path().join("-").exists(),
        "keychain {args:?} wrote a file named '-'"
    );
}

#[test]
fn dash_is_standard_output_for_every_output_file_argument() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let recipient = recipient_of(&kc);
    let template = kc.file("t.tpl", "user={{ keychain://acme/user }}\n");
    // (the command line, what standard output must start with)
    let cases: Vec<(Vec<&str>, &[u8])> = vec![
        (
            vec!["export", "--recipient", &recipient, "-"],
            b"age-encryption.org/v1",
        ),
        (
            vec!["audit", "--fail-on", "critical", "--html", "-"],
            b"<!DOCTYPE html>",
        ),
        (
            vec!["inject", template.to_str().unwrap(), "-o", "-"],
            b"user=dwho",
        ),
    ];
    for (args, starts) in cases {
        let out = run_in(&kc, &args, b"");
        assert_success(&out, &args);
        assert!(
            out.stdout.starts_with(starts),
            "keychain {args:?} wrote to standard output: {:?}",
            String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(80)])
        );
        no_file_named_dash(&kc, &args);
    }
}

#[test]
fn an_export_to_standard_output_is_restored_from_standard_input_as_its_advice_says() {
    let source = Kc::with_file_store();
    source.add_account("acme");
    let officer = Kc::with_file_store();
    let identity = officer.dir.join("identity.txt");
    let out = run_in(
        &source,
        &["export", "--recipient", &recipient_of(&officer), "-"],
        b"",
    );
    assert_success(&out, &["export", "-"]);
    // The advice names the stream, and works as written.
    assert!(
        stderr(&out).contains("'keychain import - --identity FILE'"),
        "{}",
        stderr(&out)
    );
    let target = Kc::with_file_store();
    let args = ["import", "-", "--identity", identity.to_str().unwrap()];
    let restored = run_in(&target, &args, &out.stdout);
    assert_success(&restored, &args);
    assert!(target.record("acme").exists());
    no_file_named_dash(&target, &args);

    // The identity from standard input, the export from a file.
    let backup = source.tmp.path().join("backup.age");
    std::fs::write(&backup, &out.stdout).unwrap();
    let again = Kc::with_file_store();
    let args = ["import", backup.to_str().unwrap(), "--identity", "-"];
    let key = std::fs::read(&identity).unwrap();
    assert_success(&run_in(&again, &args, &key), &args);
    assert!(again.record("acme").exists());
}

#[test]
fn dash_is_standard_input_for_every_input_file_argument() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let settings = std::fs::read(data("settings/settings-test.xml")).unwrap();
    let qr = std::fs::read(data("totp/qr-otpauth.png")).unwrap();
    let seen = kc.tmp.path().join("seen.txt");
    let script = format!("printf %s \"$U\" > '{}'", seen.display());
    // (the command line, its standard input, what must then hold)
    type Check = Box<dyn Fn(&Kc, &std::process::Output)>;
    let cases: Vec<(Vec<&str>, Vec<u8>, Check)> = vec![
        (
            vec!["import", "-"],
            settings.clone(),
            Box::new(|kc, _| assert!(kc.record("exact-online-nl-eol").exists())),
        ),
        (
            vec!["scan", "-"],
            settings.clone(),
            Box::new(|_, out| {
                assert_exit(out, 1);
                assert!(
                    String::from_utf8_lossy(&out.stdout).contains("standard input:"),
                    "{}",
                    String::from_utf8_lossy(&out.stdout)
                );
            }),
        ),
        (
            add_args("p1", &["--password-file", "-", "--no-totp"]),
            b"pw-from-stdin\n".to_vec(),
            Box::new(|kc, _| {
                assert_eq!(
                    kc.ok(&["show", "p1", "--reveal", "password"]),
                    "pw-from-stdin\n"
                )
            }),
        ),
        (
            add_args("q1", &["--no-password", "--totp-qr", "-"]),
            qr,
            Box::new(|kc, _| assert!(kc.record("q1").exists())),
        ),
        (
            vec!["set", "acme", "--totp-file", "-"],
            b"GEZDGNBVGY3TQOJQ\n".to_vec(),
            Box::new(|kc, _| {
                assert_eq!(
                    kc.ok(&["show", "acme", "--reveal", "totp-secret"]),
                    "GEZDGNBVGY3TQOJQ\n"
                )
            }),
        ),
        (
            vec!["inject", "-", "-o", "-"],
            b"u={{ keychain://acme/user }}".to_vec(),
            Box::new(|_, out| assert_eq!(out.stdout, b"u=dwho")),
        ),
        (
            vec!["exec", "--env-file", "-", "--", "sh", "-c", &script],
            b"U=keychain://acme/user\n".to_vec(),
            Box::new(move |_, _| assert_eq!(std::fs::read_to_string(&seen).unwrap(), "dwho")),
        ),
    ];
    for (args, stdin, check) in cases {
        let out = run_in(&kc, &args, &stdin);
        if args[0] != "scan" {
            assert_success(&out, &args);
        }
        check(&kc, &out);
        no_file_named_dash(&kc, &args);
    }
}

#[test]
fn one_stream_feeds_one_input_and_a_stream_is_never_stripped() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            vec!["import", "-", "--identity", "-"],
            &["FILE", "--identity"],
        ),
        (
            add_args("two", &["--password-file", "-", "--totp-file", "-"]),
            &["--password-file", "--totp-file"],
        ),
        (
            add_args("qr", &["--password-file", "-", "--totp-qr", "-"]),
            &["--password-file", "--totp-qr"],
        ),
        (vec!["scan", "-", "-"], &["PATH"]),
        (
            vec!["exec", "--env-file", "-", "--env-file", "-", "--", "true"],
            &["--env-file"],
        ),
        (vec!["import", "-", "--strip"], &["--strip"]),
    ];
    for (args, named) in cases {
        let out = run_in(&kc, &args, b"x\n");
        assert_exit(&out, 2);
        for flag in named {
            assert!(
                stderr(&out).contains(flag),
                "keychain {args:?} does not name {flag}: {}",
                stderr(&out)
            );
        }
        no_file_named_dash(&kc, &args);
    }
}

#[test]
fn an_output_to_standard_output_does_not_share_it_with_json() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let recipient = recipient_of(&kc);
    for args in [
        vec!["export", "--recipient", &recipient, "-", "--json"],
        vec!["audit", "--html", "-", "--json"],
    ] {
        let out = run_in(&kc, &args, b"");
        assert_exit(&out, 2);
        // Refused before anything is written, saying why (the document and the stream would
        // be mixed on standard output).
        assert!(
            stderr(&out).contains("standard output") || stderr(&out).contains("no JSON form"),
            "{}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty() || out.stdout.starts_with(b"{"));
    }
}

/// The one rule for output files: every command that writes one refuses a file (or a link,
/// even dangling) that exists unless --force, leaves it untouched then, and writes 0600
/// atomically with --force.
#[test]
fn every_output_file_is_refused_if_it_exists_unless_force_and_written_0600() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let recipient = recipient_of(&kc);
    let template = kc.file("t.tpl", "user={{ keychain://acme/user }}\n");
    let target = kc.tmp.path().join("out.file");
    let t = target.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["export", "--recipient", &recipient, t],
        vec!["audit", "--fail-on", "critical", "--html", t],
        vec!["inject", template.to_str().unwrap(), "-o", t],
    ];
    for args in cases {
        std::fs::write(&target, "keep me\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = kc.run(&args);
        assert_exit(&out, 2);
        assert!(stderr(&out).contains("exists already"), "{}", stderr(&out));
        assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");

        let mut forced = args.clone();
        forced.push("--force");
        kc.ok(&forced);
        assert_ne!(std::fs::read(&target).unwrap(), b"keep me\n");
        assert_eq!(
            std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o600,
            "keychain {forced:?}"
        );
        std::fs::remove_file(&target).unwrap();
        // A fresh name needs no --force.
        kc.ok(&args);
        std::fs::remove_file(&target).unwrap();
    }
}

/// A file keychain reads again later (kept in the configuration, or read whenever the key is
/// needed) cannot be a stream: `-` is refused clearly there, never taken for a file named `-`.
#[test]
fn dash_is_refused_where_the_file_is_read_again_later() {
    let kc = Kc::with_file_store();
    let fresh = Kc::new();
    let cases: Vec<(&Kc, Vec<&str>, &str)> = vec![
        (
            &kc,
            vec!["--passphrase-file", "-", "list"],
            "--passphrase-file",
        ),
        (
            &fresh,
            vec![
                "init",
                "--store",
                "openbao",
                "--addr",
                "http://127.0.0.1:9",
                "--mount",
                "kv",
                "--path",
                "kc",
                "--token-file",
                "-",
            ],
            "--token-file",
        ),
        (
            &fresh,
            vec![
                "init",
                "--store",
                "openbao",
                "--addr",
                "http://127.0.0.1:9",
                "--mount",
                "kv",
                "--path",
                "kc",
                "--role-id-file",
                "-",
                "--secret-id-file",
                "s",
            ],
            "--role-id-file",
        ),
    ];
    for (kc, args, flag) in cases {
        let out = run_in(kc, &args, b"x\n");
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(flag), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("standard input"),
            "{args:?}: {}",
            stderr(&out)
        );
        no_file_named_dash(kc, &args);
    }
}
