//! The one check every account passes before it is stored, whoever made it: `add` from flags
//! and files, `import` from a settings file, `import` from an export (an age file anyone holding
//! the officer's public key can write, so its content is outside input).
//!
//! It checks what later code relies on: a name that is a safe file name, provider URLs that
//! are http(s), a provider complete enough to log on, TOTP parameters the code generator
//! accepts, tokens that can go into an HTTP header or a shell line, and a user name without
//! control characters. Messages name the field, never a secret value.
#![deny(missing_docs)]

use secrecy::ExposeSecret;

use crate::providers::{ProviderRule, ProviderSettings};
use crate::record::{Account, SecretField};
use crate::totp::TotpSecret;

/// Longest user name accepted: logon codes are e-mail addresses or short names.
const MAX_USER: usize = 256;

/// Why an account cannot be stored. Never carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    /// The account name cannot be a file name in the store (the store's own check).
    #[error(transparent)]
    Name(#[from] crate::store::StoreError),
    /// A provider URL that does not parse, is not http(s) or has no host.
    #[error("the provider's {field} {url:?} is not an http(s) URL")]
    Url {
        /// Which URL of the provider, as people call it ("token URL").
        field: &'static str,
        /// The URL as given.
        url: String,
    },
    /// The provider lacks what its kind needs to log on (an endpoint, a client id).
    #[error("{message}")]
    Provider {
        /// What is missing.
        message: &'static str,
        /// What to give to complete it, naming the flag.
        hint: &'static str,
    },
    /// The TOTP secret or its parameters are rejected by the code generator.
    #[error("the TOTP secret is not usable: {0}")]
    Totp(#[from] crate::totp::TotpError),
    /// A TOTP secret stored without its algorithm, digits and period.
    #[error("the TOTP secret has no parameters (algorithm, digits, period) beside it")]
    TotpWithoutParams,
    /// A token (named: "refresh token", "access token") with characters that would break an
    /// HTTP header or a shell line.
    #[error("the {0} holds spaces, line breaks or control characters, which a token never has")]
    Token(&'static str),
    /// Provider URLs (listed, comma-separated) that use plain http to a host other than
    /// loopback, in an account not marked `insecure_http`.
    #[error("{0} would send credentials over plain http")]
    InsecureHttp(String),
    /// An allowed host that is not a bare host name in normal form (lower case, no trailing
    /// dot; no scheme, port, path or wildcard).
    #[error("the allowed host {0:?} is not a bare host name")]
    AllowedHost(String),
    /// A password or client secret stored as the empty string (named).
    #[error("the {0} is empty")]
    Empty(&'static str),
    /// The user name is too long or holds control characters.
    #[error("the user name is longer than {MAX_USER} characters or holds control characters")]
    User,
}

impl Invalid {
    /// What a person can do about it, where there is more to say than the message.
    pub fn hint(&self) -> Option<String> {
        match self {
            Invalid::Provider { hint, .. } => Some((*hint).to_string()),
            Invalid::Url { .. } => Some("give an https:// URL".into()),
            Invalid::Totp(e) => crate::exit::Failure::hint(e),
            Invalid::InsecureHttp(_) => Some("use https; plain http to a host other than loopback needs --insecure-http, recorded in the account".into()),
            _ => None,
        }
    }
}

impl crate::exit::Failure for Invalid {
    fn class(&self) -> crate::exit::Class {
        match self {
            Invalid::Name(e) => e.class(),
            _ => crate::exit::Class::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Invalid::Name(e) => e.hint(),
            _ => Invalid::hint(self),
        }
    }
}

/// Checks an account before it is stored; the first problem found is returned.
pub fn account(account: &Account, rule: ProviderRule) -> Result<(), Invalid> {
    crate::store::validate_name(&account.header.name)?;
    provider(&account.header.provider, rule)?;
    let user = &account.header.user;
    if user.chars().count() > MAX_USER || user.chars().any(char::is_control) {
        return Err(Invalid::User);
    }
    if let Some(text) = account.secret(SecretField::TotpSecret) {
        let params = account
            .header
            .totp
            .as_ref()
            .ok_or(Invalid::TotpWithoutParams)?;
        TotpSecret::from_stored(
            text.expose_secret(),
            params.algorithm,
            params.digits,
            params.period,
        )?;
    }
    for (field, name) in [
        (SecretField::RefreshToken, "refresh token"),
        (SecretField::AccessToken, "access token"),
    ] {
        if let Some(token) = account.secret(field)
            && !crate::oauth::is_token_text(token.expose_secret())
        {
            return Err(Invalid::Token(name));
        }
    }
    for (field, name) in [
        (SecretField::Password, "password"),
        (SecretField::ClientSecret, "client secret"),
    ] {
        if account
            .secret(field)
            .is_some_and(|v| v.expose_secret().is_empty())
        {
            return Err(Invalid::Empty(name));
        }
    }
    Ok(())
}

/// Checks a provider: http(s) URLs, and (with [`ProviderRule::Complete`]) what its kind needs
/// to log on. (The kind is one keychain knows by its type: a record or export naming another
/// does not parse.)
pub fn provider(provider: &ProviderSettings, rule: ProviderRule) -> Result<(), Invalid> {
    for (field, value) in [
        ("issuer", &provider.issuer),
        ("authorization URL", &provider.authorize_url),
        ("token URL", &provider.token_url),
        ("redirect URI", &provider.redirect_uri),
    ] {
        if let Some(url) = value {
            check_url(field, url)?;
        }
    }
    // A record that says nothing of plain http must not carry an http URL to another host
    // (a forged backup, an edited export): the flag is what `audit` reports.
    let insecure = insecure_urls(provider);
    if !insecure.is_empty() && !provider.insecure_http {
        return Err(Invalid::InsecureHttp(insecure.join(", ")));
    }
    if let Some(bad) = provider
        .allow_hosts
        .iter()
        .find(|h| allowed_host(h).as_deref() != Some(h.as_str()))
    {
        return Err(Invalid::AllowedHost(bad.clone()));
    }
    provider
        .kind
        .provider()
        .check(provider, rule)
        .map_err(|i| Invalid::Provider {
            message: i.message,
            hint: i.hint,
        })?;
    if provider.client_id.is_none() {
        return Err(Invalid::Provider {
            message: "the account needs a client id to log on",
            hint: "give --client-id ID (the application's id registered at the provider)",
        });
    }
    Ok(())
}

/// The URLs that would carry credentials over plain http to a host other than loopback. The
/// redirect URI is left out: nothing is ever sent to it.
pub fn insecure_urls(provider: &ProviderSettings) -> Vec<String> {
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

/// `text` as a host name for `--allow-host` (lower case, no trailing dot), or `None` when it is
/// not a bare host: no scheme, port, path or wildcard.
pub fn allowed_host(text: &str) -> Option<String> {
    let host = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let parsed = url::Url::parse(&format!("https://{host}/")).ok()?;
    (!host.is_empty() && parsed.host_str() == Some(host.as_str())).then_some(host)
}

fn check_url(field: &'static str, text: &str) -> Result<(), Invalid> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.host().is_some() => Ok(()),
        _ => Err(Invalid::Url {
            field,
            url: text.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ProviderKind;
    use crate::record::{Header, TotpParams};
    use secrecy::SecretString;

    fn good() -> Account {
        let provider = ProviderSettings {
            issuer: Some("https://login.example.com".into()),
            client_id: Some("cli".into()),
            ..ProviderSettings::new(ProviderKind::Oidc)
        };
        let mut account = Account::new(Header::new("acme", provider, "dwho".into(), 0));
        account.header.totp = Some(TotpParams {
            algorithm: crate::totp::Algorithm::Sha1,
            digits: 6,
            period: 30,
            issuer: None,
            label: None,
        });
        account.set_secret(
            SecretField::TotpSecret,
            Some(SecretString::from("JBSWY3DPEHPK3PXP")),
            0,
        );
        account.set_secret(
            SecretField::RefreshToken,
            Some(SecretString::from("rt.abc-123")),
            0,
        );
        account
    }

    #[test]
    fn a_good_account_passes() {
        account(&good(), ProviderRule::Complete).unwrap();
    }

    #[test]
    fn each_kind_of_bad_field_is_refused_without_showing_a_secret() {
        type Edit = fn(&mut Account);
        let cases: &[(&str, Edit)] = &[
            ("account name", |a| a.header.name = "../x".into()),
            ("issuer", |a| {
                a.header.provider.kind = ProviderKind::Exact(crate::providers::ExactCountry::Nl)
            }),
            ("URL", |a| {
                a.header.provider.issuer = Some("file:///etc/passwd".into())
            }),
            ("URL", |a| {
                a.header.provider.redirect_uri = Some("javascript:alert(1)".into())
            }),
            ("digits", |a| a.header.totp.as_mut().unwrap().digits = 99),
            ("period", |a| a.header.totp.as_mut().unwrap().period = 0),
            ("period", |a| {
                a.header.totp.as_mut().unwrap().period = u64::MAX
            }),
            ("parameters", |a| a.header.totp = None),
            ("refresh token", |a| {
                a.set_secret(
                    SecretField::RefreshToken,
                    Some(SecretString::from("rt-canary\r\nX: 1")),
                    0,
                )
            }),
            ("user name", |a| a.header.user = "a\u{1b}[2Jb".into()),
            ("client id", |a| a.header.provider.client_id = None),
        ];
        for (want, edit) in cases {
            let mut a = good();
            edit(&mut a);
            let error = account(&a, ProviderRule::Complete).unwrap_err().to_string();
            assert!(error.contains(want), "{want}: {error}");
            assert!(!error.contains("rt-canary"), "{error}");
        }
    }

    #[test]
    fn an_oauth2_account_from_a_settings_file_may_lack_its_endpoints() {
        let mut a = good();
        a.header.provider = ProviderSettings {
            client_id: Some("tl".into()),
            ..ProviderSettings::new(ProviderKind::Oauth2)
        };
        account(&a, ProviderRule::FromSettings).unwrap();
        assert!(account(&a, ProviderRule::Complete).is_err());
    }
}
