//! A failed `keychain init` leaves nothing behind and says what to do (issue 23, point 9): on a
//! server (no D-Bus session, or one that does not answer) the desktop's `keychain init` stops
//! before anything exists, and names the server way.

use crate::support;

use support::*;

/// Each way a machine lacks the desktop's Secret Service: no session bus at all, a bus address
/// that leads nowhere, a bus without a Secret Service on it.
#[test]
fn init_without_a_secret_service_leaves_no_folder_and_names_the_server_way() {
    let tmp = tempfile::tempdir().unwrap();
    // A bus with no Secret Service on it: a private dbus-daemon, when the machine has one.
    let daemon = std::process::Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok();
    let mut buses: Vec<Option<String>> = vec![None, Some("unix:path=/nonexistent".into())];
    let mut daemon = daemon;
    if let Some(d) = daemon.as_mut() {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(d.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        buses.push(Some(line.trim().to_string()));
    }
    for (i, bus) in buses.iter().enumerate() {
        let dir = tmp.path().join(format!("new-{i}/keychain"));
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("keychain"));
        cmd.args(["init"])
            .env("KEYCHAIN_DIR", &dir)
            .env("KEYCHAIN_KEYRING_TIMEOUT", "3")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(std::process::Stdio::null());
        if let Some(bus) = bus {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", bus);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_exit(&out, 6);
        assert!(
            stderr.contains("--key-store passphrase") && stderr.contains("nothing was created"),
            "{bus:?}: {stderr}"
        );
        assert!(
            !tmp.path().join(format!("new-{i}")).exists(),
            "{bus:?}: a failed init left a folder"
        );
        // The way it names works on that machine, in the same folder.
        let pass = tmp.path().join("passphrase");
        std::fs::write(&pass, "server passphrase\n").unwrap();
        std::fs::set_permissions(&pass, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let mut again = std::process::Command::new(assert_cmd::cargo::cargo_bin("keychain"));
        again
            .args(["init", "--key-store", "passphrase"])
            .env("KEYCHAIN_DIR", &dir)
            .env("KEYCHAIN_PASSPHRASE_FILE", &pass)
            .env("KEYCHAIN_SCRYPT_WORK_FACTOR", "10")
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
        assert_success(
            &again.output().unwrap(),
            &["init", "--key-store", "passphrase"],
        );
    }
    if let Some(mut d) = daemon {
        let _ = d.kill();
        let _ = d.wait();
    }
}

/// JSON callers get the same advice in the error object.
#[test]
fn init_without_dbus_says_so_in_json_too() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kc");
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("keychain"))
        .args(["--json", "init"])
        .env("KEYCHAIN_DIR", &dir)
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .output()
        .unwrap();
    assert_exit(&out, 6);
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["code"], "key-store");
    assert!(
        error["hint"]
            .as_str()
            .unwrap()
            .contains("--key-store passphrase"),
        "{error}"
    );
    assert!(!dir.exists());
}

/// A failure after the identity went into the Secret Service (here: a folder where the audit log
/// goes) takes the entry back too, with the files: once the cause is gone, `init` in the same
/// folder works. (Before, the folder held a config.json and the Secret Service an entry, and
/// every `init` again was refused.)
#[test]
fn init_that_fails_after_saving_the_identity_can_simply_be_run_again() {
    require_secret_service();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kc");
    std::fs::create_dir(&dir).unwrap();
    let blocker = dir.join("audit.log");
    std::fs::create_dir(&blocker).unwrap();
    let init = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("keychain"))
            .arg("init")
            .env("KEYCHAIN_DIR", &dir)
            .output()
            .unwrap()
    };
    let out = init();
    assert!(!out.status.success(), "init over a folder named audit.log");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["audit.log"], "a failed init left files behind");
    std::fs::remove_dir(&blocker).unwrap();
    let out = init();
    assert_success(&out, &["init"]);
    let _ = keychain::keystore::os::delete_entry(&dir);
}

/// A person who stops at the passphrase prompt (Ctrl-C on the terminal) leaves nothing behind:
/// the passphrase is asked before anything is created. (Before, the folder was made first and
/// stayed, empty, when the prompt was interrupted.)
#[test]
fn ctrl_c_at_the_passphrase_prompt_leaves_no_folder() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new/keychain");
    let mut child = std::process::Command::new("script")
        .args([
            "-qec",
            &format!(
                "{} init --key-store passphrase",
                assert_cmd::cargo::cargo_bin("keychain").display()
            ),
            "/dev/null",
        ])
        .env("KEYCHAIN_DIR", &dir)
        .env_remove("KEYCHAIN_PASSPHRASE_FILE")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("util-linux 'script' is needed: run scripts/install-test-deps");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut screen = Vec::new();
    while !String::from_utf8_lossy(&screen).contains("Passphrase for the new keychain") {
        match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(bytes) => screen.extend(bytes),
            Err(e) => panic!(
                "no passphrase prompt ({e}): {}",
                String::from_utf8_lossy(&screen)
            ),
        }
    }
    let mut stdin = child.stdin.take().unwrap();
    // Ctrl-C, typed at the terminal: the line discipline sends SIGINT to keychain.
    stdin.write_all(b"\x03").unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        !tmp.path().join("new").exists(),
        "Ctrl-C at the prompt left a folder"
    );
}
