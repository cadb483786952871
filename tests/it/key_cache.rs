//! The server set-up's fast paths (issue 19 item 1), pinned without timing: a job with a
//! passphrase file derives the key once into the kernel keyring, however many start together;
//! a wrong passphrase is never cached and never tried twice; a changed passphrase, a rotated
//! identity or a removed passphrase file stops the cache; a systemd service given the identity
//! as an encrypted credential (made and opened with the real `systemd-creds`) runs no KDF.
//!
//! A derivation is counted by what it leaves behind: every scrypt run for a passphrase file is
//! an `unlock` event ("unlock from passphrase file") in the audit log, and a successful one a
//! key `keychain-derived:...` in the user keyring (read here with `keyctl`).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::login::Exact;
use support::*;

const PASSPHRASE: &str = "correct horse battery staple";

/// A passphrase keychain with one account (`acme`, the canary password) and its passphrase
/// file, opened with that file.
fn passphrase_kc() -> (Kc, PathBuf) {
    let kc = Kc::new();
    let pass = kc.file("pass.txt", &format!("{PASSPHRASE}\n"));
    let pw = kc.file("pw.txt", &format!("{CANARY_PASSWORD}\n"));
    for args in [
        vec!["init", "--key-store", "passphrase"],
        add_args(
            "acme",
            &["--password-file", pw.to_str().unwrap(), "--no-totp"],
        ),
    ] {
        let out = with_pass(&kc, &pass).args(&args).output().unwrap();
        assert_success(&out, &args);
    }
    (kc, pass)
}

/// A keychain command with `KEYCHAIN_PASSPHRASE_FILE`.
fn with_pass(kc: &Kc, pass: &Path) -> std::process::Command {
    let mut cmd = kc.std_cmd();
    cmd.env("KEYCHAIN_PASSPHRASE_FILE", pass);
    cmd
}

/// The derivations the audit log recorded: (succeeded, refused or failed).
fn derivations(kc: &Kc) -> (usize, usize) {
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    let mut ok = 0;
    let mut failed = 0;
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["command"] == "unlock from passphrase file" {
            assert_eq!(v["action"], "unlock", "{line}");
            if v["outcome"] == "ok" {
                ok += 1;
            } else {
                failed += 1;
            }
        }
    }
    (ok, failed)
}

