//! `set`: change fields of an account, under its lock, compared with what was read.
//!
//! A call that names no field is an error (exit 2), so a typo in a script is not taken for
//! success; a call whose values the account already has changes nothing, writes nothing and
//! succeeds ([`Changed::fields`] empty), so provisioning can be run again. What changed is found by comparing the header before and after, so the audit log
//! also names the endpoints that a provider change reset.

use crate::audit::Action;
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::keychain::{Keychain, OnAuditFailure};
use crate::name::AccountName;
use crate::record::{Account, Header, SecretField};
use crate::store::Expect;

use super::edit::{self, ProviderChanges, SecretsGiven, UnsetField};

/// The changes to make to one account, its new secrets aside (see [`set`]).
#[derive(Debug, Clone)]
pub struct SetOptions {
    /// The account's name.
    pub name: AccountName,
    /// Provider settings to change.
    pub provider: ProviderChanges,
    /// A new user name.
    pub user: Option<String>,
    /// Which secrets the call brings (the reader passed to [`set`] puts them in).
    pub secrets: SecretsGiven,
    /// Fields to remove.
    pub unset: Vec<UnsetField>,
}

/// An account changed.
#[derive(Debug, Clone)]
pub struct Changed {
    /// Its name.
    pub name: AccountName,
    /// The fields changed, in the audit log's words (`user`, `password`, `refresh-token-cleared`);
    /// empty when the account already had the values given (nothing was written or recorded).
    pub fields: Vec<String>,
}

/// Changes the account `options.name`. `read_secrets` puts the new secrets into the account
/// read (given the time), after the fields to remove and the provider settings are applied and
/// checked, so a contradiction is refused before any secret is read.
pub fn set(
    kc: &Keychain,
    options: &SetOptions,
    read_secrets: impl FnOnce(&mut Account, i64) -> Result<()>,
) -> Result<Changed> {
    let name = options.name.as_str();
    if !(options.provider.any()
        || options.user.is_some()
        || options.secrets.any()
        || !options.unset.is_empty())
    {
        return Err(Error::usage_hint(
            "nothing to change: give at least one field",
            format!(
                "e.g. keychain set {name} --user USER, or --unset FIELD; see 'keychain set --help'"
            ),
        ));
    }
    let now = kc.now();
    kc.identity()?;
    let lock = kc.lock(name)?;
    let (mut account, revision) = kc.read(name)?;
    let before = account.header.clone();

    for &field in &options.unset {
        unset(&mut account, field, options, now)?;
    }
    edit::apply(&mut account.header.provider, &options.provider)?;
    if let Some(user) = &options.user {
        account.header.user = user.clone();
    }
    read_secrets(&mut account, now)?;
    if account.header.refresh_token_active != before.refresh_token_active {
        // A refresh token given now was stamped on this machine's clock; a shared keychain
        // keeps the stamp on the store's (heard by now: the lock and the read asked it).
        account.header.refresh_token_active = account
            .header
            .refresh_token_active
            .map(|t| kc.records_clock().from_local(t));
    }
    forget_the_old_providers_credentials(&mut account, &before, options, now)?;
    let changed = changed_fields(&before, &account.header, options);
    if changed.is_empty() {
        // Idempotent: the account already is as asked. Nothing is written or recorded.
        return Ok(Changed {
            name: options.name.clone(),
            fields: changed,
        });
    }
    account.header.updated = now;
    crate::validate::account(&account, crate::providers::ProviderRule::Complete)?;
    let mut events = Vec::new();
    for field in &changed {
        let mut event = Event::new("set", Action::Set(field.clone())).account(name);
        if let Some(value) = SecretField::ALL
            .iter()
            .find(|f| f.as_str() == field)
            .and_then(|f| account.secret(*f))
        {
            event = event.fingerprint(field.clone(), kc.fingerprint_of(field, value)?);
        }
        events.push(event);
    }
    kc.commit(
        &*lock,
        Expect::At(revision),
        &mut account,
        events,
        OnAuditFailure::Undo,
    )?;
    Ok(Changed {
        name: options.name.clone(),
        fields: changed,
    })
}

