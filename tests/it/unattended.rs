//! The cron and systemd examples in `examples/` run as written: their environment, their
//! command lines, the identity through `LoadCredentialEncrypted=` (made and opened with the real
//! `systemd-creds`, `$CREDENTIALS_DIRECTORY`) or the passphrase through
//! `KEYCHAIN_PASSPHRASE_FILE`, with an environment as bare as cron's and systemd's. Only the
//! fixed paths are moved into a temporary folder, and `/usr/local/bin/keychain` is the binary
//! under test.

use crate::support;

use std::path::{Path, PathBuf};

use support::*;

const PASSPHRASE: &str = "correct horse battery staple";

/// A file of `examples/`.
fn example(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name),
    )
    .unwrap()
}

/// The temporary root that stands for `/`; the examples' absolute paths are moved under it.
struct Root {
    tmp: tempfile::TempDir,
    bin: PathBuf,
}

impl Root {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("usr/local/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(
            assert_cmd::cargo::cargo_bin("keychain"),
            bin.join("keychain"),
        )
        .unwrap();
        std::fs::create_dir_all(tmp.path().join("etc/keychain")).unwrap();
        std::fs::write(
            tmp.path().join("etc/keychain/passphrase"),
            format!("{PASSPHRASE}\n"),
        )
        .unwrap();
        // As an administrator keeps it: keychain refuses a passphrase file others can read.
        std::fs::set_permissions(
            tmp.path().join("etc/keychain/passphrase"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        std::fs::create_dir_all(tmp.path().join("home/etl")).unwrap();
        Root { tmp, bin }
    }

    /// An absolute path of an example, moved under the root.
    fn path(&self, text: &str) -> String {
        let mut out = text.to_string();
        for prefix in ["/var/lib/", "/etc/keychain", "/usr/local/bin"] {
            out = out.replace(prefix, &format!("{}{prefix}", self.tmp.path().display()));
        }
        out
    }

    /// A keychain with a passphrase store at the examples' KEYCHAIN_DIR and one account whose
    /// refresh token is fresh (so refresh skips it and status finds nothing: it could also
    /// log on headlessly, with its password and redirect URI).
    fn keychain(&self) -> PathBuf {
        let dir = PathBuf::from(self.path("/var/lib/etl/keychain"));
        let pass = self.tmp.path().join("etc/keychain/passphrase");
        let pw = self.tmp.path().join("pw.txt");
        let rt = self.tmp.path().join("rt.txt");
        std::fs::write(&pw, "pw-canary-7f3a9c\n").unwrap();
        std::fs::write(&rt, "rt-1\n").unwrap();
        let run = |args: &[&str]| {
            let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("keychain"))
                .args(args)
                .env("KEYCHAIN_DIR", &dir)
                .env("KEYCHAIN_PASSPHRASE_FILE", &pass)
                .env("KEYCHAIN_SCRYPT_WORK_FACTOR", "10")
                .output()
                .unwrap();
            assert_success(&out, args);
        };
        run(&["init", "--key-store", "passphrase"]);
        let mut add = add_args(
            "acme",
            &[
                "--password-file",
                pw.to_str().unwrap(),
                "--no-totp",
                "--redirect-uri",
                support::login::REDIRECT_URI,
            ],
        );
        add.extend(["--refresh-token-file", rt.to_str().unwrap()]);
        run(&add);
        dir
    }

    /// A command as cron or systemd starts it: a bare environment (no XDG variables, no D-Bus
    /// session, no terminal), plus `vars`.
    fn bare(&self, program: &str, vars: &[(String, String)]) -> std::process::Command {
        let mut cmd = std::process::Command::new(program);
        cmd.env_clear()
            .env("HOME", self.tmp.path().join("home/etl"))
            .env("LOGNAME", "etl")
            .env("SHELL", "/bin/sh")
            .env("PATH", "/usr/bin:/bin")
            .stdin(std::process::Stdio::null());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd
    }
}