/// The payload of this keychain's derived key in the user keyring, if there is one.
fn derived_key(kc: &Kc) -> Option<String> {
    let description = keychain::keystore::derived::description(&kc.dir);
    let out = std::process::Command::new("keyctl")
        .args(["search", "@u", "user", &description])
        .output()
        .expect("keyctl (package keyutils) is needed: run scripts/install-test-deps");
    if !out.status.success() {
        return None;
    }
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let out = std::process::Command::new("keyctl")
        .args(["pipe", &id])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn assert_all(outs: &[Output], code: i32, needle: &str) {
    for out in outs {
        assert_exit(out, code);
        let text = if code == 0 {
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            stderr(out)
        };
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[test]
fn thirty_two_simultaneous_logins_on_a_fresh_passphrase_file_keychain_derive_the_key_once() {
    let exact = Exact::start(Default::default());
    let (kc, pass) = passphrase_kc();
    // The account and its first token (a headless logon), then a fresh cache: `lock` drops it.
    let pw = kc.file("exact.pw", &format!("{}\n", exact.config.password));
    let totp = kc.file("exact.totp", &exact.totp_text());
    let cs = kc.file("exact.cs", &exact.config.client_secret);
    let add = [
        "add",
        "erp",
        "--provider",
        "exact-nl",
        "--authorize-url",
        &exact.url("api/oauth2/auth"),
        "--token-url",
        &exact.url("api/oauth2/token"),
        "--client-id",
        &exact.config.client_id,
        "--redirect-uri",
        support::login::REDIRECT_URI,
        "--user",
        &exact.config.user,
        "--password-file",
        pw.to_str().unwrap(),
        "--totp-file",
        totp.to_str().unwrap(),
        "--client-secret-file",
        cs.to_str().unwrap(),
    ];
    assert_success(&with_pass(&kc, &pass).args(add).output().unwrap(), &add);
    let first = exact
        .std_cmd(&kc)
        .env("KEYCHAIN_PASSPHRASE_FILE", &pass)
        .args(["login", "erp"])
        .output()
        .unwrap();
    assert_success(&first, &["login", "erp"]);
    let token = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(derived_key(&kc).is_some(), "the first call cached the key");
    kc.ok(&["lock"]);
    assert!(derived_key(&kc).is_none(), "lock drops the derived key too");
    let (before, _) = derivations(&kc);
    let logons = exact.stats().logons;

    let outs = support::stampede::stampede(32, || {
        let mut cmd = exact.std_cmd(&kc);
        cmd.env("KEYCHAIN_PASSPHRASE_FILE", &pass)
            .env("KEYCHAIN_LOCK_TIMEOUT", "120")
            .args(["login", "erp"]);
        cmd
    });
    assert_all(&outs, 0, token.trim());
    let (after, failed) = derivations(&kc);
    assert_eq!(
        after - before,
        1,
        "32 logins derived the key {} times",
        after - before
    );
    assert_eq!(failed, 0);
    assert_eq!(exact.stats().logons, logons, "every login was a cache hit");
    let payload = derived_key(&kc).expect("the derived key is in the user keyring");
    assert!(payload.starts_with("AGE-SECRET-KEY-1"), "an identity");
    assert!(!payload.contains(PASSPHRASE), "never the passphrase");

    // A later call reads it: no derivation.
    let out = with_pass(&kc, &pass)
        .args(["show", "acme", "--reveal", "password"])
        .output()
        .unwrap();
    assert_success(&out, &["show"]);
    assert_eq!(derivations(&kc).0, after);
}

#[test]
fn a_wrong_passphrase_file_is_never_cached_and_is_tried_once() {
    let (kc, pass) = passphrase_kc();
    kc.ok(&["lock"]);
    let (ok0, failed0) = derivations(&kc);
    let wrong = kc.file("wrong.txt", "not the passphrase\n");
    let outs = support::stampede::stampede(16, || {
        let mut cmd = with_pass(&kc, &wrong);
        cmd.args(["show", "acme", "--reveal", "password"]);
        cmd
    });
    assert_all(&outs, 6, "wrong passphrase");
    for out in &outs {
        assert!(out.stdout.is_empty());
        assert!(stderr(out).contains("hint: "), "{}", stderr(out));
    }
    let (ok1, failed1) = derivations(&kc);
    assert_eq!(ok1, ok0, "nothing derived");
    assert_eq!(
        failed1 - failed0,
        1,
        "16 jobs tried the wrong passphrase once"
    );
    let mark = derived_key(&kc).unwrap_or_default();
    assert!(
        !mark.contains("AGE-SECRET-KEY"),
        "no identity cached: {mark:?}"
    );

    // The right file: derived, cached, served.
    let out = with_pass(&kc, &pass)
        .args(["show", "acme", "--reveal", "password"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{CANARY_PASSWORD}\n")
    );
    assert_eq!(derivations(&kc).0, ok1 + 1);
    // The wrong one again: the key cached for the right file does not serve it.
    let out = with_pass(&kc, &wrong)
        .args(["show", "acme"])
        .output()
        .unwrap();
    assert_exit(&out, 6);
    assert!(
        stderr(&out).contains("wrong passphrase"),
        "{}",
        stderr(&out)
    );
    // Nor does it serve a call without any passphrase file.
    assert_exit(&kc.run(&["show", "acme"]), 6);
}

/// `identity.age` encrypted again, as a passphrase change or a key rotation leaves it: the
/// identity `identity` (the one it holds now when `None`) under the passphrase in `new_pass`.
fn reencrypt(kc: &Kc, old_pass: &Path, new_pass: &Path, identity: Option<age::x25519::Identity>) {
    use keychain::keystore::KeyStore;
    use keychain::keystore::passphrase::PassphraseKeyStore;
    let settings = |pass: &Path| keychain::settings::Settings {
        passphrase_file: Some(pass.to_path_buf()),
        scrypt_work_factor: Some(10),
        ..Default::default()
    };
    let identity = match identity {
        Some(identity) => identity,
        None => PassphraseKeyStore::new(&kc.dir, &settings(old_pass))
            .load()
            .unwrap(),
    };
    std::fs::remove_file(kc.dir.join("identity.age")).unwrap();
    PassphraseKeyStore::new(&kc.dir, &settings(new_pass))
        .save(&identity)
        .unwrap();
}

#[test]
fn a_changed_passphrase_a_rotated_identity_or_a_removed_file_stops_the_cached_key() {
    let (kc, pass) = passphrase_kc();
    let show = |pass: &Path| {
        with_pass(&kc, pass)
            .args(["show", "acme", "--reveal", "password"])
            .output()
            .unwrap()
    };
    assert_success(&show(&pass), &["show"]);
    let (ok, _) = derivations(&kc);

    // The passphrase changed: identity.age under the new one, the file holds the new one.
    let new_pass = kc.file("new-pass.txt", "a new passphrase\n");
    reencrypt(&kc, &pass, &new_pass, None);
    // The old passphrase no longer opens it, cache or not.
    let out = show(&pass);
    assert_exit(&out, 6);
    assert!(
        stderr(&out).contains("wrong passphrase"),
        "{}",
        stderr(&out)
    );
    std::fs::copy(&new_pass, &pass).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&show(&pass).stdout),
        format!("{CANARY_PASSWORD}\n")
    );
    assert_eq!(
        derivations(&kc).0,
        ok + 1,
        "derived again for the new passphrase"
    );
    assert_success(&show(&pass), &["show"]);
    assert_eq!(derivations(&kc).0, ok + 1, "then cached");

    // The identity rotated (another key in identity.age): the cached key no longer serves,
    // and the new one is refused as not this keychain's.
    let original = {
        use keychain::keystore::KeyStore;
        keychain::keystore::passphrase::PassphraseKeyStore::new(
            &kc.dir,
            &keychain::settings::Settings {
                passphrase_file: Some(pass.clone()),
                ..Default::default()
            },
        )
        .load()
        .unwrap()
    };
    reencrypt(&kc, &pass, &pass, Some(age::x25519::Identity::generate()));
    let out = show(&pass);
    assert_exit(&out, 6);
    assert!(
        stderr(&out).contains("is not this keychain's"),
        "{}",
        stderr(&out)
    );
    assert!(
        !derived_key(&kc)
            .unwrap_or_default()
            .contains("AGE-SECRET-KEY"),
        "a key that does not open the records is not cached"
    );

    // Back to the keychain's identity; then the passphrase file removed: the next call fails
    // and takes the cached key with it.
    reencrypt(&kc, &pass, &pass, Some(original));
    assert_success(&show(&pass), &["show"]);
    assert!(derived_key(&kc).is_some());
    std::fs::remove_file(&pass).unwrap();
    let out = show(&pass);
    assert_exit(&out, 6);
    assert!(stderr(&out).contains("passphrase file"), "{}", stderr(&out));
    assert!(derived_key(&kc).is_none(), "the key left with its file");
}

#[test]
fn every_command_that_opens_the_records_derives_the_key_once_from_a_fresh_cache() {
    // The derivation runs inside whatever command needs the key first; none may wait on itself
    // (the audit log's lock) or derive twice.
    let (kc, pass) = passphrase_kc();
    let pw = kc.file("pw2.txt", "second-password\n");
    let totp = kc.file("totp.txt", TOTP_SECRET);
    let export = kc.tmp.path().join("backup.age");
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let commands: Vec<Vec<&str>> = vec![
        add_args(
            "beta",
            &[
                "--password-file",
                pw.to_str().unwrap(),
                "--totp-file",
                totp.to_str().unwrap(),
            ],
        ),
        vec!["show", "acme", "--reveal", "password"],
        vec!["totp", "beta"],
        vec!["set", "acme", "--user", "bob"],
        vec!["mv", "acme", "gamma"],
        vec!["list"],
        vec![
            "export",
            "--recipient",
            &recipient,
            export.to_str().unwrap(),
        ],
        vec!["refresh", "--all", "--idle-days", "20"],
        vec!["audit", "verify"],
        vec!["audit"],
        vec!["rm", "-f", "gamma"],
    ];
    for args in &commands {
        kc.ok(&["lock"]);
        let (before, _) = derivations(&kc);
        let out = with_pass(&kc, &pass)
            .env("KEYCHAIN_LOCK_TIMEOUT", "5")
            .args(args)
            .output()
            .unwrap();
        assert_success(&out, args);
        let derived = derivations(&kc).0 - before;
        // `list` reads only the headers and `rm` removes a file: no key, no derivation.
        let expected = usize::from(args[0] != "list" && args[0] != "rm");
        assert_eq!(
            derived, expected,
            "{args:?} derived the key {derived} times"
        );
        // Once more: served from the cache.
        if args[0] == "show" || args[0] == "totp" || args[0] == "audit" {
            let out = with_pass(&kc, &pass).args(args).output().unwrap();
            assert_success(&out, args);
            assert_eq!(derivations(&kc).0 - before, expected, "{args:?} again");
        }
    }
}

#[test]
fn status_answers_from_the_derived_key_without_deriving_it_and_says_when_it_is_wrong() {
    let (kc, pass) = passphrase_kc();
    let status = |pass: &Path| {
        with_pass(&kc, pass)
            .args(["status", "--json"])
            .output()
            .unwrap()
    };
    // The key derived by the job (passphrase_kc's add): status takes its word.
    let out = status(&pass);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["key_store"]["answers"], true, "{json}");
    let wrong = kc.file("wrong.txt", "nope\n");
    // A wrong file known as wrong (a job was refused): critical, without a KDF.
    let job = with_pass(&kc, &wrong)
        .args(["show", "acme"])
        .output()
        .unwrap();
    assert_exit(&job, 6);
    let (_, failed) = derivations(&kc);
    let out = status(&wrong);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["key_store"]["answers"], false, "{json}");
    assert_eq!(
        derivations(&kc).1,
        failed,
        "status logs and derives nothing"
    );
}

