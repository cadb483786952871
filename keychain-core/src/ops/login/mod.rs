//! Obtaining a valid access token for an account: from the cache, by refresh, or by a headless
//! logon, without ever breaking a single-use refresh-token chain.
//!
//! Order of operations (the reason this module exists):
//! 1. Without a lock, a cached token valid for more than the margin is served as it is.
//! 2. Otherwise the account's lock is taken and the record **re-read**: another process may have
//!    refreshed meanwhile, and then its token is served.
//! 3. A refresh's rotated refresh token is written back (atomically) before anything else, even
//!    when the provider rate-limits but still hands out a new one.
//! 4. Only a dead grant (`invalid_grant` or the provider's words for it) retires the refresh
//!    token and falls back to one headless logon; any other refusal keeps it and exits 5.
//! 5. A rejected logon is never retried, not even by the next run: the rejection is recorded in
//!    the account and later logons are refused locally (exit 4, no request) until the password
//!    or TOTP secret is changed or the operator says `login --retry`. Accounts get locked out by
//!    a wrong password in cron otherwise.
//! 6. The TOTP time step is recorded before a code is submitted, so no step is used twice, and
//!    it is recorded per **secret** (see `steps`): every account holding the same seed, in any
//!    process or on any machine of a shared keychain, takes the secret's lock from choosing a
//!    step until the provider has answered the code. A used step never lies beyond our clock
//!    plus `MAX_CLOCK_OFFSET`; a wait for a fresh step is bounded by [`max_totp_wait`].
//!    A code the provider did not take because it was used or expired (not a wrong secret)
//!    sets no guard: the logon waits for the next step and tries once more.
//! 7. Every provider text is scrubbed of the account's secrets before it is shown or logged
//!    (see `oauth::Scrubber`); credentials go only where `oauth::CredentialPolicy` allows.
#![deny(missing_docs)]

use std::path::PathBuf;

use secrecy::SecretString;

use crate::audit::Action;
use crate::audit::Event;
use crate::error::Result;
use crate::keychain::Keychain;
use crate::oauth::{CredentialPolicy, Guard};

mod cache;
mod headless;
mod lockout;
pub mod min_valid;
mod refresh;
mod session;
mod shared;
mod steps;
mod totp;

use cache::cached;
use session::{Session, refuse_moving, scrubber_for};

pub use totp::{TOTP_WAIT, TOTP_WAIT_LONGEST_PERIOD, max_totp_wait};

/// Where a token came from: what the caller reports, and what the record's last use says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The stored access token, still valid for the margin; nothing was asked of the provider.
    Cache,
    /// A refresh: the refresh token was spent and its successor stored.
    Refresh,
    /// A headless logon with the stored password and TOTP secret.
    Headless,
}

impl Source {
    /// The name recorded as the account's last use (`login_cache`, `login_refresh`,
    /// `login_headless`); stable, since records keep it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cache => "login_cache",
            Source::Refresh => "login_refresh",
            Source::Headless => "login_headless",
        }
    }
}

