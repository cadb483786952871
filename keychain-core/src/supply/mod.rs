//! Keeping a long-running child supplied with a valid access token (`keychain exec --serve`,
//! `--token-file`): a local token endpoint only the child can use, and a token file replaced by
//! rename before the token expires, as aws-vault's ECS server and Vault Agent's sink do.
//!
//! Every token comes from the one logon engine ([`crate::ops::login::obtain`], handed in as a
//! closure): its lock, re-read and rules (single flight across processes and machines, Exact's
//! 570 s and error budget, the lockout guard) hold here as they hold for `login`, and the engine
//! writes the audit event before it returns the token, so no token leaves unlogged. Only this
//! process's keeper (the thread that owns the keychain) calls the engine; the endpoint answers
//! from memory while the token is good and otherwise asks the keeper and waits, so however many
//! requests arrive, one refresh is made per expiry.
//!
//! Everything lives in a run folder (0700) of its own under the keychain folder: the socket and
//! the token file (0600). It is removed when the child ends, whatever ends it (its exit, a
//! signal forwarded to it). A keychain that was killed outright leaves a folder that nothing
//! listens on and whose secret died with it; the next `exec` removes it (see [`sweep`]).
//!
//! It must never put the token or the bearer secret in an argument list, a log line or an
//! error text, and never serve anyone who does not present the run's bearer secret.
#![deny(missing_docs)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use crate::clock::SharedClock;
use crate::error::{Error, Result};
use crate::ops::login::Token;

pub mod endpoint;
pub mod signals;

/// Variable naming the endpoint's Unix socket in the child's environment.
pub const SOCKET_VAR: &str = "KEYCHAIN_TOKEN_SOCKET";
/// Variable carrying the run's bearer secret (`Authorization: Bearer $KEYCHAIN_TOKEN_AUTH`).
pub const AUTH_VAR: &str = "KEYCHAIN_TOKEN_AUTH";
/// Variable naming the token file kept fresh for the child.
pub const FILE_VAR: &str = "KEYCHAIN_TOKEN_FILE";
/// The folder, under the keychain folder, that holds one run folder per supplying `exec`.
pub const RUN_DIR: &str = "run";

/// The longest the keeper sleeps between two looks at the clock: a wall clock that jumps
/// (a suspended laptop, a corrected clock) is noticed within this.
const TICK: Duration = Duration::from_secs(1);
/// After a failed attempt, the next is made no sooner than this (doubling to [`MAX_BACKOFF`]):
/// a provider that is down or a guard that holds must not be asked at every request.
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What the child is given, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ways {
    /// A token endpoint on a Unix socket, guarded by a bearer secret.
    pub endpoint: bool,
    /// A token file, replaced by rename before the token expires.
    pub file: bool,
}

/// A token the engine handed out, with when the keeper should ask for the next.
pub struct Supplied {
    /// The token.
    pub token: Token,
    /// Unix seconds (keychain's clock) from which the engine will give a new token: the
    /// token's expiry less the margin, but not before the provider allows one (Exact's 570 s).
    pub refresh_at: i64,
}

/// When to ask the engine for the next token: `min_valid` seconds before `expires_at`, but not
/// before the provider's minimum interval since `issued` has passed (asking earlier only gets
/// the same token back), and never in the past (a token whose lifetime is shorter than the
/// margin must not make the keeper ask at every tick).
pub fn refresh_at(
    admission: &crate::providers::Admission,
    issued: Option<i64>,
    expires_at: Option<i64>,
    min_valid: i64,
    now: i64,
) -> i64 {
    let Some(expires) = expires_at else {
        // No expiry stated: the token is good until the provider says otherwise.
        return i64::MAX;
    };
    let mut at = expires.saturating_sub(min_valid);
    if let Err(crate::providers::NotAdmitted::TooSoon { wait, .. }) =
        admission.check_interval(issued, now)
    {
        at = at.max(now.saturating_add(wait));
    }
    if at <= now {
        // The engine just answered with a token it considers good enough; look again soon.
        at = now
            .saturating_add(TICK.as_secs() as i64 * 5)
            .min(expires.max(now));
    }
    at
}

/// `token`, just obtained for `account`, with when to ask for the next: see [`refresh_at`].
pub fn supplied(
    kc: &crate::keychain::Keychain,
    account: &str,
    token: Token,
    min_valid: i64,
) -> Supplied {
    let now = kc.now();
    let (admission, issued) = match kc.peek(account) {
        Ok(header) => (
            header.provider.kind.provider().admission(),
            // Kept on a shared keychain's reference clock (issue 19): on ours, as late as can be.
            header
                .access_token_issued
                .map(|t| crate::ops::login::stored_time_on_our_clock(kc, t)),
        ),
        Err(_) => (crate::providers::Admission::ANY_TIME, None),
    };
    Supplied {
        refresh_at: refresh_at(&admission, issued, token.expires_at, min_valid, now),
        token,
    }
}

