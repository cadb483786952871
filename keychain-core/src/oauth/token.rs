//! The two token calls: redeem an authorization code, and refresh.
//!
//! Both make exactly one request. What comes back is classified so the caller can act on it:
//! a rejected grant must never be retried, a rate-limited one may still hand over a new refresh
//! token (which must be stored, or the chain is lost), an unavailable provider may be retried
//! later. Token values never reach an error text.
#![deny(missing_docs)]

use std::fmt;
use std::time::Duration;

use reqwest::blocking::Client;
use secrecy::SecretString;
use url::Url;

use super::policy::CredentialRefused;
use super::{Endpoints, ErrorClass, Guard};
use crate::http::{self, SecretForm};

mod answer;
#[cfg(test)]
mod tests;

use answer::{Classified, classify};
pub use answer::{MAX_EXPIRES_IN, expires_in_from_text, is_grant_dead, is_token_text};

/// A successful answer of a token endpoint. Token values are secrets from the moment they are
/// parsed; `Debug` shows which ones are present, never their values.
pub struct TokenResponse {
    /// The access token itself; short-lived (10 minutes at Exact Online).
    pub access_token: SecretString,
    /// The token type the provider named, usually `bearer`.
    pub token_type: String,
    /// The access token's lifetime in seconds from now, as the provider gave it (a number or
    /// text), clamped to a year; `None` when the provider did not say.
    pub expires_in: Option<u64>,
    /// The new refresh token, if the provider rotated it. A single-use provider (Exact Online)
    /// has already retired the old one: this must be stored before the access token is used.
    pub refresh_token: Option<SecretString>,
    /// The scope granted, when the provider states it.
    pub scope: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("scope", &self.scope)
            .finish()
    }
}

/// Why a token call failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The grant itself is dead: `invalid_grant` (a used, expired or revoked refresh token, a
    /// bad code), or a provider's own words for it (see [`is_grant_dead`]). Only this retires
    /// a stored refresh token; retrying cannot help, a new logon may.
    #[error("the provider rejected the grant: {error}{}", describe(.description))]
    Rejected {
        /// The OAuth2 `error` code (`HTTP <status>` when there was none), scrubbed of anything
        /// secret-like.
        error: String,
        /// The provider's `error_description`, scrubbed likewise.
        description: Option<String>,
    },
    /// Any other 4xx: a WAF's 403, a proxy's 407, a moved endpoint's 404, `invalid_client`.
    /// It says nothing about the grant, so the refresh token is kept.
    #[error("the token endpoint {path} refused the request: HTTP {status} {error}{}; the stored refresh token was kept", describe(.description))]
    Refused {
        /// The host and path of the token endpoint (no query; see [`super::endpoint`]).
        path: String,
        /// The HTTP status code.
        status: u16,
        /// The OAuth2 `error` code, scrubbed of anything secret-like, or else the status's
        /// reason phrase.
        error: String,
        /// The provider's `error_description`, scrubbed likewise.
        description: Option<String>,
    },
    /// The provider asks to slow down. If it still rotated the refresh token, the new one is in
    /// `new_refresh_token` and must be stored before anything else happens.
    #[error("the provider rate-limited the request: {error}{}", describe(.description))]
    RateLimited {
        /// The OAuth2 `error` code (or the HTTP status in words), scrubbed.
        error: String,
        /// The provider's `error_description`, scrubbed.
        description: Option<String>,
        /// How long the provider asked to wait (`Retry-After`), if it said.
        retry_after: Option<Duration>,
        /// A refresh token the provider rotated in spite of the limit; store it first.
        new_refresh_token: Option<SecretString>,
    },
    /// Unreachable, timed out or a server error: nothing was decided, try again later.
    #[error("the token endpoint {path} is unavailable: {reason}")]
    Unavailable {
        /// The host and path of the token endpoint (no query; see [`super::endpoint`]).
        path: String,
        /// What went wrong (a timeout, a refused connection, an HTTP 5xx), without values.
        reason: String,
    },
    /// An answer that fits no rule of OAuth2.
    #[error("the token endpoint {path} answered something unexpected: {detail}")]
    Protocol {
        /// The host and path of the token endpoint (no query; see [`super::endpoint`]).
        path: String,
        /// Which field was missing or malformed; never its value.
        detail: String,
    },
    /// A success answer without a usable access token that still carried a refresh token: the
    /// provider may have rotated the old one, so `new_refresh_token` must be stored before
    /// anything else happens, as with [`TokenError::RateLimited`].
    #[error(
        "the token endpoint {path} answered something unexpected: {detail} (it carried a new refresh token)"
    )]
    UnusableWithRefreshToken {
        /// The host and path of the token endpoint (no query; see [`super::endpoint`]).
        path: String,
        /// What made the answer unusable; never a value from it.
        detail: String,
        /// The refresh token that came with it; store it before anything else.
        new_refresh_token: SecretString,
    },
    /// The token endpoint is not a place this account's credentials may go; nothing was sent.
    #[error(transparent)]
    Policy(#[from] CredentialRefused),
}

