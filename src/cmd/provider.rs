//! Provider settings from the command line, checked (by `crate::validate`) before they are stored.

use crate::error::{Error, Result};
use crate::record::Provider;

use super::set::UnsetField;
use super::shared_args::ProviderArgs;

/// Applies the flags given to `provider` (all of them for `add`, changes for `set`) and checks
/// that the result can be used to log on.
pub fn apply(provider: &mut Provider, args: &ProviderArgs) -> Result<()> {
    if let Some(kind) = args.provider {
        if kind != provider.kind {
            // The endpoints, the extra hosts and the plain-http consent belonged to the old
            // provider (an Exact account's URLs are built in; an issuer means nothing to
            // oauth2): kept, they would send the new provider's credentials to the old one.
            // Only what this same call gives is set below.
            provider.issuer = None;
            provider.authorize_url = None;
            provider.token_url = None;
            provider.allow_hosts.clear();
            provider.insecure_http = false;
        }
        provider.kind = kind;
    }
    for (value, slot) in [
        (&args.issuer, &mut provider.issuer),
        (&args.authorize_url, &mut provider.authorize_url),
        (&args.token_url, &mut provider.token_url),
        (&args.redirect_uri, &mut provider.redirect_uri),
    ] {
        if let Some(url) = value {
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
    let insecure = crate::validate::insecure_urls(provider);
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
    // The same check an imported account passes (src/validate.rs), URLs and hosts included.
    crate::validate::provider(provider, crate::validate::ProviderRule::Complete)?;
    Ok(())
}

/// Removes a plain setting for `set --unset`; false when it was not set. Secrets are not
/// handled here.
pub fn unset(provider: &mut Provider, field: UnsetField) -> bool {
    let slot = match field {
        UnsetField::Issuer => &mut provider.issuer,
        UnsetField::AuthorizeUrl => &mut provider.authorize_url,
        UnsetField::TokenUrl => &mut provider.token_url,
        UnsetField::ClientId => &mut provider.client_id,
        UnsetField::RedirectUri => &mut provider.redirect_uri,
        UnsetField::Scope => &mut provider.scope,
        UnsetField::AllowHost => {
            let had = !provider.allow_hosts.is_empty();
            provider.allow_hosts.clear();
            return had;
        }
        _ => return false,
    };
    slot.take().is_some()
}

/// Whether the same `set` call also gives a value for `field`, which `--unset` contradicts.
pub fn given(args: &ProviderArgs, field: UnsetField) -> bool {
    match field {
        UnsetField::Issuer => args.issuer.is_some(),
        UnsetField::AuthorizeUrl => args.authorize_url.is_some(),
        UnsetField::TokenUrl => args.token_url.is_some(),
        UnsetField::ClientId => args.client_id.is_some(),
        UnsetField::RedirectUri => args.redirect_uri.is_some(),
        UnsetField::Scope => args.scope.is_some(),
        UnsetField::AllowHost => !args.allow_hosts.is_empty(),
        _ => false,
    }
}

/// A host name for `--allow-host`: a bare host, no scheme, port, path or wildcard.
fn check_host(text: &str) -> Result<String> {
    crate::validate::allowed_host(text).ok_or_else(|| {
        Error::usage_hint(
            format!("'{text}' is not a host name"),
            "give the bare host, e.g. --allow-host login.example.com (no scheme, port, path or wildcard)",
        )
    })
}
