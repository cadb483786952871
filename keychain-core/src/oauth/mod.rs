//! OAuth2 for keychain: where a provider's endpoints are, and the token calls.
//!
//! This module talks to token endpoints and never prints what it sends or receives: tokens,
//! codes, verifiers and client secrets live in `SecretString` and errors name only the step,
//! the URL path and field names.
#![deny(missing_docs)]

mod endpoints;
pub mod http;
pub mod loopback;
pub mod policy;
mod token;

use crate::scrub::Scrubber;
pub use endpoints::{DiscoveryError, Endpoints, discover};
pub use policy::{CredentialPolicy, CredentialRefused};

/// What every request to a provider must respect for one account: where its credentials may
/// go, and which of its secrets no provider text may show.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// Where the account's credentials may be sent; checked before every request that carries
    /// one.
    pub policy: CredentialPolicy,
    /// The account's secrets, cut out of any provider text before it is shown or logged.
    pub scrubber: Scrubber,
}

impl Guard {
    /// The endpoints' own hosts and nothing to scrub: for tests and library callers.
    pub fn for_endpoints(endpoints: &Endpoints) -> Self {
        Guard {
            policy: CredentialPolicy::for_endpoints(endpoints),
            scrubber: Scrubber::new(),
        }
    }
}
pub use token::{
    MAX_EXPIRES_IN, TokenError, TokenResponse, exchange_code, expires_in_from_text, is_grant_dead,
    is_token_text, refresh,
};

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
    /// keychain refused to send a credential where the account does not allow it: the
    /// account's settings must change (exit 2).
    Policy,
}

/// A short reason for a failed send, without the URL (reqwest's texts include it, and a URL
/// may carry a code or token).
/// Where a request went, for an error: the host (and port, when not the scheme's default) and
/// the path, never the query or any user info: "sso.example.com/.well-known/openid-configuration".
/// Every network error names the host it was talking to, so a person knows which machine did
/// not answer.
pub fn endpoint(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("(no host)");
    match url.port() {
        Some(port) => format!("{host}:{port}{}", url.path()),
        None => format!("{host}{}", url.path()),
    }
}

pub(crate) fn describe_send_error(e: &reqwest::Error) -> String {
    if let Some(foreign) = loopback::foreign_listener(e) {
        foreign.to_string()
    } else if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else if e.is_body() || e.is_decode() {
        "the answer could not be read".into()
    } else {
        "the request failed".into()
    }
}
