//! `keychain set`: change fields of an account, under its lock, compared with what was read.

use crate::audit::Event;
use crate::cli::SetArgs;
use crate::error::{Error, Result};
use crate::keychain::{Keychain, OnAuditFailure};
use crate::record::SecretField;
use crate::store::Expect;
use crate::trail::{self, Action};

use super::secrets::{self, Wanted};

pub fn run(kc: &Keychain, args: SetArgs) -> Result<()> {
    let now = crate::clock::now();
    kc.identity()?;
    let lock = kc.lock(&args.name)?;
    let (mut account, revision) = kc.read(&args.name)?;

    super::provider::apply(&mut account.header.provider, &args.provider)?;
    if let Some(user) = &args.user {
        account.header.user = user.clone();
    }
    let wanted = Wanted {
        password: false,
        password_required: false,
        totp: false,
        client_secret: false,
    };
    secrets::read_into(&mut account, &args.secrets, wanted, now)?;
    for field in &args.clear {
        let field = SecretField::from(*field);
        if !account.header.has(field) {
            return Err(Error::usage(format!(
                "account '{}' has no {field} to clear",
                args.name
            )));
        }
        account.set_secret(field, None, now);
        if field == SecretField::TotpSecret {
            account.header.totp = None;
        }
        if field == SecretField::AccessToken {
            account.header.access_token_expires = None;
        }
    }
    account.header.updated = now;
    crate::validate::account(&account, crate::validate::ProviderRule::Complete)?;
    let mut events = Vec::new();
    for field in changed_fields(&args) {
        let mut event = Event::new("set", Action::Set(field.clone())).account(&args.name);
        if let Some(value) = SecretField::ALL
            .iter()
            .find(|f| f.as_str() == field)
            .and_then(|f| account.secret(*f))
        {
            event = event.fingerprint(field.clone(), trail::fingerprint_of(kc, &field, value)?);
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
        "Updated account '{}'.\n",
        args.name
    )));
    Ok(())
}

/// The names of the fields a `set` call changes, for its audit events.
fn changed_fields(args: &SetArgs) -> Vec<String> {
    let p = &args.provider;
    let mut fields: Vec<String> = [
        ("provider", p.provider.is_some()),
        ("issuer", p.issuer.is_some()),
        ("authorize-url", p.authorize_url.is_some()),
        ("token-url", p.token_url.is_some()),
        ("client-id", p.client_id.is_some()),
        ("redirect-uri", p.redirect_uri.is_some()),
        ("scope", p.scope.is_some()),
        ("flow", p.flow.is_some()),
        ("allow-host", !p.allow_hosts.is_empty() || p.no_allow_hosts),
        ("insecure-http", p.insecure_http),
        ("user", args.user.is_some()),
        ("password", args.secrets.password_file.is_some()),
        (
            "totp-secret",
            args.secrets.totp_file.is_some() || args.secrets.totp_qr.is_some(),
        ),
        ("client-secret", args.secrets.client_secret_file.is_some()),
        ("refresh-token", args.secrets.refresh_token_file.is_some()),
    ]
    .into_iter()
    .filter(|(_, changed)| *changed)
    .map(|(name, _)| name.to_string())
    .collect();
    fields.extend(
        args.clear
            .iter()
            .map(|f| format!("{}-cleared", SecretField::from(*f).as_str())),
    );
    fields
}
