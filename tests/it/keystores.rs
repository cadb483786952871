//! The key stores against real components: the Secret Service (a private gnome-keyring, see
//! scripts/with-secret-service), the kernel keyring, and passphrase and plain identity files.

use crate::support;

use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use support::*;

/// A keychain whose identity is in the Secret Service; its entry is removed afterwards.
struct OsKc(Kc);

impl OsKc {
    fn new() -> Self {
        require_secret_service();
        let kc = Kc::new();
        kc.ok(&["init"]);
        OsKc(kc)
    }
}

impl Drop for OsKc {
    fn drop(&mut self) {
        let _ = keychain::keystore::os::delete_entry(&self.0.dir);
    }
}

#[test]
fn os_store_keeps_the_identity_in_the_secret_service() {
    let kc = OsKc::new();
    kc.0.add_account("acme");
    assert_eq!(
        kc.0.ok(&["show", "acme", "--reveal", "password"]),
        format!("{CANARY_PASSWORD}\n")
    );
    // The identity is in the Secret Service, not in the folder.
    for file in files_under(&kc.0.dir) {
        assert!(
            !contains(&std::fs::read(&file).unwrap(), "AGE-SECRET-KEY"),
            "{}",
            file.display()
        );
    }
    let folder = keychain::keystore::os::entry_user(&kc.0.dir);
    let out = std::process::Command::new("secret-tool")
        .args(["lookup", "service", "keychain", "username", &folder])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("AGE-SECRET-KEY-1"),
        "secret-tool found no entry for {folder}"
    );
}

#[test]
fn two_keychains_on_one_machine_have_separate_entries() {
    let a = OsKc::new();
    let b = OsKc::new();
    a.0.add_account("acme");
    b.0.add_account("acme");
    // Each opens its own record, and neither opens the other's.
    a.0.ok(&["show", "acme"]);
    std::fs::copy(a.0.record("acme"), b.0.record("acme")).unwrap();
    assert_exit(&b.0.run(&["show", "acme"]), 7);
}

#[test]
fn missing_entry_in_the_secret_service_says_so_and_exits_6() {
    let kc = OsKc::new();
    kc.0.add_account("acme");
    keychain::keystore::os::delete_entry(&kc.0.dir).unwrap();
    let out = kc.0.run(&["show", "acme"]);
    assert_exit(&out, 6);
    assert!(
        stderr(&out).contains("holds no identity for this keychain"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn secret_service_that_does_not_answer_fails_within_the_timeout() {
    require_secret_service();
    let kc = Kc::new();
    // A socket that accepts connections and never says a word: a hung bus or daemon.
    let socket = kc.tmp.path().join("hung-bus");
    let _listener = UnixListener::bind(&socket).unwrap();
    let start = Instant::now();
    let out = kc
        .cmd()
        .args(["init"])
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", socket.display()),
        )
        .env("KEYCHAIN_KEYRING_TIMEOUT", "1")
        .output()
        .unwrap();
    let waited = start.elapsed();
    assert_exit(&out, 6);
    assert!(
        stderr(&out).contains("did not answer within"),
        "{}",
        stderr(&out)
    );
    assert!(waited < Duration::from_secs(4), "took {waited:?}");
    assert!(
        !kc.dir.join("config.json").exists(),
        "a failed init left a configuration behind"
    );
}

#[test]
fn no_session_bus_is_a_clear_error() {
    let kc = Kc::new();
    let out = kc
        .cmd()
        .args(["init"])
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", kc.tmp.path())
        .output()
        .unwrap();
    assert_exit(&out, 6);
    assert!(
        stderr(&out).contains("no D-Bus session bus"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("--key-store passphrase"),
        "{}",
        stderr(&out)
    );
}

/// Adds an account with the canary password, opening the keychain with the passphrase file.
fn add_with_passphrase(kc: &Kc, name: &str, pass: &std::path::Path) {
    let pw = kc.file("pw.txt", CANARY_PASSWORD);
    let add = add_args(
        name,
        &["--password-file", pw.to_str().unwrap(), "--no-totp"],
    );
    assert_success(
        &kc.cmd()
            .args(&add)
            .env("KEYCHAIN_PASSPHRASE_FILE", pass)
            .output()
            .unwrap(),
        &add,
    );
}

/// `keychain unlock --for DURATION`, opening the keychain with the passphrase file.
fn unlock_with_passphrase(kc: &Kc, pass: &std::path::Path, duration: &str) {
    let args = ["unlock", "--for", duration];
    let out = kc
        .cmd()
        .args(args)
        .env("KEYCHAIN_PASSPHRASE_FILE", pass)
        .output()
        .unwrap();
    assert_success(&out, &args);
}

fn passphrase_kc() -> (Kc, std::path::PathBuf) {
    let kc = Kc::new();
    let pass = kc.file("pass.txt", "correct horse battery staple\n");
    let out = kc
        .cmd()
        .args(["init", "--key-store", "passphrase"])
        .env("KEYCHAIN_PASSPHRASE_FILE", &pass)
        .output()
        .unwrap();
    assert_success(&out, &["init", "--key-store", "passphrase"]);
    (kc, pass)
}

#[test]
fn passphrase_store_opens_with_the_passphrase_file_only() {
    let (kc, pass) = passphrase_kc();
    add_with_passphrase(&kc, "acme", &pass);
    let out = kc
        .cmd()
        .args(["show", "acme", "--reveal", "password"])
        .env("KEYCHAIN_PASSPHRASE_FILE", &pass)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{CANARY_PASSWORD}\n")
    );

    // Without it and without a terminal: locked, at once.
    let out = kc.run(&["show", "acme"]);
    assert_exit(&out, 6);
    assert!(
        stderr(&out).contains("KEYCHAIN_PASSPHRASE_FILE"),
        "{}",
        stderr(&out)
    );

    let wrong = kc.file("wrong.txt", "not it");
    let out = kc
        .cmd()
        .args(["show", "acme"])
        .env("KEYCHAIN_PASSPHRASE_FILE", &wrong)
        .output()
        .unwrap();
    assert_exit(&out, 6);
    assert!(
        stderr(&out).contains("wrong passphrase"),
        "{}",
        stderr(&out)
    );
    assert!(!contains(
        &std::fs::read(kc.dir.join("identity.age")).unwrap(),
        "AGE-SECRET-KEY"
    ));
}

#[test]
fn unlock_caches_the_identity_in_the_kernel_keyring_until_lock() {
    let (kc, pass) = passphrase_kc();
    add_with_passphrase(&kc, "acme", &pass);

    unlock_with_passphrase(&kc, &pass, "2m");
    // No passphrase now: the kernel keyring serves the identity.
    assert_eq!(
        kc.ok(&["show", "acme", "--reveal", "password"]),
        format!("{CANARY_PASSWORD}\n")
    );
    kc.ok(&["lock"]);
    assert_exit(&kc.run(&["show", "acme"]), 6);
}

#[test]
fn unlock_expires_after_its_duration() {
    let (kc, pass) = passphrase_kc();
    add_with_passphrase(&kc, "acme", &pass);
    unlock_with_passphrase(&kc, &pass, "1s");
    kc.ok(&["show", "acme"]);
    std::thread::sleep(Duration::from_millis(2100));
    assert_exit(&kc.run(&["show", "acme"]), 6);
}

#[test]
fn unlocked_identity_serves_processes_without_the_session_keyring_like_cron() {
    let (kc, pass) = passphrase_kc();
    add_with_passphrase(&kc, "acme", &pass);
    unlock_with_passphrase(&kc, &pass, "2m");
    // `keyctl session -` runs the command in a new anonymous session keyring that does not link
    // the user keyring, as under cron or a systemd service.
    let bin = assert_cmd::cargo::cargo_bin("keychain");
    let out = std::process::Command::new("keyctl")
        .args(["session", "-"])
        .arg(&bin)
        .args(["show", "acme", "--reveal", "password"])
        .env("KEYCHAIN_DIR", &kc.dir)
        .env_remove("KEYCHAIN_PASSPHRASE_FILE")
        .output()
        .expect("keyctl (package keyutils) is needed: run scripts/install-test-deps");
    assert_success(&out, &["keyctl session - keychain show"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{CANARY_PASSWORD}\n")
    );
    kc.ok(&["lock"]);
}

/// Runs `script` in a D-Bus session and gnome-keyring of its own (not the one the suite runs
/// in), so a test can lock it or leave it without a login collection. `$KC` is the binary.
fn in_own_secret_service(kc: &Kc, create_login: bool, script: &str) -> std::process::Output {
    require_secret_service();
    let data = kc.tmp.path().join("gk-data");
    let run = kc.tmp.path().join("gk-run");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&run).unwrap();
    std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let start = if create_login {
        "printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; "
    } else {
        ""
    };
    let full = format!(
        "{start}gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1; sleep 0.3; {script}"
    );
    std::process::Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &full])
        .env("XDG_DATA_HOME", &data)
        .env("XDG_RUNTIME_DIR", &run)
        .env("KEYCHAIN_DIR", &kc.dir)
        .env("KEYCHAIN_KEYRING_TIMEOUT", "4")
        .env("KC", assert_cmd::cargo::cargo_bin("keychain"))
        .output()
        .expect("dbus-run-session (package dbus) is needed: run scripts/install-test-deps")
}

