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
    if args.no_allow_hosts {
        provider.allow_hosts.clear();
    }
    if !args.allow_hosts.is_empty() {
        provider.allow_hosts = args
            .allow_hosts
            .iter()
            .map(|h| check_host(h))
            .collect::<Result<_>>()?;
    }
    if args.issuer.is_some() {
        provider.authorize_url = None;
        provider.token_url = None;
    } else if args.authorize_url.is_some() {
        provider.issuer = None;
    }
    // Recorded only while needed: true when asked for, kept while an http URL remains.
    let insecure = insecure_urls(provider);
    let allowed = args.insecure_http || provider.insecure_http;
    if !insecure.is_empty() && !allowed {
        return Err(Error::usage_hint(
            format!(
                "{} would send credentials over plain http",
                insecure.join(", ")
            ),
            "use https; for a provider reachable only over http on a trusted network, add --insecure-http (recorded, and reported by 'keychain audit')",
        ));
    }
    provider.insecure_http = !insecure.is_empty();
    validate(provider)
}

/// The URLs that would carry credentials over plain http to a host other than loopback. The
/// redirect URI is left out: nothing is ever sent to it.
fn insecure_urls(provider: &Provider) -> Vec<String> {
    [
        &provider.issuer,
        &provider.authorize_url,
        &provider.token_url,
    ]
    .into_iter()
    .flatten()
    .filter(|u| url::Url::parse(u).is_ok_and(|u| crate::oauth::policy::is_insecure_http(&u)))
    .cloned()
    .collect()
}

/// A host name for `--allow-host`: a bare host, no scheme, port, path or wildcard.
fn check_host(text: &str) -> Result<String> {
    let host = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let parsed = url::Url::parse(&format!("https://{host}/"));
    match parsed {
        Ok(u) if !host.is_empty() && u.host_str() == Some(host.as_str()) => Ok(host),
        _ => Err(Error::usage_hint(
            format!("'{text}' is not a host name"),
            "give the bare host, e.g. --allow-host login.example.com (no scheme, port, path or wildcard)",
        )),
    }
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
