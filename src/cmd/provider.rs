//! Provider settings from the command line, checked before they are stored.

use crate::cli::ProviderArgs;
use crate::error::{Error, Result};
use crate::record::Provider;

/// Applies the flags given to `provider` (all of them for `add`, changes for `set`) and checks
/// that the result can be used to log on.
pub fn apply(provider: &mut Provider, args: &ProviderArgs) -> Result<()> {
    if let Some(kind) = &args.provider {
        provider.kind = kind.clone();
    }
    for (value, slot) in [
        (&args.issuer, &mut provider.issuer),
        (&args.authorize_url, &mut provider.authorize_url),
        (&args.token_url, &mut provider.token_url),
        (&args.redirect_uri, &mut provider.redirect_uri),
    ] {
        if let Some(url) = value {
            check_url(url)?;
            *slot = Some(url.clone());
        }
    }
    if let Some(id) = &args.client_id {
        provider.client_id = Some(id.clone());
    }
    if let Some(scope) = &args.scope {
        provider.scope = Some(scope.clone());
    }
    if let Some(flow) = args.flow {
        provider.flow = flow;
    }
    if args.issuer.is_some() {
        provider.authorize_url = None;
        provider.token_url = None;
    } else if args.authorize_url.is_some() {
        provider.issuer = None;
    }
    validate(provider)
}

fn validate(provider: &Provider) -> Result<()> {
    match provider.kind.as_str() {
        "oidc" if provider.issuer.is_none() => Err(Error::usage_hint(
            "provider oidc needs --issuer URL",
            "give the issuer, e.g. --issuer https://login.example.com",
        )),
        "oauth2" if provider.authorize_url.is_none() || provider.token_url.is_none() => {
            Err(Error::usage_hint(
                "provider oauth2 needs --authorize-url and --token-url",
                "give both endpoints of the provider",
            ))
        }
        // Explicit URLs (both, clap sees to that) point an Exact account at a proxy or an
        // emulator; an OIDC issuer means nothing to Exact.
        kind if kind.starts_with("exact-") && provider.issuer.is_some() => Err(Error::usage_hint(
            "Exact Online providers have their URLs built in: leave out --issuer",
            "to point an Exact account elsewhere (a proxy, an emulator), give --authorize-url and --token-url",
        )),
        _ if provider.client_id.is_none() => Err(Error::usage_hint(
            "the account needs a client id to log on",
            "give --client-id ID (the application's id registered at the provider)",
        )),
        _ => Ok(()),
    }
}

fn check_url(text: &str) -> Result<()> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => Ok(()),
        _ => Err(Error::usage(format!("'{text}' is not an http(s) URL"))),
    }
}
