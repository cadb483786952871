//! The providers keychain logs on to, as types: one module per provider, each the one place that
//! knows its names, endpoints, default scope, admission rules (Exact Online's 570 s and error
//! budget), the grant it is logged on with, the page adapters its logon pages need, the hosts
//! that may receive its credentials, and which settings files the scanner attributes to it.
//!
//! Adding a provider: a module implementing [`ProviderRules`], plus its registration here: a variant
//! of [`ProviderKind`], its arm in [`ProviderKind::provider`] and its entry in `ALL` (the
//! [`Choice`] list). Nothing else in keychain compares provider names: the CLI's value parser,
//! `--help`, completions and the man page list [`all`]; records, settings and JSON keep
//! [`ProviderKind`]'s `Display` name.
//!
//! This module neither prints nor exits: its refusals are errors the caller renders.

pub mod exact;
mod lemonldap;
mod oauth2;
mod oidc;
mod settings;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::choice::Choice;
pub use crate::logon::PageAdapter;
use crate::oauth::{DiscoveryError, Endpoints};
use settings::ProviderSettings as Settings;
pub use settings::{Flow, ProviderRule, ProviderSettings};

pub use exact::ExactCountry;

/// Which provider an account logs on to. Stored (records, exports, JSON) and typed
/// (`--provider`) as its name (`oidc`, `oauth2`, `exact-nl`, ...); `FromStr` and `Display` are
/// exact inverses over [`all`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ProviderKind {
    /// OpenID Connect: endpoints from the issuer's discovery document.
    Oidc,
    /// Plain OAuth2: endpoints given explicitly.
    Oauth2,
    /// Exact Online in one country.
    Exact(ExactCountry),
    /// A LemonLDAP::NG portal.
    LemonLdap,
}

impl Choice for ProviderKind {
    /// Every kind keychain knows, in the order help texts list them.
    const ALL: &'static [ProviderKind] = &[
        ProviderKind::Exact(ExactCountry::Nl),
        ProviderKind::Exact(ExactCountry::Be),
        ProviderKind::Exact(ExactCountry::De),
        ProviderKind::Exact(ExactCountry::Uk),
        ProviderKind::Exact(ExactCountry::Us),
        ProviderKind::Exact(ExactCountry::Es),
        ProviderKind::Exact(ExactCountry::Fr),
        ProviderKind::Oidc,
        ProviderKind::Oauth2,
        ProviderKind::LemonLdap,
    ];

    fn name(self) -> &'static str {
        self.provider().name()
    }

    fn help(self) -> Option<&'static str> {
        Some(self.provider().description())
    }
}

/// Every kind keychain knows, in the order help texts list them.
pub fn all() -> &'static [ProviderKind] {
    ProviderKind::ALL
}

impl ProviderKind {
    /// What keychain knows of this kind of provider.
    pub fn provider(self) -> &'static dyn ProviderRules {
        match self {
            ProviderKind::Oidc => &oidc::Oidc,
            ProviderKind::Oauth2 => &oauth2::Oauth2,
            ProviderKind::Exact(country) => country.provider(),
            ProviderKind::LemonLdap => &lemonldap::LemonLdap,
        }
    }

    /// The name users type and records keep, e.g. `exact-nl`.
    pub fn name(self) -> &'static str {
        self.provider().name()
    }

    /// One line for help texts, e.g. `Exact Online, the Netherlands (URLs built in)`.
    pub fn description(self) -> &'static str {
        self.provider().description()
    }
}

