//! The core's handle on a person: the progress it reports and the secrets it asks for, as traits
//! the command line implements. Core code never prints and never reads a terminal itself; it
//! describes what happens ([`Step`], [`Warning`], [`Wait`]) and the CLI decides whether and how
//! to show it (`output::Progress` renders the lines people see on standard error).
//!
//! Nothing passed to an [`Observer`] carries a secret: URLs are redacted before they get here,
//! so a renderer cannot show a code or a state by mistake.

use std::sync::Arc;

use secrecy::SecretString;

/// A step of a login, for a person watching it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// The headless logon sends a request, or has reached the redirect URI. `step` is
    /// keychain's name for it ("authorize", "password", "one-time code", ...); `url` is redacted
    /// (no query values).
    Logon { step: &'a str, url: &'a str },
    /// `login --retry`: one logon attempt although the provider rejected a credential before.
    RetryDespiteRejection,
    /// The access token of `account` is being refreshed.
    Refreshing { account: &'a str },
    /// The provider said the refresh token is dead (`reason`, scrubbed); a logon follows.
    RefreshTokenRejected { reason: &'a str },
    /// The TOTP time step was used; the logon waits `seconds` for the next one.
    WaitingForTotp { seconds: u64 },
}

/// Something a person should know even when they did not ask to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// The provider's `Date` differs from our clock by `offset` seconds, more than
    /// `max_followed`: one-time codes use this machine's clock.
    ProviderClockNotFollowed { offset: i64, max_followed: i64 },
}

/// A wait that may last long enough for a person to wonder what is going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait<'a> {
    /// Another process holds `account`'s lock.
    Lock { account: &'a str },
    /// scrypt derives the key from the passphrase (about a second).
    KeyDerivation,
}

/// Ends a [`Wait`] when dropped (a renderer may erase the line it showed).
#[must_use = "the wait ends when the guard is dropped"]
pub struct WaitGuard {
    /// Held only to be dropped.
    _inner: Option<Box<dyn std::any::Any>>,
}

impl WaitGuard {
    /// A wait nobody shows.
    pub fn none() -> Self {
        WaitGuard { _inner: None }
    }

    /// A wait that ends when `inner` is dropped.
    pub fn new(inner: impl std::any::Any) -> Self {
        WaitGuard {
            _inner: Some(Box::new(inner)),
        }
    }
}

/// Receives what core code has to say while it works. Every method has a default that shows
/// nothing, so an observer implements only what it renders.
pub trait Observer: Send + Sync {
    fn step(&self, _step: &Step<'_>) {}
    fn warning(&self, _warning: &Warning) {}
    fn waiting(&self, _wait: &Wait<'_>) -> WaitGuard {
        WaitGuard::none()
    }
}

/// Shows nothing: for tests, and for library callers that want no reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {}

/// Asks a person for a secret (STYLE habit 12: interaction is a trait). The CLI answers from a
/// terminal without echo; without a terminal it fails at once, so a cron job never blocks.
pub trait Prompt: Send + Sync {
    /// Reads one secret without echo; `Err` when there is nobody to ask.
    fn secret(&self, prompt: &str) -> std::io::Result<SecretString>;
}

/// Asks nobody: every question fails at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPrompt;

impl Prompt for NoPrompt {
    fn secret(&self, _prompt: &str) -> std::io::Result<SecretString> {
        Err(std::io::Error::other("no terminal to prompt on"))
    }
}

/// The observer and the prompt a keychain was opened with.
#[derive(Clone)]
pub struct Ui {
    pub observer: Arc<dyn Observer>,
    pub prompt: Arc<dyn Prompt>,
}

impl Ui {
    /// Reports nothing and asks nobody: what a keychain opened by a library caller uses.
    pub fn silent() -> Self {
        Ui {
            observer: Arc::new(Silent),
            prompt: Arc::new(NoPrompt),
        }
    }
}

impl Default for Ui {
    fn default() -> Self {
        Ui::silent()
    }
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ui")
    }
}
