//! The changes `add` and `set` make to an account, as a front end hands them over: the provider
//! settings given, the fields to remove, and which secrets the call brings. The secrets' values
//! are not here: the front end reads them (files, standard input, a prompt) when the operation
//! asks for them, through the reader it passes.

use crate::error::{Error, Result};
use crate::providers::ProviderKind;
use crate::providers::{Flow, ProviderSettings};
use crate::record::{Account, SecretField};
use secrecy::ExposeSecret;

/// Provider settings given for `add` (all of them) or `set` (the changes); `None` or empty for
/// "not given".
#[derive(Debug, Clone, Default)]
pub struct ProviderChanges {
    /// Which provider the account logs on to.
    pub provider: Option<ProviderKind>,
    /// OpenID Connect issuer.
    pub issuer: Option<String>,
    /// OAuth2 authorization endpoint.
    pub authorize_url: Option<String>,
    /// OAuth2 token endpoint.
    pub token_url: Option<String>,
    /// The client id registered at the provider.
    pub client_id: Option<String>,
    /// The redirect URI registered for the client.
    pub redirect_uri: Option<String>,
    /// Scopes to request, space-separated.
    pub scope: Option<String>,
    /// The OAuth2 flow.
    pub flow: Option<Flow>,
    /// Hosts beyond the account's own URLs that may receive the password and code; replaces
    /// the recorded list when not empty.
    pub allow_hosts: Vec<String>,
    /// Forget the recorded extra hosts.
    pub no_allow_hosts: bool,
    /// Accept plain http URLs to hosts other than loopback.
    pub insecure_http: bool,
}

impl ProviderChanges {
    /// Whether any setting is given.
    pub fn any(&self) -> bool {
        self.provider.is_some()
            || self.issuer.is_some()
            || self.authorize_url.is_some()
            || self.token_url.is_some()
            || self.client_id.is_some()
            || self.redirect_uri.is_some()
            || self.scope.is_some()
            || self.flow.is_some()
            || !self.allow_hosts.is_empty()
            || self.no_allow_hosts
            || self.insecure_http
    }
}

/// Which secrets a call brings (each read from a file, standard input or a prompt by the front
/// end); an `--unset` of the same field contradicts it, and a changed provider keeps a secret
/// only when it is given anew.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecretsGiven {
    /// A password.
    pub password: bool,
    /// A TOTP secret (a file or a picture of its QR code).
    pub totp: bool,
    /// A client secret.
    pub client_secret: bool,
    /// A refresh token.
    pub refresh_token: bool,
}

impl SecretsGiven {
    /// Whether any secret is given.
    pub fn any(&self) -> bool {
        self.password || self.totp || self.client_secret || self.refresh_token
    }
}

/// A field `set` can remove: the secrets and the optional plain settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsetField {
    /// The password.
    Password,
    /// The TOTP secret (and its parameters).
    TotpSecret,
    /// The client secret.
    ClientSecret,
    /// The refresh token.
    RefreshToken,
    /// The access token (and its expiry).
    AccessToken,
    /// The OpenID Connect issuer.
    Issuer,
    /// The authorization endpoint.
    AuthorizeUrl,
    /// The token endpoint.
    TokenUrl,
    /// The client id.
    ClientId,
    /// The redirect URI.
    RedirectUri,
    /// The scopes.
    Scope,
    /// The extra hosts.
    AllowHost,
}

impl UnsetField {
    /// The field's name, as the command line spells it (`totp-secret`).
    pub fn name(self) -> &'static str {
        match self {
            UnsetField::Password => "password",
            UnsetField::TotpSecret => "totp-secret",
            UnsetField::ClientSecret => "client-secret",
            UnsetField::RefreshToken => "refresh-token",
            UnsetField::AccessToken => "access-token",
            UnsetField::Issuer => "issuer",
            UnsetField::AuthorizeUrl => "authorize-url",
            UnsetField::TokenUrl => "token-url",
            UnsetField::ClientId => "client-id",
            UnsetField::RedirectUri => "redirect-uri",
            UnsetField::Scope => "scope",
            UnsetField::AllowHost => "allow-host",
        }
    }

    /// The secret this field names, if it is one.
    pub fn secret(self) -> Option<SecretField> {
        use SecretField as S;
        Some(match self {
            UnsetField::Password => S::Password,
            UnsetField::TotpSecret => S::TotpSecret,
            UnsetField::ClientSecret => S::ClientSecret,
            UnsetField::RefreshToken => S::RefreshToken,
            UnsetField::AccessToken => S::AccessToken,
            _ => return None,
        })
    }
}

/// Applies the settings given to `provider` (all of them for `add`, changes for `set`) and
/// checks that the result can be used to log on.
pub fn apply(provider: &mut ProviderSettings, args: &ProviderChanges) -> Result<()> {
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
    crate::validate::provider(provider, crate::providers::ProviderRule::Complete)?;
    Ok(())
}

/// Removes a plain setting for `set --unset`; false when it was not set. Secrets are not
/// handled here.
pub fn unset(provider: &mut ProviderSettings, field: UnsetField) -> bool {
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
pub fn given(args: &ProviderChanges, field: UnsetField) -> bool {
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

/// Whether `new` is the account `stored` holds (`add` and `store copy` of an account that is
/// there already change nothing then): the same provider settings, user, TOTP
/// parameters and secrets (each compared in constant time). What logons add to a stored account
/// (an access token, a rotated refresh token) and ages are not compared; a refresh token is
/// compared only when one is given.
pub fn same_account(stored: &Account, new: &Account) -> bool {
    let (a, b) = (&stored.header, &new.header);
    let fields_same = a.provider == b.provider && a.user == b.user && a.totp == b.totp;
    // Every secret compared, whatever the outcome of the others: no early exit on a value.
    let mut secrets_same = true;
    for field in SecretField::ALL {
        secrets_same &= match (field, stored.secret(field), new.secret(field)) {
            (SecretField::AccessToken, _, _) | (SecretField::RefreshToken, _, None) => true,
            (_, Some(x), Some(y)) => crate::secret::ct_eq_str(x.expose_secret(), y.expose_secret()),
            (_, None, None) => true,
            _ => false,
        };
    }
    fields_same && secrets_same
}