/// `--unset FIELD`: a secret or a plain setting that must be present, and not also given.
fn unset(account: &mut Account, field: UnsetField, options: &SetOptions, now: i64) -> Result<()> {
    let name = field.name();
    let s = &options.secrets;
    let secret_given = match field.secret() {
        Some(SecretField::Password) => s.password,
        Some(SecretField::TotpSecret) => s.totp,
        Some(SecretField::ClientSecret) => s.client_secret,
        Some(SecretField::RefreshToken) => s.refresh_token,
        Some(SecretField::AccessToken) => false,
        None => edit::given(&options.provider, field),
    };
    if secret_given {
        return Err(Error::usage(format!(
            "--unset {name} and a new {name} in the same call contradict each other"
        )));
    }
    let present = match field.secret() {
        Some(secret) => {
            let had = account.header.has(secret);
            account.set_secret(secret, None, now);
            if secret == SecretField::TotpSecret {
                account.header.totp = None;
            }
            if secret == SecretField::AccessToken {
                account.header.access_token_expires = None;
            }
            had
        }
        None => edit::unset(&mut account.header.provider, field),
    };
    if present {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "account '{}' has no {name} to unset",
            options.name
        )))
    }
}

/// Who issued the account's tokens and holds its client registration: the provider kind and
/// the hosts of its issuer and token endpoint.
fn authority(
    p: &crate::providers::ProviderSettings,
) -> (
    crate::providers::ProviderKind,
    Option<String>,
    Option<String>,
) {
    let host = |u: &Option<String>| {
        u.as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    };
    (p.kind, host(&p.issuer), host(&p.token_url))
}

/// When the provider or its token endpoint changes, the credentials of the old one must not be
/// sent to the new one (a mistyped URL, a proxy that is not what it seems): the tokens it
/// issued are dropped, unless the same call brings new ones, and a client secret must be given
/// anew (or unset), because it belongs to the client registered at the old provider.
fn forget_the_old_providers_credentials(
    account: &mut Account,
    before: &Header,
    options: &SetOptions,
    now: i64,
) -> Result<()> {
    if authority(&before.provider) == authority(&account.header.provider) {
        return Ok(());
    }
    if account.header.has(SecretField::ClientSecret) && !options.secrets.client_secret {
        return Err(Error::usage_hint(
            "the stored client secret belongs to the account's old provider or token endpoint and is not sent to the new one",
            format!(
                "give the new one with --client-secret-file FILE, or drop it with --unset client-secret (keychain set {} ...)",
                options.name
            ),
        ));
    }
    if !options.secrets.refresh_token {
        account.set_secret(SecretField::RefreshToken, None, now);
        account.header.refresh_token_active = None;
    }
    account.set_secret(SecretField::AccessToken, None, now);
    account.header.access_token_expires = None;
    Ok(())
}

/// The names of the fields a `set` call changed, for its audit events and its message: plain
/// settings by comparing the header before and after; secrets by what was given (a new secret
/// counts even when equal to the old, which is not compared); removed secrets as
/// `FIELD-cleared`.
fn changed_fields(before: &Header, after: &Header, options: &SetOptions) -> Vec<String> {
    let (b, a) = (&before.provider, &after.provider);
    let s = &options.secrets;
    let mut fields: Vec<String> = [
        ("provider", b.kind != a.kind),
        ("issuer", b.issuer != a.issuer),
        ("authorize-url", b.authorize_url != a.authorize_url),
        ("token-url", b.token_url != a.token_url),
        ("client-id", b.client_id != a.client_id),
        ("redirect-uri", b.redirect_uri != a.redirect_uri),
        ("scope", b.scope != a.scope),
        ("flow", b.flow != a.flow),
        ("allow-host", b.allow_hosts != a.allow_hosts),
        ("insecure-http", b.insecure_http != a.insecure_http),
        ("user", before.user != after.user),
        ("password", s.password),
        ("totp-secret", s.totp),
        ("client-secret", s.client_secret),
        ("refresh-token", s.refresh_token),
    ]
    .into_iter()
    .filter(|(_, changed)| *changed)
    .map(|(name, _)| name.to_string())
    .collect();
    fields.extend(
        options
            .unset
            .iter()
            .filter_map(|f| f.secret())
            .map(|f| format!("{}-cleared", f.as_str())),
    );
    fields
}