fn describe(description: &Option<String>) -> String {
    description
        .as_ref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

impl crate::advice::AccountAdvice for TokenError {
    /// What to do about it, naming the account's command when the caller knows the account.
    fn hint_for(&self, account: Option<&str>) -> Option<String> {
        match self {
            TokenError::Rejected { .. } => Some(format!("a new logon is needed: {} logs on headlessly with the stored password and TOTP secret", crate::advice::account_command("login", account, ""))),
            TokenError::RateLimited { .. } | TokenError::Unavailable { .. } => Some("try again later".into()),
            TokenError::Refused { .. } => Some("check the client id and secret and that no proxy or firewall stands in the way; try again later".into()),
            _ => None,
        }
    }
}

impl TokenError {
    /// How the caller should treat it: only [`ErrorClass::Rejected`] retires a stored refresh
    /// token; the class also picks the exit code.
    pub fn class(&self) -> ErrorClass {
        match self {
            TokenError::Rejected { .. } => ErrorClass::Rejected,
            // A refusal that is not about the grant is fixed elsewhere (a proxy, a WAF, the
            // client's registration) or passes; exit 5, never a retired token.
            TokenError::RateLimited { .. }
            | TokenError::Refused { .. }
            | TokenError::Unavailable { .. } => ErrorClass::Unavailable,
            TokenError::Protocol { .. } | TokenError::UnusableWithRefreshToken { .. } => {
                ErrorClass::Protocol
            }
            TokenError::Policy(_) => ErrorClass::Policy,
        }
    }
}

/// Trades a refresh token for new tokens (`grant_type=refresh_token`, client_secret_post).
pub fn refresh(
    client: &Client,
    endpoints: &Endpoints,
    guard: &Guard,
    client_id: &str,
    client_secret: Option<&SecretString>,
    refresh_token: &SecretString,
) -> Result<TokenResponse, TokenError> {
    let mut form = SecretForm::new();
    form.push_plain("grant_type", "refresh_token");
    form.push("refresh_token", refresh_token.clone());
    add_client(&mut form, client_id, client_secret);
    post(client, guard, &endpoints.token, &form, &[refresh_token])
}

/// Redeems an authorization code with its PKCE verifier (`grant_type=authorization_code`).
// Each argument is one field of the request; a struct around them would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn exchange_code(
    client: &Client,
    endpoints: &Endpoints,
    guard: &Guard,
    client_id: &str,
    client_secret: Option<&SecretString>,
    code: &SecretString,
    code_verifier: &SecretString,
    redirect_uri: &Url,
) -> Result<TokenResponse, TokenError> {
    let mut form = SecretForm::new();
    form.push_plain("grant_type", "authorization_code");
    form.push("code", code.clone());
    form.push("code_verifier", code_verifier.clone());
    form.push_plain("redirect_uri", redirect_uri.as_str());
    add_client(&mut form, client_id, client_secret);
    post(
        client,
        guard,
        &endpoints.token,
        &form,
        &[code, code_verifier],
    )
}

fn add_client(form: &mut SecretForm, client_id: &str, client_secret: Option<&SecretString>) {
    form.push_plain("client_id", client_id);
    if let Some(secret) = client_secret {
        form.push("client_secret", secret.clone());
    }
}

fn post(
    client: &Client,
    guard: &Guard,
    url: &Url,
    form: &SecretForm,
    sent: &[&SecretString],
) -> Result<TokenResponse, TokenError> {
    guard.policy.check("token request", url, true)?;
    let path = super::endpoint(url);
    let resp = client
        .post(url.clone())
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::ACCEPT, "application/json")
        .body(form.encode())
        .send()
        .map_err(
            |e| match CredentialRefused::from_send_error("token request", &e) {
                Some(refused) => TokenError::Policy(refused),
                None => TokenError::Unavailable {
                    path: path.clone(),
                    reason: super::describe_send_error(&e),
                },
            },
        )?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = http::read_capped(resp, http::MAX_JSON_ANSWER).map_err(|e| match e {
        http::BodyError::TooLarge { .. } => TokenError::Protocol {
            path: path.clone(),
            detail: e.to_string(),
        },
        http::BodyError::Read => TokenError::Unavailable {
            path: path.clone(),
            reason: e.to_string(),
        },
    })?;
    let mut scrubber = guard.scrubber.clone();
    for secret in sent {
        scrubber.add(secret);
    }
    classify(status, retry_after, &body, &scrubber).map_err(|e| match e {
        Classified::Error(e) => e,
        Classified::Refused {
            status,
            error,
            description,
        } => TokenError::Refused {
            path,
            status,
            error,
            description,
        },
        Classified::Protocol(detail) => TokenError::Protocol { path, detail },
        Classified::Rotated(detail, new_refresh_token) => TokenError::UnusableWithRefreshToken {
            path,
            detail,
            new_refresh_token,
        },
        Classified::Unavailable(reason) => TokenError::Unavailable { path, reason },
    })
}
