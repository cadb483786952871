//! OpenID Connect: the endpoints come from the issuer's discovery document
//! (`<issuer>/.well-known/openid-configuration`), and the default scope asks for a refresh token.
#![deny(missing_docs)]

use super::{EndpointError, Incomplete, ProviderRules, url_of};
use super::{ProviderRule, ProviderSettings as Settings};
use crate::oauth::{self, Endpoints};

pub(super) struct Oidc;

impl ProviderRules for Oidc {
    fn name(&self) -> &'static str {
        "oidc"
    }

    fn description(&self) -> &'static str {
        "OpenID Connect (with --issuer; endpoints from its discovery document)"
    }

    fn check(&self, settings: &Settings, _rule: ProviderRule) -> Result<(), Incomplete> {
        if settings.issuer.is_none() {
            return Err(Incomplete {
                message: "provider oidc needs --issuer URL",
                hint: "give the issuer, e.g. --issuer https://login.example.com",
            });
        }
        Ok(())
    }

    fn endpoints(
        &self,
        settings: &Settings,
        client: &reqwest::blocking::Client,
    ) -> Result<Endpoints, EndpointError> {
        let issuer = url_of("issuer", &settings.issuer)?;
        Ok(oauth::discover(client, &issuer)?)
    }

    fn default_scope(&self) -> &'static str {
        "openid offline_access"
    }
}
