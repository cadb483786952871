//! Issue 25, item 6: inputs that are not regular files. Every secret-bearing input (each `*-file`
//! flag, `KEYCHAIN_PASSPHRASE_FILE`, the systemd credential, an identity for `import`, the key
//! store's own identity, the configuration) given as a FIFO fails at once with a clear message,
//! never waits for a writer; a passphrase or identity file others can read is refused, a one-off
//! secret file others can read is used with a warning.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::*;

/// Runs `cmd`; a run that takes more than 30 s hung on its input (the fix answers in well under
/// a second), so the child is killed and the test fails saying so.
fn run_or_fail_on_hang(mut cmd: std::process::Command, what: &str) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            panic!("keychain hung on a FIFO given as {what}");
        }
    }
}

fn fifo(at: &Path) -> PathBuf {
    let made = std::process::Command::new("mkfifo")
        .arg(at)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    // Private, as a careful user's files are: what is refused is the type, not the mode.
    std::fs::set_permissions(at, std::fs::Permissions::from_mode(0o600)).unwrap();
    at.to_path_buf()
}

fn assert_refused_fast(out: &Output, what: &str) {
    assert!(!out.status.success(), "{what}: a FIFO was accepted");
    assert!(
        stderr(out).contains("not a regular file"),
        "{what}: {}",
        stderr(out)
    );
}

#[test]
fn every_secret_file_flag_refuses_a_fifo_at_once() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let trap = fifo(&kc.tmp.path().join("trap"));
    let trap = trap.to_str().unwrap();
    let totp = kc.file("totp.txt", TOTP_SECRET);
    let totp = totp.to_str().unwrap();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "--password-file",
            add_args("b", &["--password-file", trap, "--no-totp"]),
        ),
        (
            "--totp-file",
            add_args("c", &["--no-password", "--totp-file", trap]),
        ),
        (
            "--totp-check-file",
            add_args(
                "d",
                &[
                    "--no-password",
                    "--totp-file",
                    totp,
                    "--totp-check-file",
                    trap,
                ],
            ),
        ),
        (
            "--client-secret-file",
            add_args(
                "e",
                &["--no-password", "--no-totp", "--client-secret-file", trap],
            ),
        ),
        (
            "--refresh-token-file",
            vec!["set", "acme", "--refresh-token-file", trap],
        ),
        (
            "set --password-file",
            vec!["set", "acme", "--password-file", trap],
        ),
        (
            "--totp-qr",
            add_args("f", &["--no-password", "--totp-qr", trap]),
        ),
    ];
    for (what, args) in cases {
        let mut cmd = kc.std_cmd();
        cmd.args(&args);
        let out = run_or_fail_on_hang(cmd, what);
        assert_refused_fast(&out, what);
        if what != "--totp-qr" {
            assert_exit(&out, 2);
        }
    }
}

/// A passphrase keychain; its passphrase file is 0600.
fn passphrase_kc() -> (Kc, PathBuf) {
    let kc = Kc::new();
    let pass = kc.file("pass.txt", "correct horse battery staple\n");
    let out = kc
        .cmd()
        .args(["init", "--key-store", "passphrase"])
        .env("KEYCHAIN_PASSPHRASE_FILE", &pass)
        .output()
        .unwrap();
    assert_success(&out, &["init"]);
    let pw = kc.file("pw.txt", CANARY_PASSWORD);
    let add = add_args(
        "acme",
        &["--password-file", pw.to_str().unwrap(), "--no-totp"],
    );
    let out = kc
        .cmd()
        .args(&add)
        .env("KEYCHAIN_PASSPHRASE_FILE", &pass)
        .output()
        .unwrap();
    assert_success(&out, &add);
    (kc, pass)
}

#[test]
fn a_fifo_as_the_passphrase_file_or_systemd_credential_fails_at_once() {
    let (kc, _) = passphrase_kc();
    let trap = fifo(&kc.tmp.path().join("pass-trap"));
    for args in [
        vec!["show", "acme", "--reveal", "password"],
        vec!["totp", "acme"],
    ] {
        let mut cmd = kc.std_cmd();
        cmd.args(&args).env("KEYCHAIN_PASSPHRASE_FILE", &trap);
        let out = run_or_fail_on_hang(cmd, "KEYCHAIN_PASSPHRASE_FILE");
        assert_refused_fast(&out, "KEYCHAIN_PASSPHRASE_FILE");
        assert_exit(&out, 6);
    }

    // The flag that stands for the variable.
    let mut cmd = kc.std_cmd();
    cmd.args(["--passphrase-file", trap.to_str().unwrap(), "totp", "acme"]);
    let out = run_or_fail_on_hang(cmd, "--passphrase-file");
    assert_refused_fast(&out, "--passphrase-file");
    assert_exit(&out, 6);

    let creds = kc.tmp.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    fifo(&creds.join("keychain-passphrase"));
    let mut cmd = kc.std_cmd();
    cmd.args(["show", "acme", "--reveal", "password"])
        .env("CREDENTIALS_DIRECTORY", &creds);
    let out = run_or_fail_on_hang(cmd, "$CREDENTIALS_DIRECTORY/keychain-passphrase");
    assert_refused_fast(&out, "the systemd credential");
    assert_exit(&out, 6);
}

