//! Exact Online: one site per country, its endpoints built in, and the rules Exact enforces on
//! an app (no new access token within 570 s of the previous one; blocked for an hour after 10
//! errors in an hour). The country table is here and nowhere else.
#![deny(missing_docs)]

use url::Url;

use super::{
    Admission, EndpointError, ErrorBudget, Incomplete, PageAdapter, ProviderRules,
    explicit_endpoints,
};
use super::{ProviderRule, ProviderSettings as Settings};
use crate::oauth::Endpoints;

/// Exact Online refuses a new access token earlier than this after the previous one.
pub const MIN_REFRESH_INTERVAL: i64 = 570;
/// Days after which Exact Online lets an unused refresh token die (`report` assumes the same of
/// every provider: `report::REFRESH_IDLE_DAYS`, which is to become a re-export of this one).
pub const REFRESH_IDLE_DAYS: i64 = 30;
/// Seconds an Exact Online access token lives (10 minutes).
pub const ACCESS_TOKEN_LIFETIME: i64 = 600;
/// Exact Online blocks an app for an hour after this many errors in an hour.
pub const PROVIDER_ERROR_LIMIT: usize = 10;
/// keychain stops asking after this many, before Exact blocks the app.
pub const ERROR_BUDGET: usize = 8;

/// A country with its own Exact Online site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExactCountry {
    /// The Netherlands: `exactonline.nl`.
    Nl,
    /// Belgium: `exactonline.be`.
    Be,
    /// Germany: `exactonline.de`.
    De,
    /// The United Kingdom: `exactonline.co.uk`.
    Uk,
    /// The United States: `exactonline.com`.
    Us,
    /// Spain: `exactonline.es`.
    Es,
    /// France: `exactonline.fr`.
    Fr,
}

/// One country's site: the provider name, the top-level domain of its hosts, and its help line.
struct Site {
    name: &'static str,
    tld: &'static str,
    description: &'static str,
}

impl ExactCountry {
    /// Every country, in the order help texts list them.
    pub const ALL: [ExactCountry; 7] = [
        ExactCountry::Nl,
        ExactCountry::Be,
        ExactCountry::De,
        ExactCountry::Uk,
        ExactCountry::Us,
        ExactCountry::Es,
        ExactCountry::Fr,
    ];

    /// The country table.
    fn site(self) -> Site {
        let (name, tld, description) = match self {
            ExactCountry::Nl => (
                "exact-nl",
                "nl",
                "Exact Online, the Netherlands (URLs built in)",
            ),
            ExactCountry::Be => ("exact-be", "be", "Exact Online, Belgium (URLs built in)"),
            ExactCountry::De => ("exact-de", "de", "Exact Online, Germany (URLs built in)"),
            ExactCountry::Uk => (
                "exact-uk",
                "co.uk",
                "Exact Online, United Kingdom (URLs built in)",
            ),
            ExactCountry::Us => (
                "exact-us",
                "com",
                "Exact Online, United States (URLs built in)",
            ),
            ExactCountry::Es => ("exact-es", "es", "Exact Online, Spain (URLs built in)"),
            ExactCountry::Fr => ("exact-fr", "fr", "Exact Online, France (URLs built in)"),
        };
        Site {
            name,
            tld,
            description,
        }
    }

    pub(super) fn provider(self) -> &'static dyn ProviderRules {
        match self {
            ExactCountry::Nl => &Exact(ExactCountry::Nl),
            ExactCountry::Be => &Exact(ExactCountry::Be),
            ExactCountry::De => &Exact(ExactCountry::De),
            ExactCountry::Uk => &Exact(ExactCountry::Uk),
            ExactCountry::Us => &Exact(ExactCountry::Us),
            ExactCountry::Es => &Exact(ExactCountry::Es),
            ExactCountry::Fr => &Exact(ExactCountry::Fr),
        }
    }

    /// The domain all of this country's hosts are under, e.g. `exactonline.co.uk`.
    fn domain(self) -> String {
        format!("exactonline.{}", self.site().tld)
    }

    /// The start page, e.g. `https://start.exactonline.nl/`.
    pub fn base(self) -> Result<Url, url::ParseError> {
        Url::parse(&format!("https://start.{}/", self.domain()))
    }
}

/// Exact Online in one country.
struct Exact(ExactCountry);

/// Exact Online's endpoints under any base URL, so that tests can point Exact's rules at the
/// emulator on loopback.
pub fn endpoints_at(base: &Url) -> Endpoints {
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

impl ProviderRules for Exact {
    fn name(&self) -> &'static str {
        self.0.site().name
    }

    fn description(&self) -> &'static str {
        self.0.site().description
    }

    fn check(&self, settings: &Settings, _rule: ProviderRule) -> Result<(), Incomplete> {
        // Explicit URLs (both) point an Exact account at a proxy or an emulator; an OIDC
        // issuer means nothing to Exact.
        if settings.issuer.is_some() {
            return Err(Incomplete {
                message: "Exact Online providers have their URLs built in: leave out --issuer",
                hint: "to point an Exact account elsewhere (a proxy, an emulator), give --authorize-url and --token-url",
            });
        }
        Ok(())
    }

    fn endpoints(
        &self,
        settings: &Settings,
        _client: &reqwest::blocking::Client,
    ) -> Result<Endpoints, EndpointError> {
        // Explicit URLs point an Exact account at a proxy or an emulator; Exact's rules still apply.
        if settings.authorize_url.is_some() {
            return explicit_endpoints(settings);
        }
        self.0
            .base()
            .map(|base| endpoints_at(&base))
            .map_err(|_| EndpointError::NotUrl("built-in start page"))
    }

    fn admission(&self) -> Admission {
        Admission {
            provider: "Exact Online",
            min_refresh_interval: Some(MIN_REFRESH_INTERVAL),
            error_budget: Some(ErrorBudget {
                stop_at: ERROR_BUDGET,
                provider_limit: PROVIDER_ERROR_LIMIT,
            }),
        }
    }

    fn requires_totp(&self) -> bool {
        // Exact Online has required two-step verification of every user since 2020.
        true
    }

    fn refresh_token_idle_days(&self) -> Option<i64> {
        Some(REFRESH_IDLE_DAYS)
    }

    fn access_token_lifetime(&self) -> Option<i64> {
        Some(ACCESS_TOKEN_LIFETIME)
    }

    fn page_adapters(&self) -> &'static [PageAdapter] {
        // Exact's sign-in is Azure AD B2C; its start page and the emulator's serve forms.
        &[PageAdapter::HtmlForm, PageAdapter::AzureB2c]
    }

    /// Exact's own logon pages live beyond the start page: they may receive the password and
    /// code without `--allow-host`.
    fn login_hosts(&self) -> Vec<String> {
        let domain = self.0.domain();
        vec![format!("start.{domain}"), format!("login.{domain}")]
    }

    /// `https://start.exactonline.nl/api`, or under the account's own token URL when one
    /// points it elsewhere (a proxy, the emulator).
    fn api_url(&self, settings: &Settings) -> Option<String> {
        if let Some(token) = &settings.token_url {
            return token.strip_suffix("/oauth2/token").map(str::to_string);
        }
        self.0
            .base()
            .and_then(|base| base.join("api"))
            .ok()
            .map(|u| u.to_string())
    }

    fn claims_api_host(&self, host: &str) -> bool {
        let domain = self.0.domain();
        host == domain || host.ends_with(&format!(".{domain}"))
    }
}
