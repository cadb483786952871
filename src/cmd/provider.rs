//! Provider settings from the command line, checked (by `crate::validate`) before they are stored.

use crate::cli::ProviderArgs;
use crate::error::Result;
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
    // The same check an imported account passes (src/validate.rs), URLs included.
    crate::validate::provider(provider, crate::validate::ProviderRule::Complete)?;
    Ok(())
}
