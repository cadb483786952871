//! What a token endpoint answered, classified: a usable answer, a dead grant, a refusal that
//! says nothing about the grant, a rate limit (with any refresh token it rotated anyway), an
//! unavailable provider, or an answer that fits no rule of OAuth2.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::{TokenError, TokenResponse};
use crate::scrub::{Scrubber, sanitize};

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

pub(super) enum Classified {
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

pub(super) fn classify(
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