#[test]
fn a_passphrase_file_others_can_read_is_refused_and_a_private_one_works() {
    let (kc, pass) = passphrase_kc();
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = kc
        .cmd()
        .args(["show", "acme", "--reveal", "password"])
        .env("KEYCHAIN_PASSPHRASE_FILE", &pass)
        .output()
        .unwrap();
    assert_exit(&out, 6);
    assert!(
        stderr(&out).contains("mode 0644") && stderr(&out).contains("chmod 600"),
        "{}",
        stderr(&out)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(CANARY_PASSWORD));

    // Group-readable is refused too, as ssh refuses such a key.
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = kc
        .cmd()
        .args(["show", "acme", "--reveal", "password"])
        .env("KEYCHAIN_PASSPHRASE_FILE", &pass)
        .output()
        .unwrap();
    assert_exit(&out, 6);

    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o400)).unwrap();
    let out = kc
        .cmd()
        .args(["show", "acme", "--reveal", "password"])
        .env("KEYCHAIN_PASSPHRASE_FILE", &pass)
        .output()
        .unwrap();
    assert_success(&out, &["show"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{CANARY_PASSWORD}\n")
    );
}

#[test]
fn a_one_off_secret_file_others_can_read_is_used_with_a_warning() {
    let kc = Kc::with_file_store();
    let pw = kc.file("pw.txt", CANARY_PASSWORD);
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = add_args(
        "acme",
        &["--password-file", pw.to_str().unwrap(), "--no-totp"],
    );
    let out = kc.run(&args);
    assert_success(&out, &args);
    let err = stderr(&out);
    assert!(
        err.contains("warning") && err.contains("mode 0644") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(!err.contains(CANARY_PASSWORD));

    // A private one says nothing.
    let pw = kc.file("pw2.txt", CANARY_PASSWORD);
    let args = add_args("b", &["--password-file", pw.to_str().unwrap(), "--no-totp"]);
    let out = kc.run(&args);
    assert_success(&out, &args);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn an_import_identity_that_is_a_fifo_or_readable_by_others_is_refused() {
    let source = Kc::with_file_store();
    source.add_account("acme");
    let officer = Kc::with_file_store();
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(officer.dir.join("config.json")).unwrap()).unwrap();
    let recipient = config["recipient"].as_str().unwrap();
    let backup = source.tmp.path().join("backup.age");
    source.ok(&["export", "--recipient", recipient, backup.to_str().unwrap()]);

    let trap = fifo(&officer.tmp.path().join("id-trap"));
    let mut cmd = officer.std_cmd();
    cmd.args([
        "import",
        backup.to_str().unwrap(),
        "--identity",
        trap.to_str().unwrap(),
    ]);
    let out = run_or_fail_on_hang(cmd, "import --identity");
    assert_refused_fast(&out, "import --identity");

    let identity = officer.tmp.path().join("id.txt");
    std::fs::copy(officer.dir.join("identity.txt"), &identity).unwrap();
    std::fs::set_permissions(&identity, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = [
        "import",
        backup.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
    ];
    let out = officer.run(&args);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    std::fs::set_permissions(&identity, std::fs::Permissions::from_mode(0o600)).unwrap();
    officer.ok(&args);
}

#[test]
fn the_key_store_identity_or_the_configuration_as_a_fifo_fails_at_once() {
    for name in ["identity.txt", "config.json"] {
        let kc = Kc::with_file_store();
        kc.add_account("acme");
        std::fs::remove_file(kc.dir.join(name)).unwrap();
        fifo(&kc.dir.join(name));
        let mut cmd = kc.std_cmd();
        cmd.args(["show", "acme", "--reveal", "password"]);
        let out = run_or_fail_on_hang(cmd, name);
        assert_refused_fast(&out, name);
    }

    // The passphrase store's encrypted identity too.
    let (kc, pass) = passphrase_kc();
    std::fs::remove_file(kc.dir.join("identity.age")).unwrap();
    fifo(&kc.dir.join("identity.age"));
    let mut cmd = kc.std_cmd();
    cmd.args(["show", "acme", "--reveal", "password"])
        .env("KEYCHAIN_PASSPHRASE_FILE", &pass);
    let out = run_or_fail_on_hang(cmd, "identity.age");
    assert_refused_fast(&out, "identity.age");
}