#[test]
fn secret_service_without_a_login_collection_says_so() {
    let kc = Kc::new();
    let out = in_own_secret_service(&kc, false, "\"$KC\" init");
    assert_exit(&out, 6);
    assert!(
        stderr(&out).contains("no default ('login') collection"),
        "{}",
        stderr(&out)
    );
}

/// A read of a record with the collection locked: the early read of the identity (started
/// before the record is read) never unlocks; the ordinary load does, in its place, and says a
/// prompt is needed, exactly as for `add` below.
#[test]
fn locked_secret_service_stops_a_read_with_the_same_prompt_error() {
    let kc = Kc::new();
    let pw = kc.file("pw.txt", "pw");
    let script = format!(
        "\"$KC\" init >/dev/null 2>&1 || exit 99; \
         \"$KC\" add a --provider oidc --issuer https://x --client-id c --user u --password-file '{}' --no-totp --no-client-secret >/dev/null 2>&1 || exit 97; \
         dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
           org.freedesktop.Secret.Service.Lock array:objpath:/org/freedesktop/secrets/collection/login >/dev/null || exit 98; \
         \"$KC\" show a --reveal password",
        pw.display()
    );
    let out = in_own_secret_service(&kc, true, &script);
    assert_exit(&out, 6);
    assert!(stderr(&out).contains("unlock prompt"), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "nothing revealed: {:?}", out.stdout);
}

#[test]
fn locked_secret_service_says_it_needs_a_prompt() {
    let kc = Kc::new();
    let pw = kc.file("pw.txt", "pw");
    let script = format!(
        "\"$KC\" init >/dev/null 2>&1 || exit 99; \
         dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
           org.freedesktop.Secret.Service.Lock array:objpath:/org/freedesktop/secrets/collection/login >/dev/null || exit 98; \
         \"$KC\" add a --provider oidc --issuer https://x --client-id c --user u --password-file '{}' --no-totp --no-client-secret",
        pw.display()
    );
    let out = in_own_secret_service(&kc, true, &script);
    assert_exit(&out, 6);
    assert!(stderr(&out).contains("unlock prompt"), "{}", stderr(&out));
}
