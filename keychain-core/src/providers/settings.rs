//! A provider's settings as an account records them (where and how to log on, no secrets), and
//! how complete they must be. The model: the record holds these, each provider's module checks
//! them ([`super::ProviderRules::check`]).

use serde::{Deserialize, Serialize};

use super::ProviderKind;

/// How complete the provider must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderRule {
    /// Ready to log on: what `add` and a restored export need.
    Complete,
    /// As a settings file describes it: an `oauth2` provider may still lack its endpoints,
    /// which the settings file does not hold; `keychain set` adds them.
    FromSettings,
}

/// How the authorization is obtained at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flow {
    /// Authorization code with PKCE (S256).
    #[default]
    Code,
    /// Implicit grant: the access token comes back in the redirect's fragment.
    Implicit,
}

impl Flow {
    /// The name users type (`--flow code`) and see.
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Code => "code",
            Flow::Implicit => "implicit",
        }
    }
}

impl crate::choice::Choice for Flow {
    const ALL: &'static [Self] = &[Flow::Code, Flow::Implicit];
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn help(self) -> Option<&'static str> {
        Some(match self {
            Flow::Code => "Authorization code with PKCE (S256)",
            Flow::Implicit => {
                "Implicit grant: the access token comes back in the redirect's fragment"
            }
        })
    }
}

crate::choice_text!(Flow);

/// Provider settings: where and how to log on. No secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderSettings {
    /// Which provider (`exact-nl` .. `exact-fr`, `oidc` or `oauth2` in the record).
    pub kind: ProviderKind,
    /// The OIDC issuer URL, from which the endpoints are discovered when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The authorization endpoint; `None` when the kind or the issuer supplies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    /// The token endpoint; `None` when the kind or the issuer supplies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// The OAuth2 client id of the registered application (public, unlike its secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The redirect URI registered with the application; nothing needs to listen there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// The scope asked for; `None` for the kind's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// How the authorization is obtained.
    #[serde(default)]
    pub flow: Flow,
    /// Hosts beyond the account's own that may receive its credentials (`--allow-host`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_hosts: Vec<String>,
    /// Plain `http` to a host other than loopback was allowed with `--insecure-http`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_http: bool,
}

impl ProviderSettings {
    /// Settings of `kind` with nothing else set yet.
    pub fn new(kind: ProviderKind) -> Self {
        ProviderSettings {
            kind,
            issuer: None,
            authorize_url: None,
            token_url: None,
            client_id: None,
            redirect_uri: None,
            scope: None,
            flow: Flow::default(),
            allow_hosts: Vec::new(),
            insecure_http: false,
        }
    }
}
