//! The headless logon: a browser's part of an OAuth2 authorization, without a browser.
//!
//! The engine reads each page the provider serves and decides what to send from what it sees
//! (forms and their fields, Azure AD B2C settings, LemonLDAP::NG message markers), rather than
//! replaying a fixed script, so that a provider that reorders its steps keeps working and one
//! that changes beyond recognition fails with a clear "unknown page" naming the path and fields.
//!
//! It must never send a password or one-time code twice in one call (a rejected credential is
//! reported, not retried: retries lock accounts), never follow a redirect to the redirect URI
//! (nothing listens there: the code is read from the URL), and never let a secret reach an
//! error, the progress lines or the debug pages.
#![deny(missing_docs)]

mod adapters;
mod browser;
mod debug;
mod engine;
mod finisher;
mod forms;
mod guard;
mod html;
#[cfg(test)]
mod proptests;

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use url::Url;

use crate::oauth::{CredentialRefused, Endpoints, ErrorClass, Guard, TokenResponse};

pub use browser::MAX_CLOCK_OFFSET;
pub use engine::{headless_logon, headless_logon_counted};

/// Which OAuth2 flow the logon runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flow {
    /// Authorization code with PKCE (S256): the default.
    #[default]
    Code,
    /// `response_type=token`: the access token comes back in the redirect's fragment.
    Implicit,
}

/// A kind of logon page the engine can fill, by its adapter. A provider says which its pages
/// need (`providers::ProviderRules::page_adapters`); a page only another adapter knows is then an
/// unknown page, not something to guess at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAdapter {
    /// Plain HTML forms (LemonLDAP::NG, Keycloak, most IdPs).
    HtmlForm,
    /// Azure AD B2C self-asserted pages (Exact Online's sign-in).
    AzureB2c,
}

impl PageAdapter {
    /// Every adapter the engine has.
    pub const ALL: &'static [PageAdapter] = &[PageAdapter::HtmlForm, PageAdapter::AzureB2c];

    /// A short name, for tests and debugging.
    pub fn name(self) -> &'static str {
        match self {
            PageAdapter::HtmlForm => "html-form",
            PageAdapter::AzureB2c => "azure-b2c",
        }
    }
}

/// Everything one logon needs. The password is borrowed: the engine never keeps a copy past
/// the call.
pub struct LogonRequest<'a> {
    /// The provider's authorization endpoint (where the logon starts) and token endpoint.
    pub endpoints: &'a Endpoints,
    /// Where the password and codes may be sent (checked before every request carrying them),
    /// and the secrets no provider text may show.
    pub guard: &'a Guard,
    /// The OAuth2 client id, sent in the authorization URL.
    pub client_id: &'a str,
    /// The registered redirect URI. The engine stops at the redirect to it and reads the code
    /// (or the tokens) from the URL; it never requests it.
    pub redirect_uri: &'a Url,
    /// The scope to ask for (space-separated; may be empty).
    pub scope: &'a str,
    /// Which flow to run.
    pub flow: Flow,
    /// The page adapters the provider's pages need.
    pub adapters: &'a [PageAdapter],
    /// The user name typed into the logon form.
    pub user: &'a str,
    /// The password; sent at most once per call, and only where `guard` allows.
    pub password: &'a SecretString,
    /// When set, every page seen is written there, with secrets and cookie values redacted.
    pub debug_pages: Option<&'a Path>,
    /// Report one line per step through the installed progress observer (`crate::progress`).
    pub progress: bool,
    /// Our clock: the provider's time is estimated from it and its `Date` headers, and the
    /// TOTP step guard reads the same one, so the step computed and the step recorded agree.
    pub clock: &'a dyn crate::clock::Clock,
}

/// Where one-time codes come from.
pub trait TotpSource {
    /// Called with the best estimate of the provider's current unix time; returns the code to
    /// submit. The implementation enforces "never the same time step twice" and waits for a
    /// fresh step when needed.
    fn code(&mut self, provider_unix_time: u64) -> Result<SecretString, LogonError>;
}