#[test]
fn the_systemd_service_runs_as_written_with_its_credential() {
    let root = Root::new();
    root.keychain();
    let unit = example("keychain-refresh.service");
    let mut vars = Vec::new();
    let mut commands = Vec::new();
    let credentials = root
        .tmp
        .path()
        .join("run/credentials/keychain-refresh.service");
    std::fs::create_dir_all(&credentials).unwrap();
    let secret = root.tmp.path().join("var/lib/systemd/credential.secret");
    std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
    for line in unit.lines().map(str::trim) {
        if let Some(assignment) = line.strip_prefix("Environment=") {
            let (k, v) = assignment.split_once('=').unwrap();
            vars.push((k.to_string(), root.path(v)));
        } else if let Some(credential) = line.strip_prefix("LoadCredentialEncrypted=") {
            // Made once by the administrator as the unit's comment says, with the real
            // systemd-creds; decrypted by systemd into the service's credentials folder.
            let (name, source) = credential.split_once(':').unwrap();
            assert!(
                unit.contains("unlock --systemd-credential")
                    && unit.contains(&format!("systemd-creds encrypt --name={name} - {source}")),
                "{unit}"
            );
            let mut unlock = std::process::Command::new(assert_cmd::cargo::cargo_bin("keychain"));
            unlock
                .env("KEYCHAIN_DIR", root.path("/var/lib/etl/keychain"))
                .env(
                    "KEYCHAIN_PASSPHRASE_FILE",
                    root.path("/etc/keychain/passphrase"),
                );
            let encrypted = PathBuf::from(root.path(source));
            crate::key_cache::make_identity_credential(unlock, &encrypted, &secret);
            crate::key_cache::load_credential_encrypted(name, &encrypted, &credentials, &secret);
            vars.push((
                "CREDENTIALS_DIRECTORY".into(),
                credentials.display().to_string(),
            ));
        } else if let Some(command) = line
            .strip_prefix("ExecStart=")
            .or_else(|| line.strip_prefix("ExecStartPost="))
        {
            commands.push(root.path(command));
        }
    }
    assert_eq!(commands.len(), 2, "{unit}");
    assert!(
        vars.iter().any(|(k, _)| k == "CREDENTIALS_DIRECTORY"),
        "{unit}"
    );
    // The service's runs derive no key: no passphrase reaches them at all.
    assert!(!unit.contains("keychain-passphrase"), "{unit}");
    let audit_log = PathBuf::from(root.path("/var/lib/etl/keychain/audit.log"));
    let derivations = || {
        std::fs::read_to_string(&audit_log)
            .unwrap()
            .matches("unlock from passphrase file")
            .count()
    };
    let before = derivations();
    for command in &commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        let out = root
            .bare(words[0], &vars)
            .args(&words[1..])
            .output()
            .unwrap();
        assert_success(&out, &words);
    }
    assert_eq!(derivations(), before, "the service derived the key");
    // Without the credential the status says what would break, and fails the unit.
    vars.retain(|(k, _)| k != "CREDENTIALS_DIRECTORY");
    let status = root.path("/usr/local/bin/keychain");
    let out = root.bare(&status, &vars).arg("status").output().unwrap();
    // Critical: no job can open the records (any failing status fails the unit).
    assert_exit(&out, 2);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("key-store-unavailable"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let timer = example("keychain-refresh.timer");
    assert!(timer.contains("OnCalendar=*-*-* 03:17:00"), "{timer}");
}

#[test]
fn the_crontab_line_runs_as_written_and_mails_only_when_something_needs_a_person() {
    let root = Root::new();
    let dir = root.keychain();
    let crontab = example("keychain.crontab");
    let mut vars = Vec::new();
    let mut job = None;
    for line in crontab.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) if !k.contains(' ') => vars.push((k.to_string(), root.path(v))),
            _ => {
                // Five time fields, then the command, run by /bin/sh as cron does.
                let command: Vec<&str> = line.splitn(6, ' ').collect();
                assert_eq!(command[..5], ["17", "3", "*", "*", "*"], "{line}");
                job = Some(root.path(command[5]));
            }
        }
    }
    let job = job.expect("a job line");
    assert!(
        vars.iter()
            .any(|(k, v)| k == "PATH" && v.contains(&root.bin.display().to_string())),
        "{vars:?}"
    );
    // From a fresh cache (as after a reboot): the night's job derives the key once for both
    // its commands, and the next night's reads it.
    let lock = std::process::Command::new(assert_cmd::cargo::cargo_bin("keychain"))
        .arg("lock")
        .env("KEYCHAIN_DIR", &dir)
        .output()
        .unwrap();
    assert_success(&lock, &["lock"]);
    let derivations = || {
        std::fs::read_to_string(dir.join("audit.log"))
            .unwrap()
            .matches("unlock from passphrase file")
            .count()
    };
    let before = derivations();
    for night in 0..2 {
        let out = root
            .bare("/bin/sh", &vars)
            .args(["-c", &job])
            .output()
            .unwrap();
        assert_success(&out, &["cron job"]);
        // All well: nothing printed, so cron mails nothing.
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(
            derivations() - before,
            1,
            "night {night}: the key derived once in all"
        );
    }

    // A problem a person must see (an account that cannot log on): the status is printed.
    let status = std::process::Command::new(assert_cmd::cargo::cargo_bin("keychain"))
        .args(add_args("orphan", &["--no-password", "--no-totp"]))
        .env("KEYCHAIN_DIR", &dir)
        .env(
            "KEYCHAIN_PASSPHRASE_FILE",
            root.tmp.path().join("etc/keychain/passphrase"),
        )
        .output()
        .unwrap();
    assert_success(&status, &["add orphan"]);
    // cron mails what a job prints, whatever its status.
    let out = root
        .bare("/bin/sh", &vars)
        .args(["-c", &job])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("orphan: cannot-log-on"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn help_cron_shows_the_examples_and_the_environment() {
    let kc = Kc::new();
    let text = kc.ok(&["help", "cron"]);
    for needle in [
        "KEYCHAIN_DIR",
        "LoadCredentialEncrypted=keychain-identity:",
        "unlock --systemd-credential",
        "systemd-creds encrypt --name=keychain-identity",
        "17 3 * * * keychain refresh --all --idle-days 20",
        "keychain status",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    // The crontab line shown is the one in examples/.
    let job = example("keychain.crontab")
        .lines()
        .find(|l| l.starts_with("17 3"))
        .unwrap()
        .to_string();
    assert!(text.contains(&job), "{job}\n{text}");
}
