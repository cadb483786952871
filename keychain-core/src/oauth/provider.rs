//! Where a provider's authorization and token endpoints are, by provider kind.

use std::fmt;
use std::str::FromStr;

use url::Url;

use super::ErrorClass;

/// The two endpoints the logon engine and the token calls need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorize: Url,
    pub token: Url,
}

/// How an account's endpoints are found. The names (`oidc`, `oauth2`, `exact-nl`, ...) are the
/// ones users type and the store keeps, so `FromStr` and `Display` are exact inverses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenID Connect: endpoints from `<issuer>/.well-known/openid-configuration`.
    Oidc,
    /// Plain OAuth2: endpoints given explicitly.
    Oauth2,
    /// Exact Online in one country (`nl`, `be`, `de`, `uk`, `us`, `es`, `fr`).
    Exact(String),
}

/// Exact Online's countries and the domain each one's start page lives on.
const EXACT_COUNTRIES: &[(&str, &str)] = &[
    ("nl", "nl"),
    ("be", "be"),
    ("de", "de"),
    ("uk", "co.uk"),
    ("us", "com"),
    ("es", "es"),
    ("fr", "fr"),
];

impl FromStr for ProviderKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "oidc" => Ok(ProviderKind::Oidc),
            "oauth2" => Ok(ProviderKind::Oauth2),
            _ => match s.strip_prefix("exact-") {
                Some(c) if EXACT_COUNTRIES.iter().any(|(k, _)| *k == c) => {
                    Ok(ProviderKind::Exact(c.to_string()))
                }
                _ => Err(format!(
                    "unknown provider `{s}`: expected oidc, oauth2 or one of {}",
                    EXACT_COUNTRIES
                        .iter()
                        .map(|(k, _)| format!("exact-{k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProviderKind::Oidc => f.write_str("oidc"),
            ProviderKind::Oauth2 => f.write_str("oauth2"),
            ProviderKind::Exact(c) => write!(f, "exact-{c}"),
        }
    }
}

/// The start page of Exact Online in a country, e.g. `https://start.exactonline.nl/`.
pub fn exact_base(country: &str) -> Option<Url> {
    let (_, tld) = EXACT_COUNTRIES.iter().find(|(k, _)| *k == country)?;
    Url::parse(&format!("https://start.exactonline.{tld}/")).ok()
}

/// The hosts Exact Online's own logon pages live on in a country, beyond the start page: they
/// may receive the password and code without `--allow-host`.
pub fn exact_login_hosts(country: &str) -> Vec<String> {
    EXACT_COUNTRIES
        .iter()
        .filter(|(k, _)| *k == country)
        .flat_map(|(_, tld)| {
            [
                format!("start.exactonline.{tld}"),
                format!("login.exactonline.{tld}"),
            ]
        })
        .collect()
}

/// Exact Online's endpoints for a country (`nl`, `be`, `de`, `uk`, `us`, `es`, `fr`).
pub fn exact_endpoints(country: &str) -> Option<Endpoints> {
    exact_base(country).map(|base| exact_endpoints_at(&base))
}

/// Exact Online's endpoints under any base URL, so that tests can point Exact's rules at the
/// emulator on loopback.
pub fn exact_endpoints_at(base: &Url) -> Endpoints {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Endpoints {
        authorize: base
            .join("api/oauth2/auth")
            .expect("constant relative path"),
        token: base
            .join("api/oauth2/token")
            .expect("constant relative path"),
    }
}

/// Why discovery failed. Names the path, never a value.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("OpenID discovery at {path} failed: {reason} (is the issuer reachable?)")]
    Unavailable { path: String, reason: String },
    #[error(
        "OpenID discovery at {path} answered something unexpected: {detail} (is the issuer URL right?)"
    )]
    Protocol { path: String, detail: String },
}

impl DiscoveryError {
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
    let path = url.path().to_string();
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
    let body = super::http::read_capped(resp, super::http::MAX_JSON_ANSWER).map_err(|e| {
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

/// Every provider kind `--provider` accepts.
pub const PROVIDERS: [&str; 9] = [
    "exact-nl", "exact-be", "exact-de", "exact-uk", "exact-us", "exact-es", "exact-fr", "oidc",
    "oauth2",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip() {
        for name in [
            "oidc", "oauth2", "exact-nl", "exact-be", "exact-de", "exact-uk", "exact-us",
            "exact-es", "exact-fr",
        ] {
            assert_eq!(name.parse::<ProviderKind>().unwrap().to_string(), name);
        }
        assert!("exact-xx".parse::<ProviderKind>().is_err());
    }

    #[test]
    fn exact_endpoints_per_country() {
        let uk = exact_endpoints("uk").unwrap();
        assert_eq!(
            uk.authorize.as_str(),
            "https://start.exactonline.co.uk/api/oauth2/auth"
        );
        assert_eq!(
            uk.token.as_str(),
            "https://start.exactonline.co.uk/api/oauth2/token"
        );
        assert_eq!(
            exact_endpoints("us").unwrap().token.as_str(),
            "https://start.exactonline.com/api/oauth2/token"
        );
        assert!(exact_endpoints("xx").is_none());
        let local = exact_endpoints_at(&Url::parse("http://127.0.0.1:1234").unwrap());
        assert_eq!(
            local.token.as_str(),
            "http://127.0.0.1:1234/api/oauth2/token"
        );
    }
}
