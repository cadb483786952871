//! Shared helpers for the integration tests: a keychain in a temporary folder, driven through
//! the real binary.
#![allow(dead_code)]

pub mod chromium;
pub mod exact_emulator;
pub mod fault_proxy;
pub mod hold_relay;
pub mod login;
pub mod loopback_http;
pub mod nights;
pub mod openbao;
mod servers;
pub mod shape;
pub mod shared_keychain;
pub mod stampede;
pub mod stub;
#[allow(unused_imports)]
pub use servers::*;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

pub const CANARY_PASSWORD: &str = "pw-canary-7f3a9c";
/// An 80-bit TOTP secret as real providers hand out.
pub const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXP";

pub struct Kc {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

impl Kc {
    /// An empty folder for a keychain (not initialised).
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("kc");
        Kc { tmp, dir }
    }

    /// A keychain with the `file` key store: needs no service.
    pub fn with_file_store() -> Self {
        let kc = Kc::new();
        kc.ok(&["init", "--key-store", "file"]);
        kc
    }

    pub fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("keychain").unwrap();
        cmd.env("KEYCHAIN_DIR", &self.dir)
            .env_remove("KEYCHAIN_PASSPHRASE_FILE")
            .env_remove("KEYCHAIN_EXEC_ACCOUNT")
            .env("KEYCHAIN_SCRYPT_WORK_FACTOR", "10")
            .env("KEYCHAIN_LOCK_TIMEOUT", "30");
        cmd
    }

    /// The same command as a `std::process::Command`, for spawning and killing.
    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("keychain"));
        cmd.env("KEYCHAIN_DIR", &self.dir)
            .env_remove("KEYCHAIN_PASSPHRASE_FILE")
            .env_remove("KEYCHAIN_EXEC_ACCOUNT")
            .env("KEYCHAIN_SCRYPT_WORK_FACTOR", "10")
            .env("KEYCHAIN_LOCK_TIMEOUT", "30");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Output {
        self.cmd().args(args).write_stdin(stdin).output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_success(&out, args);
        String::from_utf8(out.stdout).unwrap()
    }

    /// A file of the test's own, mode 0600 as a careful user keeps a secret (keychain refuses a
    /// passphrase or identity file others can read, and warns about other secret files).
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.tmp.path().join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .unwrap();
        f.write_all(content.as_bytes()).unwrap();
        path
    }

    /// Adds an OIDC account with the canary password and the TOTP secret, from files.
    pub fn add_account(&self, name: &str) {
        let pw = self.file("pw.txt", &format!("{CANARY_PASSWORD}\n"));
        let totp = self.file("totp.txt", TOTP_SECRET);
        self.ok(&add_args(
            name,
            &[
                "--password-file",
                pw.to_str().unwrap(),
                "--totp-file",
                totp.to_str().unwrap(),
            ],
        ));
    }

    /// Adds an Exact Online account (`exact-nl`, client `books-client`, user fin@example.com)
    /// with no password, TOTP secret or client secret, and `extra` flags (e.g. a refresh token
    /// file).
    pub fn add_exact_account(&self, name: &str, extra: &[&str]) {
        let mut args = vec![
            "add",
            "--no-client-secret",
            name,
            "--provider",
            "exact-nl",
            "--client-id",
            "books-client",
            "--user",
            "fin@example.com",
            "--no-password",
            "--no-totp",
        ];
        args.extend_from_slice(extra);
        self.ok(&args);
    }

    pub fn record(&self, name: &str) -> PathBuf {
        self.dir.join("accounts").join(format!("{name}.kcr"))
    }

    /// Changes an account as a command of keychain would: under its lock, in one transaction
    /// with an audit event, so the write counter and the log agree (needs a key store that
    /// answers without a prompt).
    pub fn edit_account(&self, name: &str, edit: impl FnOnce(&mut keychain::record::Account)) {
        let chain = keychain::keychain::Keychain::open(&self.dir).unwrap();
        let lock = chain.lock(name).unwrap();
        let (mut account, revision) = chain.read(name).unwrap();
        edit(&mut account);
        let event =
            keychain::audit::Event::new("test", keychain::audit::Action::Set("test".into()))
                .account(name);
        chain
            .commit(
                &*lock,
                keychain::store::Expect::At(revision),
                &mut account,
                vec![event],
                keychain::keychain::OnAuditFailure::Undo,
            )
            .unwrap();
    }
}

pub fn assert_success(out: &Output, args: &[&str]) {
    assert!(
        out.status.success(),
        "keychain {args:?} failed with {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path)
            } else {
                files.push(path)
            }
        }
    }
    files
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Tests that need the real Secret Service fail loudly when it is absent: run them through
/// `scripts/with-secret-service cargo test`.
pub fn require_secret_service() {
    assert_eq!(
        std::env::var("KEYCHAIN_TEST_SECRET_SERVICE").as_deref(),
        Ok("1"),
        "this test needs the private gnome-keyring: run the tests with scripts/with-secret-service cargo test"
    );
}

/// `add NAME` with a placeholder OIDC provider, client and user, then `extra` flags.
pub fn add_args<'a>(name: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "add",
        name,
        "--provider",
        "oidc",
        "--issuer",
        "http://127.0.0.1:9",
        "--client-id",
        "cli",
        "--user",
        "dwho",
    ];
    args.extend_from_slice(extra);
    // Off a terminal, `add` needs each secret given or declined.
    if !extra
        .iter()
        .any(|a| matches!(*a, "--totp-file" | "--totp-qr" | "--no-totp"))
    {
        args.push("--no-totp");
    }
    if !extra
        .iter()
        .any(|a| matches!(*a, "--client-secret-file" | "--no-client-secret"))
    {
        args.push("--no-client-secret");
    }
    args
}

/// (severity, code, accounts) of every finding; the accounts' names joined by ',', '-' for
/// none (issue 23: `accounts` is an array of `{"name"}` objects).
pub fn findings(report: &serde_json::Value) -> Vec<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let names: Vec<&str> = f["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap())
                .collect();
            (
                f["severity"].as_str().unwrap().to_string(),
                f["code"].as_str().unwrap().to_string(),
                if names.is_empty() {
                    "-".to_string()
                } else {
                    names.join(",")
                },
            )
        })
        .collect()
}
