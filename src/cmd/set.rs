//! `keychain set`: change fields of an account, under its lock, compared with what was read.
//!
//! A call that changes nothing is an error (exit 2), so a typo in a script is not taken for
//! success. What changed is found by comparing the header before and after, so the audit log
//! also names the endpoints that a provider change reset.

use clap::{Args, ValueEnum};

use crate::audit::Event;
use crate::error::{Error, Result};
use crate::keychain::{Keychain, OnAuditFailure};
use crate::record::{Header, SecretField};
use crate::store::Expect;
use crate::trail::{self, Action};

use super::secrets::{self, Wanted};
use super::shared_args::{ProviderArgs, SecretArgs, account_names};

#[derive(Debug, Args)]
pub struct SetArgs {
    #[arg(add = account_names())]
    pub name: String,
    #[command(flatten)]
    pub provider: ProviderArgs,
    /// A new user name
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    #[command(flatten)]
    pub secrets: SecretArgs,
    /// Remove a stored field: a secret or a plain setting (scope, redirect-uri, issuer, ...);
    /// repeatable. The account must still be able to log on afterwards
    #[arg(long, alias = "clear", value_enum, value_name = "FIELD")]
    pub unset: Vec<UnsetField>,
}

/// A field `set --unset` can remove: the secrets and the optional plain settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UnsetField {
    Password,
    TotpSecret,
    ClientSecret,
    RefreshToken,
    AccessToken,
    Issuer,
    AuthorizeUrl,
    TokenUrl,
    ClientId,
    RedirectUri,
    Scope,
    AllowHost,
}

impl UnsetField {
    /// The secret this field names, if it is one.
    pub fn secret(self) -> Option<crate::record::SecretField> {
        use crate::record::SecretField as S;
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

pub fn run(kc: &Keychain, args: SetArgs) -> Result<()> {
    if !anything_given(&args) {
        return Err(Error::usage_hint(
            "nothing to change: give at least one field",
            format!(
                "e.g. keychain set {} --user USER, or --unset FIELD; see 'keychain set --help'",
                args.name
            ),
        ));
    }
    let now = kc.now();
    kc.identity()?;
    let lock = kc.lock(&args.name)?;
    let (mut account, revision) = kc.read(&args.name)?;
    let before = account.header.clone();

    for &field in &args.unset {
        unset(&mut account, field, &args, now)?;
    }
    super::provider::apply(&mut account.header.provider, &args.provider)?;
    if let Some(user) = &args.user {
        account.header.user = user.clone();
    }
    let wanted = Wanted {
        password: false,
        password_required: false,
        totp: false,
        totp_required: false,
        client_secret: false,
        client_secret_required: false,
    };
    secrets::read_into(&mut account, &args.secrets, wanted, now)?;
    forget_the_old_providers_credentials(&mut account, &before, &args, now)?;
    let changed = changed_fields(&before, &account.header, &args);
    if changed.is_empty() {
        return Err(Error::usage_hint(
            format!(
                "nothing changed: account '{}' already has these values",
                args.name
            ),
            format!("'keychain show {}' shows the stored values", args.name),
        ));
    }
    account.header.updated = now;
    crate::validate::account(&account, crate::validate::ProviderRule::Complete)?;
    let mut events = Vec::new();
    for field in &changed {
        let mut event = Event::new("set", Action::Set(field.clone())).account(&args.name);
        if let Some(value) = SecretField::ALL
            .iter()
            .find(|f| f.as_str() == field)
            .and_then(|f| account.secret(*f))
        {
            event = event.fingerprint(field.clone(), trail::fingerprint_of(kc, field, value)?);
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
    crate::output::after_save(crate::output::err(&format!(
        "Updated account '{}': {}.\n",
        args.name,
        changed.join(", ")
    )));
    Ok(())
}

/// `--unset FIELD`: a secret or a plain setting that must be present, and not also given.
fn unset(
    account: &mut crate::record::Account,
    field: UnsetField,
    args: &SetArgs,
    now: i64,
) -> Result<()> {
    let name = field_name(field);
    let secret_given = match field.secret() {
        Some(SecretField::Password) => args.secrets.password_file.is_some(),
        Some(SecretField::TotpSecret) => {
            args.secrets.totp_file.is_some() || args.secrets.totp_qr.is_some()
        }
        Some(SecretField::ClientSecret) => args.secrets.client_secret_file.is_some(),
        Some(SecretField::RefreshToken) => args.secrets.refresh_token_file.is_some(),
        Some(SecretField::AccessToken) => false,
        None => super::provider::given(&args.provider, field),
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
        None => super::provider::unset(&mut account.header.provider, field),
    };
    if present {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "account '{}' has no {name} to unset",
            args.name
        )))
    }
}

fn field_name(field: UnsetField) -> String {
    field
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// Who issued the account's tokens and holds its client registration: the provider kind and
/// the hosts of its issuer and token endpoint.
fn authority(
    p: &crate::record::Provider,
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
    account: &mut crate::record::Account,
    before: &Header,
    args: &SetArgs,
    now: i64,
) -> Result<()> {
    if authority(&before.provider) == authority(&account.header.provider) {
        return Ok(());
    }
    if account.header.has(SecretField::ClientSecret) && args.secrets.client_secret_file.is_none() {
        return Err(Error::usage_hint(
            "the stored client secret belongs to the account's old provider or token endpoint and is not sent to the new one",
            format!(
                "give the new one with --client-secret-file FILE, or drop it with --unset client-secret (keychain set {} ...)",
                args.name
            ),
        ));
    }
    if args.secrets.refresh_token_file.is_none() {
        account.set_secret(SecretField::RefreshToken, None, now);
        account.header.refresh_token_active = None;
    }
    account.set_secret(SecretField::AccessToken, None, now);
    account.header.access_token_expires = None;
    Ok(())
}

/// Whether any flag that changes something was given.
fn anything_given(args: &SetArgs) -> bool {
    let p = &args.provider;
    let s = &args.secrets;
    p.provider.is_some()
        || p.issuer.is_some()
        || p.authorize_url.is_some()
        || p.token_url.is_some()
        || p.client_id.is_some()
        || p.redirect_uri.is_some()
        || p.scope.is_some()
        || p.flow.is_some()
        || !p.allow_hosts.is_empty()
        || p.no_allow_hosts
        || p.insecure_http
        || args.user.is_some()
        || s.password_file.is_some()
        || s.totp_file.is_some()
        || s.totp_qr.is_some()
        || s.client_secret_file.is_some()
        || s.refresh_token_file.is_some()
        || !args.unset.is_empty()
}

/// The names of the fields a `set` call changed, for its audit events and its message: plain
/// settings by comparing the header before and after; secrets by the flags given (a new secret
/// counts even when equal to the old, which is not compared); removed secrets as
/// `FIELD-cleared`.
fn changed_fields(before: &Header, after: &Header, args: &SetArgs) -> Vec<String> {
    let (b, a) = (&before.provider, &after.provider);
    let s = &args.secrets;
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
        ("password", s.password_file.is_some()),
        ("totp-secret", s.totp_file.is_some() || s.totp_qr.is_some()),
        ("client-secret", s.client_secret_file.is_some()),
        ("refresh-token", s.refresh_token_file.is_some()),
    ]
    .into_iter()
    .filter(|(_, changed)| *changed)
    .map(|(name, _)| name.to_string())
    .collect();
    fields.extend(
        args.unset
            .iter()
            .filter_map(|f| f.secret())
            .map(|f| format!("{}-cleared", f.as_str())),
    );
    fields
}