/// The names of every kind, joined with ", ": for hints that say what to type.
pub fn names() -> String {
    all()
        .iter()
        .map(|kind| kind.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A name that is no provider keychain knows. Names the text (a provider name, never a secret)
/// and every name that would do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the provider {0:?} is not one keychain knows (use one of: {names})", names = names())]
pub struct UnknownProvider(pub String);

impl FromStr for ProviderKind {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderKind::from_name(s).ok_or_else(|| UnknownProvider(s.to_string()))
    }
}

impl TryFrom<String> for ProviderKind {
    type Error = UnknownProvider;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ProviderKind> for String {
    fn from(kind: ProviderKind) -> String {
        kind.name().to_string()
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The provider of an Invantive `api-url` (audit/scan): the first provider that claims its
/// host over https, else `oauth2`.
pub fn for_api_url(api_url: &str) -> ProviderKind {
    let host = url::Url::parse(api_url.trim())
        .ok()
        .filter(|url| url.scheme() == "https")
        .and_then(|url| url.host_str().map(str::to_ascii_lowercase));
    host.and_then(|host| {
        all()
            .iter()
            .copied()
            .find(|kind| kind.provider().claims_api_host(&host))
    })
    .unwrap_or(ProviderKind::Oauth2)
}

/// One kind of provider: everything keychain needs to know to log on to it, and nothing about
/// any single account (that is in the account's [`Settings`]).
pub trait ProviderRules: Sync {
    /// The name users type and records keep (`exact-nl`).
    fn name(&self) -> &'static str;
    /// One line for help texts.
    fn description(&self) -> &'static str;
    /// What this kind needs in an account's settings beyond what every kind needs (a client
    /// id, http(s) URLs), checked before an account is stored.
    fn check(&self, settings: &Settings, rule: ProviderRule) -> Result<(), Incomplete>;
    /// The authorization and token endpoints of an account of this kind (a network request for
    /// discovery).
    fn endpoints(
        &self,
        settings: &Settings,
        client: &reqwest::blocking::Client,
    ) -> Result<Endpoints, EndpointError>;
    /// The scope requested when the account gives none.
    fn default_scope(&self) -> &'static str {
        ""
    }
    /// When a token may be asked for at all.
    fn admission(&self) -> Admission {
        Admission::ANY_TIME
    }
    /// How a new refresh-token chain is started.
    fn grant(&self) -> Grant {
        Grant::HeadlessBrowser
    }
    /// The page adapters the headless logon may need on this provider's pages.
    fn page_adapters(&self) -> &'static [PageAdapter] {
        &[PageAdapter::HtmlForm, PageAdapter::AzureB2c]
    }
    /// Hosts beyond the account's own URLs that may receive its password and code.
    fn login_hosts(&self) -> Vec<String> {
        Vec::new()
    }
    /// The base of the provider's REST API, for `keychain exec` to hand to a child.
    fn api_url(&self, _settings: &Settings) -> Option<String> {
        None
    }
    /// Whether an Invantive `api-url` on this (lower-case) host belongs to this provider.
    fn claims_api_host(&self, _host: &str) -> bool {
        false
    }
    /// Whether every logon asks for a one-time code (the provider enforces two-step
    /// verification), so that an account without a TOTP secret cannot log on.
    fn requires_totp(&self) -> bool {
        false
    }
    /// Days after which an unused refresh token dies, where the provider has such a rule.
    fn refresh_token_idle_days(&self) -> Option<i64> {
        None
    }
    /// Seconds an access token lives, where the provider documents one lifetime for all
    /// (Exact's 10 minutes); `None` where each token says (its `expires_in`).
    fn access_token_lifetime(&self) -> Option<i64> {
        None
    }
}

/// How a new refresh-token chain is started. Today every provider is logged on to by filling
/// its pages headlessly; a device-code flow would be a second variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The authorization endpoint's pages, filled without a browser (code with PKCE, or
    /// implicit, as the account's `flow` says), then the refresh-token grant.
    HeadlessBrowser,
}

/// A setting an account of some kind must (or must not) have: the message and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incomplete {
    /// What is wrong, naming the flag.
    pub message: &'static str,
    /// What to do about it.
    pub hint: &'static str,
}

/// Why an account's endpoints are not known. Names the setting, never a value.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The account lacks a setting its kind needs (`issuer`, `token URL`, ...).
    #[error("has no {0}")]
    Missing(&'static str),
    /// A setting that must be a URL is not one.
    #[error("has a {0} that is not a URL")]
    NotUrl(&'static str),
    /// The issuer's discovery document could not be read.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
}

/// The endpoints as an account gives them (`--authorize-url`, `--token-url`).
fn explicit_endpoints(settings: &Settings) -> Result<Endpoints, EndpointError> {
    Ok(Endpoints {
        authorize: url_of("authorize URL", &settings.authorize_url)?,
        token: url_of("token URL", &settings.token_url)?,
    })
}

fn url_of(what: &'static str, value: &Option<String>) -> Result<Url, EndpointError> {
    let text = value.as_deref().ok_or(EndpointError::Missing(what))?;
    Url::parse(text).map_err(|_| EndpointError::NotUrl(what))
}

const HOUR: i64 = 3600;

/// A provider's rules for when a token may be asked for. Pure functions of the times given, so
/// they are tested without a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// The provider's name in messages (`Exact Online`).
    pub provider: &'static str,
    /// No new access token earlier than this many seconds after the previous one.
    pub min_refresh_interval: Option<i64>,
    /// Errors the provider counts against the app, and where keychain stops.
    pub error_budget: Option<ErrorBudget>,
}

