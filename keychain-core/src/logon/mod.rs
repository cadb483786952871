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

/// Everything one logon needs. The password is borrowed: the engine never keeps a copy past
/// the call.
pub struct LogonRequest<'a> {
    pub endpoints: &'a Endpoints,
    /// Where the password and codes may be sent (checked before every request carrying them),
    /// and the secrets no provider text may show.
    pub guard: &'a Guard,
    pub client_id: &'a str,
    pub redirect_uri: &'a Url,
    pub scope: &'a str,
    pub flow: Flow,
    pub user: &'a str,
    pub password: &'a SecretString,
    /// When set, every page seen is written there, with secrets and cookie values redacted.
    pub debug_pages: Option<&'a Path>,
    /// One line per step on stderr.
    pub progress: bool,
}

/// Where one-time codes come from.
pub trait TotpProvider {
    /// Called with the best estimate of the provider's current unix time; returns the code to
    /// submit. The implementation enforces "never the same time step twice" and waits for a
    /// fresh step when needed.
    fn code(&mut self, provider_unix_time: u64) -> Result<SecretString, LogonError>;
}

/// What a successful logon hands back.
pub enum LogonOutcome {
    /// Redeem with `oauth::exchange_code` (the verifier is the PKCE secret that goes with it).
    Code {
        code: SecretString,
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

/// Why a logon failed. Texts name the step, the URL path and field names, never values.
#[derive(Debug, thiserror::Error)]
pub enum LogonError {
    /// The provider refused what was sent in `step`. Not retried; check the stored credentials.
    #[error("the provider rejected the {step} (fields: {}); it was not retried: check the stored credentials", .fields.join(", "))]
    Rejected { step: String, fields: Vec<String> },
    /// The provider's redirect carried an OAuth2 error.
    #[error("the provider answered the authorization with `{error}`{}", .description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Provider {
        error: String,
        description: Option<String>,
    },
    #[error("{step}: {path} is unavailable: {reason}; try again later")]
    Unavailable {
        step: String,
        path: String,
        reason: String,
    },
    #[error("{step}: {path} answered something unexpected: {detail}")]
    Protocol {
        step: String,
        path: String,
        detail: String,
    },
    /// A page the engine does not know how to answer.
    #[error("unknown page at {path} (HTTP {status}; fields: {}): the provider's logon pages may have changed; rerun with debug pages to see it", if .fields.is_empty() { "none".to_string() } else { .fields.join(", ") })]
    UnknownPage {
        path: String,
        status: u16,
        fields: Vec<String>,
    },
    /// The provider asks for a one-time code and no TOTP source was given.
    #[error("{path} asks for a one-time code, but this account has no TOTP secret; add one")]
    TotpRequired { path: String },
    /// The TOTP source failed.
    #[error("no one-time code: {0}")]
    Totp(String),
    #[error("the logon did not reach the redirect URI after {hops} steps (last at {path})")]
    TooManySteps { hops: u32, path: String },
    #[error("could not write debug pages to {}: {reason}", .dir.display())]
    DebugPages { dir: PathBuf, reason: String },
    /// A page asked for a credential to go where the account does not allow; nothing was sent.
    #[error(transparent)]
    Policy(#[from] CredentialRefused),
}

impl LogonError {
    /// The same error with every text that came from the provider (paths, field names,
    /// details, an OAuth2 error and its description) scrubbed of the account's secrets. The
    /// step names are keychain's own and stay as they are.
    pub fn scrubbed(self, scrubber: &crate::oauth::Scrubber) -> LogonError {
        let s = |t: String| scrubber.scrub(&t);
        let all = |v: Vec<String>| v.into_iter().map(s).collect();
        match self {
            LogonError::Rejected { step, fields } => LogonError::Rejected {
                step,
                fields: all(fields),
            },
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
            e @ (LogonError::Totp(_) | LogonError::DebugPages { .. } | LogonError::Policy(_)) => e,
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            LogonError::Rejected { .. } => ErrorClass::Rejected,
            LogonError::Provider { error, .. } if error == "access_denied" => ErrorClass::Rejected,
            LogonError::Unavailable { .. } => ErrorClass::Unavailable,
            LogonError::Policy(_) => ErrorClass::Policy,
            _ => ErrorClass::Protocol,
        }
    }
}