/// The current token as the endpoint and the file give it.
pub(crate) struct Current {
    pub(crate) token: SecretString,
    pub(crate) token_type: String,
    pub(crate) expires_at: Option<i64>,
    pub(crate) scope: Option<String>,
}

/// Why the last attempt failed, as the endpoint reports it: the error's class, exit code and
/// text (the engine's texts are scrubbed of the account's secrets).
#[derive(Clone)]
pub(crate) struct Failure {
    pub(crate) code: &'static str,
    pub(crate) exit_code: i32,
    pub(crate) message: String,
}

pub(crate) struct State {
    pub(crate) current: Option<Current>,
    /// When the keeper asks the engine again.
    pub(crate) refresh_at: i64,
    /// Bumped at every attempt's end, so that a waiting request knows its answer is in.
    pub(crate) generation: u64,
    /// A request found no usable token and waits for the keeper.
    pub(crate) wanted: bool,
    pub(crate) failure: Option<Failure>,
    /// No attempt before this (after a failure).
    pub(crate) not_before: Option<Instant>,
    backoff: Duration,
    /// The child has ended: no more attempts, no more answers.
    pub(crate) done: bool,
}

/// The state the keeper, the endpoint and the child's watcher share.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) changed: Condvar,
    pub(crate) clock: SharedClock,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A supply for one run: its folder, and what it serves from.
pub struct Supply {
    shared: Arc<Shared>,
    ways: Ways,
    dir: PathBuf,
    /// Held for the run's life: a folder whose lock can be taken has no keychain behind it.
    _owner: File,
    secret: SecretString,
    endpoint: Option<endpoint::Endpoint>,
}