/// The provider blocks the app after `provider_limit` errors in an hour; keychain stops asking
/// at `stop_at`, leaving room for the errors a running logon may still cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorBudget {
    /// Errors in the last hour at which keychain stops asking.
    pub stop_at: usize,
    /// Errors in an hour at which the provider blocks the app.
    pub provider_limit: usize,
}

/// Why a token is not asked for now; says when it may be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAdmitted {
    #[error("{provider} allows a new access token {interval} s after the previous one")]
    /// The previous access token is younger than the provider's minimum interval.
    TooSoon {
        /// The provider's name.
        provider: &'static str,
        /// The minimum interval, in seconds.
        interval: i64,
        /// Seconds until a new token may be asked for.
        wait: i64,
    },
    #[error(
        "{errors} errors from {provider} in the last hour: keychain stops before {provider} blocks the app ({limit} per hour)"
    )]
    /// The errors of the last hour reached keychain's stop.
    ErrorBudgetSpent {
        /// The provider's name.
        provider: &'static str,
        /// Errors recorded in the last hour.
        errors: usize,
        /// Errors in an hour at which the provider blocks the app.
        limit: usize,
        /// Unix time when the oldest of them leaves the hour.
        retry_at: i64,
    },
}

impl crate::exit::Failure for NotAdmitted {
    fn class(&self) -> crate::exit::Class {
        crate::exit::Class::Unavailable
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            NotAdmitted::TooSoon { wait, .. } => format!("try again in {wait} s"),
            NotAdmitted::ErrorBudgetSpent { retry_at, .. } => {
                format!("try again after {}", crate::clock::rfc3339(*retry_at))
            }
        })
    }
}

impl Admission {
    /// No rules: a token may be asked for at any time.
    pub const ANY_TIME: Admission = Admission {
        provider: "the provider",
        min_refresh_interval: None,
        error_budget: None,
    };

    /// Whether the provider counts errors, so that each must be recorded with the account.
    pub fn counts_errors(&self) -> bool {
        self.error_budget.is_some()
    }

    /// Forgets the recorded errors older than an hour, and refuses when those left have spent
    /// the budget.
    pub fn check_errors(&self, errors: &mut Vec<i64>, now: i64) -> Result<(), NotAdmitted> {
        let Some(budget) = self.error_budget else {
            return Ok(());
        };
        // An error recorded "in the future" (a clock set back since) still counts: it is
        // younger than an hour by any reading; `login` moves such times back to now.
        errors.retain(|t| now.saturating_sub(*t) < HOUR);
        if errors.len() < budget.stop_at {
            return Ok(());
        }
        let oldest = errors.iter().min().copied().unwrap_or(now);
        Err(NotAdmitted::ErrorBudgetSpent {
            provider: self.provider,
            errors: errors.len(),
            limit: budget.provider_limit,
            retry_at: oldest.saturating_add(HOUR),
        })
    }

    /// Refuses a new token while the previous one, issued at `issued`, is younger than the
    /// minimum interval.
    pub fn check_interval(&self, issued: Option<i64>, now: i64) -> Result<(), NotAdmitted> {
        let (Some(interval), Some(issued)) = (self.min_refresh_interval, issued) else {
            return Ok(());
        };
        // A previous token issued "in the future" (the clock went back since) is as young as
        // it can be: the full interval, never more (`login` moves its time back to now, so the
        // wait ends `interval` seconds from now, not when the clock catches up).
        let age = now.saturating_sub(issued).max(0);
        if age < interval {
            return Err(NotAdmitted::TooSoon {
                provider: self.provider,
                interval,
                wait: interval - age,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