/// `cmd` with its data segment (heap and anonymous mappings) capped at `kib` KiB, as
/// `ulimit -d` sets it: an allocation beyond it fails and the process aborts.
fn capped(cmd: &std::process::Command, kib: u32) -> std::process::Command {
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg(format!("ulimit -d {kib} && exec \"$@\""))
        .arg("sh")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    sh
}

#[test]
fn a_job_after_the_first_runs_no_kdf_its_memory_capped_below_what_scrypt_needs() {
    // scrypt at work factor 14 needs 16 MiB (2^14 x 128 x 8 bytes); a call that reads the
    // cached key needs a fraction of that. Under a 12 MiB cap, only a call that runs no KDF
    // can succeed: memory, not time, shows that the cache served it.
    let kc = Kc::new();
    let pass = kc.file("pass.txt", &format!("{PASSPHRASE}\n"));
    let pw = kc.file("pw.txt", &format!("{CANARY_PASSWORD}\n"));
    let run = |args: &[&str]| {
        let out = with_pass(&kc, &pass)
            .env("KEYCHAIN_SCRYPT_WORK_FACTOR", "14")
            .args(args)
            .output()
            .unwrap();
        assert_success(&out, args);
    };
    run(&["init", "--key-store", "passphrase"]);
    run(&add_args(
        "acme",
        &[
            "--password-file",
            pw.to_str().unwrap(),
            "--no-totp",
            "--redirect-uri",
            support::login::REDIRECT_URI,
        ],
    ));
    const CAP_KIB: u32 = 12 * 1024;
    for args in [
        vec!["show", "acme", "--reveal", "password"],
        vec!["status", "acme"],
        vec!["audit", "verify"],
    ] {
        let mut cmd = with_pass(&kc, &pass);
        cmd.args(&args);
        let out = capped(&cmd, CAP_KIB).output().unwrap();
        assert!(
            out.status.code().is_some_and(|c| c == 0 || c == 2),
            "{args:?} under a {CAP_KIB} KiB cap: {:?} {}",
            out.status,
            stderr(&out)
        );
    }
    // The cap is real: without the cached key the same call needs scrypt and cannot run.
    kc.ok(&["lock"]);
    let mut cmd = with_pass(&kc, &pass);
    cmd.args(["show", "acme"]);
    let out = capped(&cmd, CAP_KIB).output().unwrap();
    assert!(!out.status.success(), "scrypt ran under the cap?");
}