impl std::fmt::Debug for Supply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supply")
            .field("ways", &self.ways)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Supply {
    /// Makes the run folder under `keychain_dir` (after removing those of runs that ended
    /// without cleaning up), writes the first token's file and opens the endpoint.
    pub fn start(
        keychain_dir: &Path,
        ways: Ways,
        first: Supplied,
        clock: SharedClock,
    ) -> Result<Supply> {
        let runs = keychain_dir.join(RUN_DIR);
        crate::fsutil::ensure_private_dir(&runs).map_err(|e| io_error("create", &runs, e))?;
        sweep(&runs);
        let secret = random_secret();
        let dir = runs.join(format!(
            "exec-{}-{}",
            std::process::id(),
            &random_secret().expose_secret()[..8]
        ));
        crate::fsutil::create_dirs(&dir, crate::fsutil::DIR_MODE)
            .map_err(|e| io_error("create", &dir, e))?;
        let owner = owner_lock(&dir)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                current: None,
                refresh_at: first.refresh_at,
                generation: 0,
                wanted: false,
                failure: None,
                not_before: None,
                backoff: FIRST_BACKOFF,
                done: false,
            }),
            changed: Condvar::new(),
            clock,
        });
        let mut supply = Supply {
            shared,
            ways,
            dir,
            _owner: owner,
            secret,
            endpoint: None,
        };
        let result = (|| {
            supply.publish(first)?;
            if ways.endpoint {
                supply.endpoint = Some(endpoint::Endpoint::open(
                    &supply.dir,
                    supply.shared.clone(),
                    supply.secret.clone(),
                )?);
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(supply),
            Err(e) => {
                supply.finish();
                Err(e)
            }
        }
    }

    /// The variables the child gets: where the socket and file are, and the bearer secret.
    pub fn environment(&self) -> Vec<(&'static str, SecretString)> {
        let mut vars = Vec::new();
        if let Some(endpoint) = &self.endpoint {
            vars.push((
                SOCKET_VAR,
                SecretString::from(endpoint.path().to_string_lossy().into_owned()),
            ));
            vars.push((AUTH_VAR, self.secret.clone()));
        }
        if self.ways.file {
            vars.push((
                FILE_VAR,
                SecretString::from(self.file_path().to_string_lossy().into_owned()),
            ));
        }
        vars
    }

    fn file_path(&self) -> PathBuf {
        self.dir.join("token")
    }

    /// Makes `supplied` the current token: the file first (a child reading it must never find
    /// an older token than the endpoint gives), then the endpoint's copy.
    fn publish(&self, supplied: Supplied) -> Result<()> {
        let Supplied { token, refresh_at } = supplied;
        // As every way out: a token with a space or a line break is handed to nobody.
        crate::ops::resolve::check_token_text(&token.access_token)?;
        let mut state = self.shared.lock();
        let unchanged = state.current.as_ref().is_some_and(|c| {
            c.token.expose_secret() == token.access_token.expose_secret()
                && c.expires_at == token.expires_at
        });
        if self.ways.file && !unchanged {
            let path = self.file_path();
            crate::fsutil::write_atomic(&path, token.access_token.expose_secret().as_bytes())
                .map_err(|e| io_error("write", &path, e))?;
        }
        state.current = Some(Current {
            token: token.access_token,
            token_type: token.token_type,
            expires_at: token.expires_at,
            scope: token.scope,
        });
        state.refresh_at = refresh_at;
        state.failure = None;
        state.not_before = None;
        state.backoff = FIRST_BACKOFF;
        Ok(())
    }

    /// Keeps the token fresh until `child_done` is called (by the thread that waits for the
    /// child): asks `obtain` when the token is due or a request found none usable. An attempt
    /// that fails is reported to the endpoint's callers and tried again after a backoff; the
    /// failure itself goes to `on_failure` (the hook), success to `on_success`.
    pub fn keep(&self, mut obtain: impl FnMut() -> Result<Supplied>) {
        let mut state = self.shared.lock();
        loop {
            if state.done {
                return;
            }
            let now = self.shared.clock.unix();
            let held_back = state.not_before.is_some_and(|t| Instant::now() < t);
            if state.wanted && held_back {
                // A request waits, but the last attempt failed only just: it gets that answer.
                state.wanted = false;
                state.generation += 1;
                self.shared.changed.notify_all();
            }
            if (state.wanted || now >= state.refresh_at) && !held_back {
                drop(state);
                let result = obtain();
                let published = result.and_then(|supplied| self.publish(supplied));
                state = self.shared.lock();
                if let Err(e) = published {
                    state.failure = Some(Failure {
                        code: e.code(),
                        exit_code: e.exit_code(),
                        message: e.with_causes(),
                    });
                    state.not_before = Some(Instant::now() + state.backoff);
                    state.backoff = (state.backoff * 2).min(MAX_BACKOFF);
                }
                state.wanted = false;
                state.generation += 1;
                self.shared.changed.notify_all();
                continue;
            }
            let until_due = u64::try_from(state.refresh_at.saturating_sub(now)).unwrap_or(0);
            let pause = TICK.min(Duration::from_secs(until_due.max(1)));
            state = self
                .shared
                .changed
                .wait_timeout(state, pause)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// A handle for the thread that waits for the child: its `ended()` stops the keeper and
    /// the endpoint.
    pub fn watcher(&self) -> Watcher {
        Watcher(self.shared.clone())
    }

    /// Closes the endpoint and removes the run folder (socket, token file and all).
    pub fn finish(mut self) {
        self.shared.lock().done = true;
        self.shared.changed.notify_all();
        if let Some(endpoint) = self.endpoint.take() {
            endpoint.close();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Tells the supply that the child has ended.
pub struct Watcher(Arc<Shared>);

impl Watcher {
    /// The child has ended: the keeper returns, the endpoint refuses.
    pub fn ended(&self) {
        self.0.lock().done = true;
        self.0.changed.notify_all();
    }
}

/// Removes the run folders of runs that ended without cleaning up (a keychain killed with
/// SIGKILL, a power cut): a folder whose owner lock can be taken has nobody behind it. Best
/// effort: a folder that cannot be removed is left for the next run.
pub fn sweep(runs: &Path) {
    let Ok(entries) = std::fs::read_dir(runs) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_name().to_string_lossy().starts_with("exec-") {
            continue;
        }
        let Ok(file) = File::open(path.join("owner.lock")) else {
            // A folder without its lock is one being made right now, or broken: a broken one
            // older than a minute goes.
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(60));
            if old {
                let _ = std::fs::remove_dir_all(&path);
            }
            continue;
        };
        if file.try_lock().is_ok() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// The run's owner lock, locked before it appears under its name: a sweeper that finds
/// `owner.lock` unlocked knows its run is over, never that it has not started yet.
fn owner_lock(dir: &Path) -> Result<File> {
    let path = dir.join("owner.lock");
    let temp = dir.join(".owner.lock.tmp");
    let file = crate::fsutil::open_private(
        &temp,
        std::fs::OpenOptions::new().write(true).create_new(true),
    )
    .map_err(|e| io_error("create", &temp, e))?;
    file.try_lock().map_err(|e| {
        io_error(
            "lock",
            &path,
            match e {
                std::fs::TryLockError::Error(e) => e,
                std::fs::TryLockError::WouldBlock => std::io::ErrorKind::WouldBlock.into(),
            },
        )
    })?;
    std::fs::rename(&temp, &path).map_err(|e| io_error("create", &path, e))?;
    Ok(file)
}

/// A per-run bearer secret: 32 random bytes, URL-safe base64.
fn random_secret() -> SecretString {
    use base64::Engine as _;
    use rand::RngCore;
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    SecretString::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref()))
}

fn io_error(what: &str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        context: format!("cannot {what} {} for the child's token", path.display()),
        source,
    }
}

#[cfg(test)]
mod tests;