/// A valid access token. `Debug` never shows it.
pub struct Token {
    /// The access token itself.
    pub access_token: SecretString,
    /// The token type for the `Authorization` header, usually `Bearer`.
    pub token_type: String,
    /// When it expires, in Unix seconds by our clock; `None` when the provider did not say.
    pub expires_at: Option<i64>,
    /// The scope granted, when the provider stated it.
    pub scope: Option<String>,
    /// Where it came from.
    pub source: Source,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("expires_at", &self.expires_at)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// How [`obtain`] may get a token.
pub struct Options {
    /// Serve a cached token only when it stays valid for more than this many seconds.
    pub min_valid: i64,
    /// A folder to write each logon page to, secrets redacted (`login --debug-pages`).
    pub debug_pages: Option<PathBuf>,
    /// Report each step through the installed progress observer (`crate::progress`).
    pub progress: bool,
    /// Allow one logon although the provider rejected the password or code before
    /// (`login --retry`): the operator says the cause is fixed.
    pub retry: bool,
}

/// A valid access token for `name`.
pub fn obtain(kc: &Keychain, name: &str, opts: &Options) -> Result<Token> {
    // 0. A shared keychain's fast path (see `shared`). Else, unchanged:
    if let Some(token) = shared::from_copy(kc, name, opts) {
        return Ok(token);
    }
    // 1. The lean path: one read, one decryption, no lock, no write.
    let (account, _) = match kc.read(name) {
        Ok(read) => read,
        // A shared store that is down or sealed: only a cached token, from the local copy.
        Err(e) if shared::store_unavailable(&e) => return shared::offline(kc, name, opts, e),
        Err(e) => return Err(e),
    };
    refuse_moving(&account)?;
    if let Some(warning) = min_valid::warning(&account.header, opts.min_valid) {
        crate::progress::warning(&warning);
    }
    if let Some(token) = cached(&account, cache::now(kc), opts.min_valid) {
        audit(kc, name, Action::LoginCache, None)?;
        return Ok(token);
    }
    drop(account);

    // 2. Lock, then re-read, then decide. Nothing is asked of the provider unless the log can
    //    record it and the configuration authenticates (a rotated token must be storable).
    let lock = kc.lock(name)?;
    let (account, revision) = kc.read(name)?;
    refuse_moving(&account)?;
    let guard = Guard {
        policy: CredentialPolicy::default(),
        scrubber: scrubber_for(&account),
    };
    kc.check_config()?;
    kc.check_audit()?;
    let mut session = Session {
        kc,
        lock: &*lock,
        account,
        revision,
        opts,
        guard,
        steps: None,
    };
    let outcome = session.run();
    let counter = session.account.header.writes;
    let audit = |action| audit(kc, name, action, Some(counter));
    match outcome {
        Ok(token) => {
            let action = match token.source {
                Source::Cache => Action::LoginCache,
                Source::Refresh => Action::LoginRefresh,
                Source::Headless => Action::LoginHeadless,
            };
            // Recorded before the token is handed out: no audit, no token.
            audit(action)?;
            Ok(token)
        }
        Err(e) => {
            let reason = format!("exit {}: {}", e.exit_code(), e.with_causes());
            audit(Action::LoginFailed(reason))?;
            Err(e)
        }
    }
}

/// A token time as the records of `kc` keep it (a shared keychain's on the store's clock, see
/// `cache::now`) on this machine's clock, as late as it can be: for a rule counted from it on
/// this machine (the token keeper's wait for Exact's 570 s), which must never fire early.
pub fn stored_time_on_our_clock(kc: &Keychain, t: i64) -> i64 {
    cache::now(kc).to_local_late(t)
}

/// A time a record keeps on the store's clock (a refresh token's last use) on this machine's
/// clock, as early as it can be, for a count that must not come out short (its idle days), where
/// the keychain is not at hand (the audit report's rows). It uses the offset this process heard
/// from the store, which only a shared keychain's process does; without one, the time as it is.
pub fn stored_time_on_our_clock_early(t: i64) -> i64 {
    use crate::clock::reference;
    reference::Now::at(std::time::SystemTime::now(), reference::last()).to_local(t)
}

/// Records a login; `counter` is the record's write counter when it was read or written under
/// the lock (a lean cache hit, read without the lock, carries none).
fn audit(kc: &Keychain, name: &str, action: Action, counter: Option<u64>) -> Result<()> {
    let mut event = Event::new("login", action).account(name);
    if let Some(counter) = counter {
        event = event.counter(counter);
    }
    kc.log_event(event)
}

/// [`obtain`], then the on-failure hook's bookkeeping (`crate::hook`): a token closes the
/// account's incident; a failure that needs a person runs `on_failure` (when one is configured)
/// once per incident. The error is returned unchanged.
pub fn obtain_with_hook(
    kc: &Keychain,
    account: &str,
    opts: &Options,
    on_failure: Option<&std::ffi::OsStr>,
) -> Result<Token> {
    match obtain(kc, account, opts) {
        Ok(token) => {
            crate::hook::succeeded(kc, account);
            Ok(token)
        }
        Err(error) => {
            if let Some(command) = on_failure.filter(|c| !c.is_empty()) {
                crate::hook::failed(kc, account, &error, command);
            }
            Err(error)
        }
    }
}

#[cfg(test)]
mod clock_tests;