/// What a successful logon hands back.
pub enum LogonOutcome {
    /// Redeem with `oauth::exchange_code` (the verifier is the PKCE secret that goes with it).
    Code {
        /// The authorization code from the redirect; single-use and short-lived.
        code: SecretString,
        /// The PKCE verifier this logon made for it.
        code_verifier: SecretString,
    },
    /// Implicit flow: the tokens themselves.
    Token(TokenResponse),
}

impl fmt::Debug for LogonOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogonOutcome::Code { .. } => f.write_str("LogonOutcome::Code([redacted])"),
            LogonOutcome::Token(t) => write!(f, "LogonOutcome::Token({t:?})"),
        }
    }
}

/// Counts kept during one logon, for performance notes and for tests that pin "exactly one
/// password attempt".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogonStats {
    /// HTTP requests sent.
    pub requests: u32,
    /// Requests that carried the password.
    pub password_posts: u32,
    /// Requests that carried a one-time code.
    pub code_posts: u32,
}

/// Why a logon failed. Texts name the step, the host and path (see `crate::oauth::endpoint`) and field names, never values.
#[derive(Debug, thiserror::Error)]
pub enum LogonError {
    /// The provider refused what was sent in `step`. Not retried; check the stored credentials.
    #[error("the provider rejected the {step} (fields: {}){}; it was not retried", .fields.join(", "), .said.as_ref().map(|s| format!(", saying \"{s}\"")).unwrap_or_default())]
    Rejected {
        /// Which step was refused (keychain's own name for it, e.g. the password form).
        step: String,
        /// The names of the fields that were sent, never their values.
        fields: Vec<String>,
        /// The provider's own words for the refusal, when it gave any (scrubbed).
        said: Option<String>,
    },
    /// The provider did not take the one-time code, in words that do not say the secret is
    /// wrong: the code was used already (RFC 6238 §5.2: once per person, whichever account sent
    /// it), it expired, or the clocks differ. Not a rejection: no lockout guard; the caller may
    /// wait for the next time step and try once more.
    #[error(
        "the provider did not take the one-time code, saying \"{said}\" (a used or expired code, not a wrong secret)"
    )]
    CodeNotTaken {
        /// The provider's words (scrubbed).
        said: String,
    },
    /// The provider's redirect carried an OAuth2 error.
    #[error("the provider answered the authorization with `{error}`{}", .description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Provider {
        /// The OAuth2 `error` code (`access_denied` counts as a rejection).
        error: String,
        /// The provider's `error_description`, if any.
        description: Option<String>,
    },
    /// A page could not be fetched: unreachable, timed out or a server error. Nothing was
    /// decided; try again later.
    #[error("{step}: {path} is unavailable: {reason}")]
    Unavailable {
        /// Which step was under way.
        step: String,
        /// The host and path that failed (no query).
        path: String,
        /// What went wrong, in keychain's words.
        reason: String,
    },
    /// A page or redirect that breaks the rules the engine relies on (a redirect without a
    /// location, a body over its cap, a bad URL).
    #[error("{step}: {path} answered something unexpected: {detail}")]
    Protocol {
        /// Which step was under way.
        step: String,
        /// The host and path that answered (no query).
        path: String,
        /// What was wrong, naming fields, never values.
        detail: String,
    },
    /// A page the engine does not know how to answer.
    #[error("unknown page at {path} (HTTP {status}; fields: {}): the provider's logon pages may have changed", if .fields.is_empty() { "none".to_string() } else { .fields.join(", ") })]
    UnknownPage {
        /// The host and path of the page (no query).
        path: String,
        /// The page's HTTP status.
        status: u16,
        /// The names of the page's form fields, to recognise it by.
        fields: Vec<String>,
    },
    /// The provider asks for a one-time code and no TOTP source was given.
    #[error("{path} asks for a one-time code, but this account has no TOTP secret")]
    TotpRequired {
        /// The host and path of the page asking for the code.
        path: String,
    },
    /// The TOTP source failed (the step guard refused, or a fresh step is too far away); the
    /// text is the source's, and carries no code or seed.
    #[error("no one-time code: {0}")]
    Totp(String),
    /// The pages kept leading on without reaching the redirect URI: a loop, or a provider flow
    /// the engine does not finish.
    #[error("the logon did not reach the redirect URI after {hops} steps (last at {path})")]
    TooManySteps {
        /// How many pages were followed (the engine's limit).
        hops: u32,
        /// The host and path of the last page.
        path: String,
    },
    /// The debug pages folder cannot be used (not a private folder of this user's) or a page
    /// could not be written there; the logon stops rather than run without the record the
    /// operator asked for.
    #[error("could not write debug pages to {}: {reason}", .dir.display())]
    DebugPages {
        /// The debug pages folder.
        dir: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A page asked for a credential to go where the account does not allow; nothing was sent.
    #[error(transparent)]
    Policy(#[from] CredentialRefused),
}

impl LogonError {
    /// The same error with every text that came from the provider (paths, field names,
    /// details, an OAuth2 error and its description) scrubbed of the account's secrets. The
    /// step names are keychain's own and stay as they are.
    pub fn scrubbed(self, scrubber: &crate::scrub::Scrubber) -> LogonError {
        let s = |t: String| scrubber.scrub(&t);
        let all = |v: Vec<String>| v.into_iter().map(s).collect();
        match self {
            LogonError::Rejected { step, fields, said } => LogonError::Rejected {
                step,
                fields: all(fields),
                said: said.map(s),
            },
            LogonError::CodeNotTaken { said } => LogonError::CodeNotTaken { said: s(said) },
            LogonError::Provider { error, description } => LogonError::Provider {
                error: s(error),
                description: description.map(s),
            },
            LogonError::Unavailable { step, path, reason } => LogonError::Unavailable {
                step,
                path: s(path),
                reason,
            },
            LogonError::Protocol { step, path, detail } => LogonError::Protocol {
                step,
                path: s(path),
                detail: s(detail),
            },
            LogonError::UnknownPage {
                path,
                status,
                fields,
            } => LogonError::UnknownPage {
                path: s(path),
                status,
                fields: all(fields),
            },
            LogonError::TotpRequired { path } => LogonError::TotpRequired { path: s(path) },
            LogonError::TooManySteps { hops, path } => LogonError::TooManySteps {
                hops,
                path: s(path),
            },
            // The host a page asked for came from the page.
            LogonError::Policy(refused) => LogonError::Policy(refused.scrubbed(scrubber)),
            e @ (LogonError::Totp(_) | LogonError::DebugPages { .. }) => e,
        }
    }

    /// The provider did not take the code for a reason a fresh time step may cure.
    pub fn is_code_not_taken(&self) -> bool {
        matches!(self, LogonError::CodeNotTaken { .. })
    }

    /// How the caller should treat it: only [`ErrorClass::Rejected`] records the rejection and
    /// stops later logons; the class also picks the exit code.
    pub fn class(&self) -> ErrorClass {
        match self {
            LogonError::Rejected { .. } => ErrorClass::Rejected,
            LogonError::Provider { error, .. } if error == "access_denied" => ErrorClass::Rejected,
            LogonError::Unavailable { .. } | LogonError::CodeNotTaken { .. } => {
                ErrorClass::Unavailable
            }
            // The account lacks what its provider asks for: its settings must change, and
            // no wait will help (exit 2, never "try again later").
            LogonError::Policy(_) | LogonError::TotpRequired { .. } => ErrorClass::Policy,
            _ => ErrorClass::Protocol,
        }
    }
}

impl crate::advice::AccountAdvice for LogonError {
    /// What to do about it, where this module knows better than the caller; a rejection's
    /// advice (check the stored credentials) is the caller's, who knows the account. A command
    /// in the advice names `account` when the caller gives it.
    fn hint_for(&self, account: Option<&str>) -> Option<String> {
        match self {
            LogonError::Unavailable { .. } => Some("try again later".into()),
            LogonError::CodeNotTaken { .. } => Some(
                "try again after the next TOTP time step; if it keeps happening, check this machine's clock"
                    .into(),
            ),
            LogonError::UnknownPage { .. } => Some(
                "rerun with --debug-pages DIR to see the pages (secrets redacted) and report them"
                    .into(),
            ),
            LogonError::TotpRequired { .. } => Some(format!(
                "add the TOTP secret with {}",
                crate::advice::account_command("set", account, " --totp-file FILE")
            )),
            _ => None,
        }
    }
}
