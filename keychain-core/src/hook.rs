//! The failure hook (`--on-failure CMD`, `KEYCHAIN_ON_FAILURE`): when a job cannot get a token
//! without a person, a configured command runs once per incident, so that an operator hears of
//! it before the morning.
//!
//! A person is needed when:
//! - `lockout-guard`: the provider rejected the password or code before, and keychain holds back
//!   every logon until a person changes it or says `login --retry` (exit 4);
//! - `rejected`: the provider rejected the password, the code or the client's secret just now
//!   (exit 4; a rejected client secret on a refresh is exit 5, but no wait will help it);
//! - `no-credentials`: the refresh token is dead (used, expired or revoked) and no password is
//!   stored to log on again with (exit 2).
//!
//! Anything else (a provider that is down, Exact's 570 s, a busy lock) passes with time and runs
//! no hook.
//!
//! Once per incident: the reason is written to `incidents/ACCOUNT` (under a lock, before the
//! command runs, so two failing jobs at once run it once). The same reason again runs nothing; a
//! different reason runs it again; a token obtained for the account removes the file, so the
//! next failure is a new incident.
//!
//! The command runs with `/bin/sh -c`, standard input from /dev/null, its output on keychain's
//! standard error, and an environment built from scratch: `PATH`, `HOME`, `USER`, `LOGNAME`,
//! `LANG`, `TZ` as keychain has them, and `KEYCHAIN_ACCOUNT`, `KEYCHAIN_FAILURE_REASON` and
//! `KEYCHAIN_EXIT_CODE`. Never a secret: not even a token an outer `exec` put into keychain's
//! own environment reaches it. It never changes keychain's exit code.
#![deny(missing_docs)]

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, ProviderCause};
use crate::keychain::Keychain;
use crate::record::SecretField;

/// The folder, under the keychain folder, holding one file per open incident.
pub const INCIDENT_DIR: &str = "incidents";
/// The longest a hook may run before it is stopped: keychain's job is waiting.
const HOOK_TIMEOUT: Duration = Duration::from_secs(60);
/// What the hook gets of keychain's own environment.
const PASSED_ON: [&str; 6] = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ"];

/// Why a person is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Keychain holds back logons after the provider rejected the password or code.
    LockoutGuard,
    /// The provider rejected the password, the code or the client's secret just now.
    Rejected,
    /// No valid refresh token and no password to log on with.
    NoCredentials,
}

impl Reason {
    /// The name the hook is given in `KEYCHAIN_FAILURE_REASON`; stable.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::LockoutGuard => "lockout-guard",
            Reason::Rejected => "rejected",
            Reason::NoCredentials => "no-credentials",
        }
    }
}

/// Whether `error`, from obtaining a token for `account`, needs a person, and why.
pub fn classify(kc: &Keychain, account: &str, error: &Error) -> Option<Reason> {
    match error {
        Error::RejectedBefore { .. } => Some(Reason::LockoutGuard),
        Error::Rejected { .. } => Some(Reason::Rejected),
        Error::Unavailable {
            cause: Some(ProviderCause::Token(e)),
            ..
        } if client_refused(e) => Some(Reason::Rejected),
        Error::Usage { .. } => {
            // The engine's "no valid refresh token and no password": read from the record's
            // header, not from the message's words.
            let header = kc.peek(account).ok()?;
            (!header.has(SecretField::RefreshToken) && !header.has(SecretField::Password))
                .then_some(Reason::NoCredentials)
        }
        _ => None,
    }
}

fn client_refused(e: &crate::oauth::TokenError) -> bool {
    matches!(e, crate::oauth::TokenError::Refused { error, .. }
        if error == "invalid_client" || error == "unauthorized_client")
}

/// What happened to the hook of a failure.
#[derive(Debug, PartialEq, Eq)]
pub enum Ran {
    /// The failure needs no person.
    NotNeeded,
    /// The same incident already ran the hook.
    AlreadyReported,
    /// The hook ran and exited with this status (`None`: killed, or stopped at the timeout).
    Ran(Option<i32>),
}