/// Runs the real `systemd-creds` with its host secret in `secret` (a file of the test's, not
/// /var/lib/systemd's), `stdin` on its standard input.
pub(crate) fn systemd_creds(args: &[&str], stdin: &[u8], secret: &Path) -> Output {
    use std::io::Write;
    let mut child = std::process::Command::new("systemd-creds")
        .args(args)
        .env("SYSTEMD_CREDENTIAL_SECRET", secret)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("systemd-creds (package systemd) is needed: run scripts/install-test-deps");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_success(&out, args);
    out
}

/// What an administrator does once, as the README says: the identity from `keychain unlock
/// --systemd-credential` piped into `systemd-creds encrypt`, into `encrypted`. Returns the
/// command's output (standard output is the identity).
pub(crate) fn make_identity_credential(
    mut unlock: std::process::Command,
    encrypted: &Path,
    secret: &Path,
) -> Output {
    let out = unlock
        .args(["unlock", "--systemd-credential"])
        .output()
        .unwrap();
    assert_success(&out, &["unlock", "--systemd-credential"]);
    std::fs::create_dir_all(encrypted.parent().unwrap()).unwrap();
    systemd_creds(
        &[
            "encrypt",
            "--with-key=host",
            "--name=keychain-identity",
            "-",
            encrypted.to_str().unwrap(),
        ],
        &out.stdout,
        secret,
    );
    out
}

