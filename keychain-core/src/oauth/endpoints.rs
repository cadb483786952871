//! A provider's authorization and token endpoints, and OpenID discovery of them. Which
//! provider has which endpoints is the business of the `providers` module.
#![deny(missing_docs)]

use url::Url;

use super::ErrorClass;

/// The two endpoints the logon engine and the token calls need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Where the browser (or the headless logon engine) is sent to log on and consent.
    pub authorize: Url,
    /// Where codes are redeemed and refresh tokens spent; credentials go only here.
    pub token: Url,
}

/// Why discovery failed. Names the path, never a value.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The issuer could not be reached, timed out or answered with an HTTP error: nothing was
    /// learnt; try again later.
    #[error("OpenID discovery at {path} failed: {reason}")]
    Unavailable {
        /// The host and path of the discovery document (no query; see [`super::endpoint`]).
        path: String,
        /// What went wrong, in words that carry no value from the answer.
        reason: String,
    },
    /// The issuer answered, but not with a discovery document holding both endpoints: the
    /// issuer URL is probably wrong.
    #[error("OpenID discovery at {path} answered something unexpected: {detail}")]
    Protocol {
        /// The host and path of the discovery document (no query; see [`super::endpoint`]).
        path: String,
        /// Which field was missing or malformed; never its value.
        detail: String,
    },
}

impl crate::advice::AccountAdvice for DiscoveryError {
    /// What to do about it, naming the account's command when the caller knows the account.
    fn hint_for(&self, account: Option<&str>) -> Option<String> {
        Some(match self {
            DiscoveryError::Unavailable { .. } => {
                "check that the issuer is reachable from here; try again later".into()
            }
            DiscoveryError::Protocol { .. } => format!(
                "check the issuer URL ({})",
                crate::advice::account_command("set", account, " --issuer URL")
            ),
        })
    }
}

impl DiscoveryError {
    /// How the caller should treat it (retry later or fix the settings), and so its exit code.
    pub fn class(&self) -> ErrorClass {
        match self {
            DiscoveryError::Unavailable { .. } => ErrorClass::Unavailable,
            DiscoveryError::Protocol { .. } => ErrorClass::Protocol,
        }
    }
}

/// Reads `<issuer>/.well-known/openid-configuration` and takes the two endpoints from it.
pub fn discover(
    client: &reqwest::blocking::Client,
    issuer: &Url,
) -> Result<Endpoints, DiscoveryError> {
    let mut url = issuer.clone();
    let path = format!(
        "{}/.well-known/openid-configuration",
        issuer.path().trim_end_matches('/')
    );
    url.set_path(&path);
    let path = super::endpoint(&url);
    let resp = client
        .get(url)
        .send()
        .map_err(|e| DiscoveryError::Unavailable {
            path: path.clone(),
            reason: super::describe_send_error(&e),
        })?;
    let status = resp.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(DiscoveryError::Unavailable {
            path,
            reason: format!("HTTP {}", status.as_u16()),
        });
    }
    if !status.is_success() {
        return Err(DiscoveryError::Protocol {
            path,
            detail: format!("HTTP {}", status.as_u16()),
        });
    }
    let body = crate::http::read_capped(resp, crate::http::MAX_JSON_ANSWER).map_err(|e| {
        DiscoveryError::Protocol {
            path: path.clone(),
            detail: e.to_string(),
        }
    })?;
    let doc: serde_json::Value =
        serde_json::from_str(&body).map_err(|_| DiscoveryError::Protocol {
            path: path.clone(),
            detail: "not a JSON document".into(),
        })?;
    let field = |name: &str| -> Result<Url, DiscoveryError> {
        doc.get(name)
            .and_then(|v| v.as_str())
            .and_then(|s| Url::parse(s).ok())
            .ok_or_else(|| DiscoveryError::Protocol {
                path: path.clone(),
                detail: format!("field `{name}` missing or not a URL"),
            })
    };
    Ok(Endpoints {
        authorize: field("authorization_endpoint")?,
        token: field("token_endpoint")?,
    })
}
