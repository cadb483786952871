//! OAuth2 for keychain: where a provider's endpoints are, and the token calls.
//!
//! This module talks to token endpoints and never prints what it sends or receives: tokens,
//! codes, verifiers and client secrets live in `SecretString` and errors name only the step,
//! the URL path and field names.

pub mod http;
mod provider;
mod token;

pub use provider::{
    DiscoveryError, Endpoints, ProviderKind, discover, exact_base, exact_endpoints,
    exact_endpoints_at,
};
pub(crate) use token::sanitize as sanitize_text;
pub use token::{TokenError, TokenResponse, exchange_code, is_token_text, refresh};

/// What kind of failure an error is, so the caller can pick an exit code and decide whether a
/// retry may help. Suggested exit codes: `Rejected` 4, `Unavailable` 5, `Protocol` 5 (or 2
/// where the cause is likely a configuration, such as a wrong provider kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The provider said no to the credentials. Never retry: a retried password can lock the
    /// account, a retried single-use token burns the error budget.
    Rejected,
    /// Unreachable, timed out, 5xx or rate-limited: nothing was decided; retry later.
    Unavailable,
    /// An answer or page that fits no rule we know.
    Protocol,
}

/// A short reason for a failed send, without the URL (reqwest's texts include it, and a URL
/// may carry a code or token).
pub(crate) fn describe_send_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else if e.is_body() || e.is_decode() {
        "the answer could not be read".into()
    } else {
        "the request failed".into()
    }
}