/// What systemd does for `LoadCredentialEncrypted=NAME:FILE` when the service starts: the
/// credential decrypted into the service's credentials folder, mode 0400.
pub(crate) fn load_credential_encrypted(
    name: &str,
    encrypted: &Path,
    folder: &Path,
    secret: &Path,
) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(folder).unwrap();
    let target = folder.join(name);
    systemd_creds(
        &[
            "decrypt",
            &format!("--name={name}"),
            encrypted.to_str().unwrap(),
            target.to_str().unwrap(),
        ],
        b"",
        secret,
    );
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o400)).unwrap();
}

#[test]
fn a_service_given_the_identity_as_an_encrypted_credential_needs_no_passphrase_and_no_kdf() {
    let (kc, pass) = passphrase_kc();
    let secret = kc.tmp.path().join("credential.secret");
    let encrypted = kc.tmp.path().join("credstore.encrypted/keychain-identity");
    let made = make_identity_credential(with_pass(&kc, &pass), &encrypted, &secret);
    assert!(
        String::from_utf8_lossy(&made.stdout).starts_with("AGE-SECRET-KEY-1"),
        "the identity, for systemd-creds"
    );
    assert!(stderr(&made).contains("LoadCredentialEncrypted=keychain-identity"));
    assert!(!contains(
        &std::fs::read(&encrypted).unwrap(),
        "AGE-SECRET-KEY"
    ));
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    assert!(
        log.contains("unlock --systemd-credential"),
        "handing it out is audited"
    );

    // A run of the service: no passphrase anywhere, no kernel-keyring cache.
    let credentials = kc
        .tmp
        .path()
        .join("run/credentials/keychain-refresh.service");
    load_credential_encrypted("keychain-identity", &encrypted, &credentials, &secret);
    kc.ok(&["lock"]);
    let (derived, _) = derivations(&kc);
    let service = |args: &[&str]| {
        kc.std_cmd()
            .env("CREDENTIALS_DIRECTORY", &credentials)
            .args(args)
            .output()
            .unwrap()
    };
    let out = service(&["show", "acme", "--reveal", "password"]);
    assert_success(&out, &["show"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{CANARY_PASSWORD}\n")
    );
    let out = service(&["status", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["key_store"]["answers"], true, "{json}");
    assert_eq!(derivations(&kc).0, derived, "no KDF ran");
    assert!(
        derived_key(&kc).is_none(),
        "nothing went to the kernel keyring"
    );

    // Another keychain's identity (the key was rotated): a clear error, never a fallback.
    let other = kc.tmp.path().join("other-credentials");
    std::fs::create_dir_all(&other).unwrap();
    let foreign = other.join("keychain-identity");
    std::fs::write(
        &foreign,
        format!(
            "{}\n",
            secrecy::ExposeSecret::expose_secret(&age::x25519::Identity::generate().to_string())
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &foreign,
        std::os::unix::fs::PermissionsExt::from_mode(0o400),
    )
    .unwrap();
    let out = kc
        .std_cmd()
        .env("CREDENTIALS_DIRECTORY", &other)
        .env("KEYCHAIN_PASSPHRASE_FILE", &pass)
        .args(["show", "acme"])
        .output()
        .unwrap();
    assert_exit(&out, 6);
    assert!(
        stderr(&out).contains("systemd credential") && stderr(&out).contains("another identity"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("systemd-creds encrypt"),
        "{}",
        stderr(&out)
    );
    // One others can read is refused, as a passphrase file would be.
    std::fs::set_permissions(
        &foreign,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let out = kc
        .std_cmd()
        .env("CREDENTIALS_DIRECTORY", &other)
        .args(["show", "acme"])
        .output()
        .unwrap();
    assert_exit(&out, 6);
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
}

#[test]
fn unlock_systemd_credential_refuses_to_print_the_identity_on_a_terminal() {
    let (kc, pass) = passphrase_kc();
    let bin = assert_cmd::cargo::cargo_bin("keychain");
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{} unlock --systemd-credential", bin.display()),
            "/dev/null",
        ])
        .env("KEYCHAIN_DIR", &kc.dir)
        .env("KEYCHAIN_PASSPHRASE_FILE", &pass)
        .env("KEYCHAIN_SCRYPT_WORK_FACTOR", "10")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("util-linux 'script' is needed for terminal tests");
    assert_exit(&out, 2);
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(!screen.contains("AGE-SECRET-KEY"), "{screen}");
    assert!(screen.contains("systemd-creds encrypt"), "{screen}");
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    assert!(
        !log.contains("--systemd-credential"),
        "nothing handed out: {log}"
    );
}
