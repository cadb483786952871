//! LemonLDAP::NG: an OpenID Connect portal whose endpoints sit at fixed paths under the portal
//! URL (`/oauth2/authorize`, `/oauth2/token`), so that a logon or a refresh needs no discovery
//! request first. A portal configured with other paths is an `oidc` account.
#![deny(missing_docs)]

use url::Url;

use super::{EndpointError, Incomplete, PageAdapter, ProviderRules, url_of};
use super::{ProviderRule, ProviderSettings as Settings};
use crate::oauth::Endpoints;

pub(super) struct LemonLdap;

/// The portal's endpoints under its URL (the account's issuer).
fn endpoints_at(portal: &Url) -> Result<Endpoints, EndpointError> {
    let mut base = portal.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    let join = |path| base.join(path).map_err(|_| EndpointError::NotUrl("issuer"));
    Ok(Endpoints {
        authorize: join("oauth2/authorize")?,
        token: join("oauth2/token")?,
    })
}

impl ProviderRules for LemonLdap {
    fn name(&self) -> &'static str {
        "lemonldap"
    }

    fn description(&self) -> &'static str {
        "LemonLDAP::NG portal (with --issuer, the portal URL; its endpoints without discovery)"
    }

    fn check(&self, settings: &Settings, _rule: ProviderRule) -> Result<(), Incomplete> {
        if settings.issuer.is_none() {
            return Err(Incomplete {
                message: "provider lemonldap needs --issuer URL (the portal)",
                hint: "give the portal's URL, e.g. --issuer https://auth.example.com",
            });
        }
        Ok(())
    }

    fn endpoints(
        &self,
        settings: &Settings,
        _client: &reqwest::blocking::Client,
    ) -> Result<Endpoints, EndpointError> {
        endpoints_at(&url_of("issuer", &settings.issuer)?)
    }

    fn default_scope(&self) -> &'static str {
        "openid offline_access"
    }

    fn page_adapters(&self) -> &'static [PageAdapter] {
        &[PageAdapter::HtmlForm]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_the_portals_fixed_paths() {
        for portal in ["https://auth.example.com", "https://auth.example.com/"] {
            let e = endpoints_at(&Url::parse(portal).unwrap()).unwrap();
            assert_eq!(
                e.authorize.as_str(),
                "https://auth.example.com/oauth2/authorize"
            );
            assert_eq!(e.token.as_str(), "https://auth.example.com/oauth2/token");
        }
        let e = endpoints_at(&Url::parse("https://example.com/sso").unwrap()).unwrap();
        assert_eq!(e.token.as_str(), "https://example.com/sso/oauth2/token");
    }

    #[test]
    fn needs_the_portal_url_and_asks_for_a_refresh_token() {
        let kind = super::super::ProviderKind::LemonLdap;
        let bare = Settings::new(kind);
        assert!(LemonLdap.check(&bare, ProviderRule::Complete).is_err());
        let client = crate::oauth::http::client().unwrap();
        let e = LemonLdap.endpoints(&bare, &client).unwrap_err();
        assert_eq!(e.to_string(), "has no issuer");
        assert_eq!(LemonLdap.default_scope(), "openid offline_access");
        assert_eq!(kind.to_string(), "lemonldap");
        assert_eq!("lemonldap".parse(), Ok(kind));
    }
}