/// After `error` ended an attempt to obtain a token for `account`: runs `command` when a person
/// is needed and this incident has not run it yet. Best effort: a hook that cannot be run or
/// recorded is reported through `progress` and never hides `error`.
pub fn failed(kc: &Keychain, account: &str, error: &Error, command: &OsStr) -> Ran {
    // The name becomes a file name below: only a valid one (a failed read may carry any).
    if !crate::name::is_valid(account) {
        return Ran::NotNeeded;
    }
    let Some(reason) = classify(kc, account, error) else {
        return Ran::NotNeeded;
    };
    match new_incident(kc, account, reason) {
        Ok(false) => return Ran::AlreadyReported,
        Ok(true) => {}
        Err(e) => crate::progress::step(&format!(
            "keychain: warning: cannot record the incident of '{account}' ({e}); running the hook anyway\n"
        )),
    }
    let status = run(command, account, reason, error.exit_code());
    match &status {
        Ok(Some(0)) => {}
        Ok(Some(code)) => crate::progress::step(&format!(
            "keychain: warning: the on-failure hook exited with {code}\n"
        )),
        Ok(None) => crate::progress::step(
            "keychain: warning: the on-failure hook was stopped by a signal or after 60 s\n",
        ),
        Err(e) => crate::progress::step(&format!(
            "keychain: warning: the on-failure hook could not be run: {e}\n"
        )),
    }
    Ran::Ran(status.ok().flatten())
}

/// A token was obtained for `account`: its incident, if any, is over. Costs one `stat` when
/// there is none.
pub fn succeeded(kc: &Keychain, account: &str) {
    if !crate::name::is_valid(account) {
        return;
    }
    let path = incident_path(kc, account);
    if path.exists() {
        let _ = with_lock(kc, || match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => crate::fsutil::sync_dir(&crate::fsutil::parent_of(&path)),
        });
    }
}

fn incident_path(kc: &Keychain, account: &str) -> PathBuf {
    kc.dir.join(INCIDENT_DIR).join(account)
}

/// Records `reason` as `account`'s open incident; `false` when it was already.
fn new_incident(kc: &Keychain, account: &str, reason: Reason) -> std::io::Result<bool> {
    let path = incident_path(kc, account);
    with_lock(kc, || {
        match std::fs::read(&path) {
            Ok(bytes) if bytes == reason.as_str().as_bytes() => return Ok(false),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        crate::fsutil::write_atomic(&path, reason.as_str().as_bytes())?;
        Ok(true)
    })
}

fn with_lock<T>(kc: &Keychain, f: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    let dir = kc.dir.join(INCIDENT_DIR);
    crate::fsutil::ensure_private_dir(&dir)?;
    let _held = crate::lockfile::acquire(
        &dir.join(".lock"),
        "the incident list",
        kc.settings().lock_timeout,
    )
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    f()
}

/// Runs the hook and waits for it (at most [`HOOK_TIMEOUT`]).
fn run(
    command: &OsStr,
    account: &str,
    reason: Reason,
    exit_code: i32,
) -> std::io::Result<Option<i32>> {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command).env_clear();
    for var in PASSED_ON {
        if let Some(value) = std::env::var_os(var) {
            cmd.env(var, value);
        }
    }
    use std::os::fd::AsFd;
    // Not written through here: the descriptor is handed to the hook as its standard output,
    // so that what it prints never mixes with a token on keychain's standard output.
    #[allow(clippy::disallowed_methods)]
    let stderr = std::io::stderr().as_fd().try_clone_to_owned()?;
    let mut child = cmd
        .env("KEYCHAIN_ACCOUNT", account)
        .env("KEYCHAIN_FAILURE_REASON", reason.as_str())
        .env("KEYCHAIN_EXIT_CODE", exit_code.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::from(stderr))
        .spawn()?;
    let deadline = Instant::now() + HOOK_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.code());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
