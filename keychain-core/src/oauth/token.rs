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
use serde::Deserialize;
use url::Url;

use super::policy::CredentialRefused;
use super::{Endpoints, ErrorClass, Guard};
use crate::http::{self, SecretForm};
use crate::scrub::{Scrubber, sanitize};

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
        /// The URL path of the token endpoint (no query, no host).
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
        /// The URL path of the token endpoint (no query, no host).
        path: String,
        /// What went wrong (a timeout, a refused connection, an HTTP 5xx), without values.
        reason: String,
    },
    /// An answer that fits no rule of OAuth2.
    #[error("the token endpoint {path} answered something unexpected: {detail}")]
    Protocol {
        /// The URL path of the token endpoint (no query, no host).
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
        /// The URL path of the token endpoint (no query, no host).
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

impl TokenError {
    /// What to do about it, naming the account's command when the caller knows the account.
    pub fn hint(&self, account: Option<&str>) -> Option<String> {
        match self {
            TokenError::Rejected { .. } => Some(format!("a new logon is needed: {} logs on headlessly with the stored password and TOTP secret", crate::advice::account_command("login", account, ""))),
            TokenError::RateLimited { .. } | TokenError::Unavailable { .. } => Some("try again later".into()),
            TokenError::Refused { .. } => Some("check the client id and secret and that no proxy or firewall stands in the way; try again later".into()),
            _ => None,
        }
    }

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

/// The raw answer, as sent. Strings are moved into secrets at once by `into_response`.
#[derive(Deserialize)]
struct RawAnswer {
    access_token: Option<String>,
    token_type: Option<String>,
    // Exact Online sends `"expires_in": "600"`, a string; the RFC says a number.
    expires_in: Option<serde_json::Value>,
    refresh_token: Option<String>,
    scope: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn post(
    client: &Client,
    guard: &Guard,
    url: &Url,
    form: &SecretForm,
    sent: &[&SecretString],
) -> Result<TokenResponse, TokenError> {
    guard.policy.check("token request", url, true)?;
    let path = url.path().to_string();
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

enum Classified {
    Error(TokenError),
    Refused {
        status: u16,
        error: String,
        description: Option<String>,
    },
    Protocol(String),
    /// A success answer keychain cannot use, with the valid refresh token it carried.
    Rotated(String, SecretString),
    Unavailable(String),
}

fn classify(
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
    scrubber: &Scrubber,
) -> Result<TokenResponse, Classified> {
    let raw: Option<RawAnswer> = serde_json::from_str(body).ok();
    if (200..300).contains(&status) {
        let raw = raw.ok_or_else(|| Classified::Protocol("the answer is not JSON".into()))?;
        // Kept apart before the answer is judged: an unusable access token must not cost the
        // refresh token the provider may just have rotated.
        let rotated = raw
            .refresh_token
            .as_deref()
            .filter(|t| is_token_text(t))
            .map(|t| SecretString::from(t.to_string()));
        return into_response(raw).map_err(|e| match (e, rotated) {
            (Classified::Protocol(detail), Some(token)) => Classified::Rotated(detail, token),
            (e, _) => e,
        });
    }
    if status >= 500 {
        return Err(Classified::Unavailable(format!("HTTP {status}")));
    }
    let (error, description, new_refresh_token) = match raw {
        Some(raw) => (
            raw.error,
            raw.error_description.map(|d| sanitize(&d, scrubber)),
            raw.refresh_token.map(SecretString::from),
        ),
        None => (None, None, None),
    };
    let rate_limited = status == 429
        || [error.as_deref(), description.as_deref()]
            .into_iter()
            .flatten()
            .any(is_rate_limit_text);
    let raw_error = error.map(|e| sanitize(&e, scrubber));
    let error = raw_error
        .clone()
        .unwrap_or_else(|| format!("HTTP {status}"));
    if rate_limited {
        return Err(Classified::Error(TokenError::RateLimited {
            error,
            description,
            retry_after,
            new_refresh_token,
        }));
    }
    if (400..500).contains(&status) {
        if is_grant_dead(&error, description.as_deref()) {
            return Err(Classified::Error(TokenError::Rejected {
                error,
                description,
            }));
        }
        // Without an OAuth2 `error`, the status's reason phrase is the provider's reason.
        let error = match raw_error {
            Some(e) => e,
            None => reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("")
                .to_string(),
        };
        return Err(Classified::Refused {
            status,
            error,
            description,
        });
    }
    Err(Classified::Protocol(format!("HTTP {status}")))
}

/// Exact Online's own words for a dead refresh token, whatever `error` it sends with them.
const GRANT_DEAD_TEXTS: &[&str] = &[
    "old refresh token used",
    "refresh token expired",
    "the refresh token expired",
    "invalid or empty chainid",
];

/// Whether a 4xx answer says the grant itself is dead: `invalid_grant` (RFC 6749 5.2), or a
/// provider's equivalent. Nothing else may retire a refresh token: a 403, 404 or 407 comes from
/// something in between, and `invalid_client` from the client's registration.
///
/// The equivalents: Exact Online's texts ([`GRANT_DEAD_TEXTS`], whatever `error` they come
/// with), and LemonLDAP::NG's bare `invalid_request` (no description), which is how its
/// `_handleRefreshTokenGrant` answers a refresh token it does not know (used or revoked). The
/// other reason it gives that answer, a missing `refresh_token` parameter, cannot happen: the
/// request always carries one.
pub fn is_grant_dead(error: &str, description: Option<&str>) -> bool {
    if error == "invalid_grant" {
        return true;
    }
    if error == "invalid_request" && description.is_none_or(|d| d.trim().is_empty()) {
        return true;
    }
    [Some(error), description].into_iter().flatten().any(|t| {
        let t = t.to_ascii_lowercase();
        GRANT_DEAD_TEXTS.iter().any(|m| t.contains(m))
    })
}

fn is_rate_limit_text(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "tooearlytorefreshtokens",
        "rate limit",
        "rate_limit",
        "too many",
        "slow_down",
    ]
    .iter()
    .any(|m| t.contains(m))
}

/// Tokens go into HTTP headers and shell text (`login --format header|env`): a token with a
/// space, a quote-breaking control character or a line break could inject a header or a
/// command, so only visible ASCII is accepted (RFC 6750's b64token is a subset).
pub fn is_token_text(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic())
}

fn into_response(raw: RawAnswer) -> Result<TokenResponse, Classified> {
    let access_token = raw
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Classified::Protocol("field `access_token` missing".into()))?;
    let refresh_ok = raw
        .refresh_token
        .as_deref()
        .is_none_or(|t| t.is_empty() || is_token_text(t));
    if !is_token_text(&access_token) || !refresh_ok {
        return Err(Classified::Protocol(
            "the provider sent a token with spaces or control characters".into(),
        ));
    }
    let access_token = SecretString::from(access_token);
    let expires_in = match raw.expires_in {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => n.as_u64().map(clamp_expires_in),
        Some(serde_json::Value::String(s)) => expires_in_from_text(&s),
        Some(_) => None,
    };
    Ok(TokenResponse {
        access_token,
        token_type: raw.token_type.unwrap_or_else(|| "bearer".into()),
        expires_in,
        refresh_token: raw
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(SecretString::from),
        scope: raw.scope,
    })
}

/// The longest access-token lifetime keychain believes: a year. A provider's `expires_in` is
/// a number from outside; 3·10¹¹ would put the expiry past the year 9999 and `u64::MAX` would
/// wrap to a time before 1970. Longer lifetimes are cut to this (a token the provider still
/// honours after a year is refreshed a little early, which is harmless).
pub const MAX_EXPIRES_IN: u64 = 366 * 86_400;

fn clamp_expires_in(seconds: u64) -> u64 {
    seconds.min(MAX_EXPIRES_IN)
}

/// `expires_in` given as text (Exact sends `"600"`; the implicit flow's fragment is text):
/// a non-negative whole number, clamped to [`MAX_EXPIRES_IN`]; anything else means unknown.
pub fn expires_in_from_text(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().map(clamp_expires_in)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use secrecy::ExposeSecret;

    fn sent(v: &str) -> Scrubber {
        let mut s = Scrubber::new();
        s.add(&SecretString::from(v.to_string()));
        s
    }

    fn err(status: u16, body: &str) -> TokenError {
        match classify(status, None, body, &sent("sent-token-value")) {
            Err(Classified::Error(e)) => e,
            Err(_) => panic!("not a classified error"),
            Ok(_) => panic!("unexpected success"),
        }
    }

    #[test]
    fn exact_error_texts_are_classified() {
        for d in [
            "Old refresh token used",
            "invalid or empty chainId",
            "The refresh token expired at 2026-01-01 10:00:00",
        ] {
            let body = format!(r#"{{"error":"invalid_grant","error_description":"{d}"}}"#);
            assert!(
                matches!(err(400, &body), TokenError::Rejected { description: Some(ref x), .. } if x == d)
            );
        }
        // Exact's words retire the token whatever `error` comes with them.
        assert!(matches!(
            err(
                400,
                r#"{"error":"invalid_request","error_description":"Old refresh token used."}"#
            ),
            TokenError::Rejected { .. }
        ));
        let e = err(
            400,
            r#"{"error":"TooEarlyToRefreshTokens","refresh_token":"new-one"}"#,
        );
        match e {
            TokenError::RateLimited {
                new_refresh_token: Some(t),
                ..
            } => {
                assert_eq!(t.expose_secret(), "new-one")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            err(429, "slow"),
            TokenError::RateLimited {
                new_refresh_token: None,
                ..
            }
        ));
    }

    /// Regression (issue 8, defect 1): any 4xx used to retire the refresh token.
    #[test]
    fn only_a_dead_grant_is_rejected_every_other_4xx_is_refused() {
        for (status, body) in [
            (
                400,
                r#"{"error":"invalid_request","error_description":"unsupported parameter"}"#,
            ),
            (
                401,
                r#"{"error":"invalid_client","error_description":"bad client"}"#,
            ),
            (403, "<html>Forbidden by the WAF</html>"),
            (404, "Not Found"),
            (407, ""),
            (400, r#"{"error":"unauthorized_client"}"#),
        ] {
            match classify(status, None, body, &Scrubber::new()) {
                Err(Classified::Refused { status: s, .. }) => assert_eq!(s, status),
                _ => panic!("HTTP {status} {body} must be a refusal, not a dead grant"),
            }
        }
        // `invalid_grant`, and LemonLDAP::NG's bare `invalid_request` for an unknown token.
        for body in [
            r#"{"error":"invalid_grant"}"#,
            r#"{"error":"invalid_request"}"#,
        ] {
            assert!(matches!(
                classify(400, None, body, &Scrubber::new()),
                Err(Classified::Error(TokenError::Rejected { .. }))
            ));
        }
        match classify(407, None, "", &Scrubber::new()) {
            Err(Classified::Refused { error, .. }) => {
                assert_eq!(error, "Proxy Authentication Required")
            }
            _ => panic!("407"),
        }
    }

    #[test]
    fn server_errors_are_unavailable_and_strings_parse() {
        assert!(matches!(
            classify(503, None, "", &Scrubber::new()),
            Err(Classified::Unavailable(_))
        ));
        let ok = classify(
            200,
            None,
            r#"{"access_token":"a","token_type":"bearer","expires_in":"600","refresh_token":"r"}"#,
            &Scrubber::new(),
        )
        .ok()
        .unwrap();
        assert_eq!(ok.expires_in, Some(600));
        assert!(!format!("{ok:?}").contains("\"a\""));
    }

    #[test]
    fn tokens_that_could_inject_a_header_or_a_command_are_refused() {
        for body in [
            r#"{"access_token":"a\r\nX-Evil: 1","token_type":"bearer"}"#,
            r#"{"access_token":"a b","token_type":"bearer"}"#,
            r#"{"access_token":"a","refresh_token":"r\n","token_type":"bearer"}"#,
        ] {
            assert!(
                matches!(
                    classify(200, None, body, &Scrubber::new()),
                    Err(Classified::Protocol(_))
                ),
                "{body}"
            );
        }
    }

    /// Regression (review): a success answer with an unusable access token lost the rotated
    /// refresh token it carried.
    #[test]
    fn an_unusable_success_answer_still_hands_back_its_refresh_token() {
        let body = r#"{"access_token":"a b","refresh_token":"rt-new-1","token_type":"bearer"}"#;
        match classify(200, None, body, &Scrubber::new()) {
            Err(Classified::Rotated(_, token)) => assert_eq!(token.expose_secret(), "rt-new-1"),
            _ => panic!("the refresh token was not handed back"),
        }
        let missing = r#"{"refresh_token":"rt-new-1"}"#;
        assert!(matches!(
            classify(200, None, missing, &Scrubber::new()),
            Err(Classified::Rotated(..))
        ));
    }

    /// The canary every generated answer may echo, in any case or as a piece.
    const CANARY: &str = "Qz7vKx9-Wv2Lp4Tn8Rb3";

    fn canary_scrubber() -> Scrubber {
        let mut s = Scrubber::new();
        s.add(&SecretString::from(CANARY.to_string()));
        s
    }

    /// Every text a classified answer can put in front of a person.
    fn shown(result: &Result<TokenResponse, Classified>) -> String {
        match result {
            Ok(r) => format!("{r:?}"),
            Err(Classified::Error(e)) => format!("{e} {e:?}"),
            Err(Classified::Refused {
                error, description, ..
            }) => format!("{error} {description:?}"),
            Err(Classified::Protocol(d) | Classified::Unavailable(d)) => d.clone(),
            Err(Classified::Rotated(d, token)) => format!("{d} {token:?}"),
        }
    }

    fn assert_no_canary(text: &str) {
        let text = text.to_ascii_lowercase();
        let head = CANARY[..crate::scrub::MIN_RUN].to_ascii_lowercase();
        assert!(!text.contains(&head), "a prefix of the secret in {text:?}");
    }

    #[test]
    fn corpus_of_answers_that_once_failed() {
        let corpus = include_str!("../../../tests/regressions/token_answers.txt");
        for line in corpus.lines() {
            let (status, body) = line.split_once(' ').unwrap_or((line, ""));
            let status: u16 = status.parse().unwrap();
            let result = classify(status, None, body, &canary_scrubber());
            assert_no_canary(&shown(&result));
            if let Ok(r) = result {
                assert!(r.expires_in.is_none_or(|e| e <= MAX_EXPIRES_IN), "{line}");
            }
        }
    }

    /// A JSON value of any shape, for fields a provider may fill with anything.
    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(|f| serde_json::json!(f)),
            "\\PC{0,30}".prop_map(serde_json::Value::from),
            Just(serde_json::json!({"nested": [1, 2]})),
        ]
    }

    /// Text that may carry the canary: whole or its first 6 or more characters, in any case.
    fn echo() -> impl Strategy<Value = String> {
        (
            "\\PC{0,20}",
            6usize..=CANARY.len(),
            any::<bool>(),
            "\\PC{0,20}",
        )
            .prop_map(|(before, end, upper, after)| {
                let piece = &CANARY[..end];
                let piece = if upper {
                    piece.to_ascii_uppercase()
                } else {
                    piece.to_string()
                };
                format!("{before}{piece}{after}")
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: Some(Box::new(
                proptest::test_runner::FileFailurePersistence::Direct(
                    "../tests/regressions/token_answers.proptest",
                ),
            )),
            ..ProptestConfig::default()
        })]

        /// Random bytes as an answer: a value or a typed error, never a panic.
        #[test]
        fn any_body_is_classified(status in 100u16..600, body in "\\PC{0,200}") {
            let result = classify(status, None, &body, &canary_scrubber());
            if (200..300).contains(&status) {
                prop_assert!(
                    result.is_ok()
                        || matches!(result, Err(Classified::Protocol(_) | Classified::Rotated(..)))
                );
            }
        }

        /// Structured answers with any values in any field, echoing the secret anywhere text
        /// goes: no panic, `expires_in` within its bound, no piece of the secret shown.
        #[test]
        fn any_token_answer_is_bounded_and_shows_no_secret(
            status in prop_oneof![Just(200u16), Just(400), Just(401), Just(403), Just(429), 400u16..500],
            access in prop_oneof![echo().prop_map(serde_json::Value::from), any_json()],
            expires in any_json(),
            error in prop_oneof![echo().prop_map(serde_json::Value::from), any_json()],
            description in prop_oneof![echo().prop_map(serde_json::Value::from), any_json()],
            refresh in any_json(),
        ) {
            let body = serde_json::json!({
                "access_token": access, "token_type": "bearer", "expires_in": expires,
                "error": error, "error_description": description, "refresh_token": refresh,
            })
            .to_string();
            let result = classify(status, None, &body, &canary_scrubber());
            if let Ok(r) = &result {
                prop_assert!(r.expires_in.is_none_or(|e| e <= MAX_EXPIRES_IN));
                prop_assert!(is_token_text(r.access_token.expose_secret()));
            }
            assert_no_canary(&shown(&result));
        }
    }
}
