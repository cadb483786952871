//! Plain OAuth2: both endpoints are given with the account (`--authorize-url`, `--token-url`).
#![deny(missing_docs)]

use super::{EndpointError, Incomplete, ProviderRules, explicit_endpoints};
use super::{ProviderRule, ProviderSettings as Settings};
use crate::oauth::Endpoints;

pub(super) struct Oauth2;

impl ProviderRules for Oauth2 {
    fn name(&self) -> &'static str {
        "oauth2"
    }

    fn description(&self) -> &'static str {
        "plain OAuth2 (with --authorize-url and --token-url)"
    }

    fn check(&self, settings: &Settings, rule: ProviderRule) -> Result<(), Incomplete> {
        // A settings file (Invantive) names the provider but not its endpoints: `set` adds them.
        if rule == ProviderRule::Complete
            && (settings.authorize_url.is_none() || settings.token_url.is_none())
        {
            return Err(Incomplete {
                message: "provider oauth2 needs --authorize-url and --token-url",
                hint: "give both endpoints of the provider",
            });
        }
        Ok(())
    }

    fn endpoints(
        &self,
        settings: &Settings,
        _client: &reqwest::blocking::Client,
    ) -> Result<Endpoints, EndpointError> {
        explicit_endpoints(settings)
    }
}
