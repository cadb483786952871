//! `keychain add`: onboard an account. Never overwrites an existing one without `--replace`.

use clap::Args;

use crate::audit::Event;
use crate::error::{Error, Result};
use crate::keychain::{Keychain, OnAuditFailure};
use crate::record::{Account, Header, Provider};
use crate::store::{Expect, validate_name};
use crate::trail::{self, Action};

use super::secrets::{self, Wanted};
use super::shared_args::{ProviderArgs, SecretArgs};

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Account name: letters, digits, '.', '_' and '-'
    pub name: String,
    #[command(flatten)]
    pub provider: ProviderArgs,
    /// The user name to log on with
    #[arg(long, value_name = "USER")]
    pub user: String,
    #[command(flatten)]
    pub secrets: SecretArgs,
    /// The account has no password (it logs on with a refresh token only)
    #[arg(long, conflicts_with = "password_file")]
    pub no_password: bool,
    /// The account has no second factor: do not ask for a TOTP secret
    #[arg(long, conflicts_with_all = ["totp_file", "totp_qr"])]
    pub no_totp: bool,
    /// The client is public (PKCE only): do not ask for a client secret
    #[arg(long, conflicts_with = "client_secret_file")]
    pub no_client_secret: bool,
    /// Overwrite an existing account of this name
    #[arg(long)]
    pub replace: bool,
}

pub fn run(kc: &Keychain, args: AddArgs) -> Result<()> {
    validate_name(&args.name)?;
    // `--provider` is optional only because `set` shares the flags; an account without one
    // cannot log on.
    let Some(kind) = args.provider.provider else {
        return Err(Error::usage_hint(
            "add needs --provider PROVIDER",
            format!("use one of: {}", crate::providers::names()),
        ));
    };
    let now = kc.now();
    let mut provider = Provider::new(kind);
    super::provider::apply(&mut provider, &args.provider)?;
    if !args.replace && kc.store().read(&args.name)?.is_some() {
        return Err(crate::store::StoreError::Exists(args.name).into());
    }

    let mut account = Account::new(Header::new(&args.name, provider, args.user.clone(), now));
    let wanted = Wanted {
        password: !args.no_password,
        password_required: !args.no_password,
        totp: !args.no_totp,
        // Off a terminal each is given or declined explicitly, as the password is: an account
        // stored without one that its provider needs would fail only at night.
        totp_required: !args.no_totp,
        client_secret: !args.no_client_secret,
        client_secret_required: !args.no_client_secret,
    };
    secrets::read_into(&mut account, &args.secrets, wanted, now)?;
    crate::validate::account(&account, crate::validate::ProviderRule::Complete)?;

    // The key is needed before the lock is taken, so a passphrase prompt never holds the lock.
    kc.identity()?;
    let lock = kc.lock(&args.name)?;
    let expect = if args.replace {
        Expect::Any
    } else {
        Expect::Absent
    };
    let event = trail::fingerprints(
        kc,
        &account,
        Event::new("add", Action::Add).account(&args.name),
    )?;
    let mut events = vec![event];
    // Where credentials may go beyond the account's own hosts is a security decision: logged.
    let p = &account.header.provider;
    for (field, given) in [
        ("allow-host", !p.allow_hosts.is_empty()),
        ("insecure-http", p.insecure_http),
    ] {
        if given {
            events.push(Event::new("add", Action::Set(field.into())).account(&args.name));
        }
    }
    kc.commit(&*lock, expect, &mut account, events, OnAuditFailure::Undo)?;
    let present: Vec<&str> = account.header.secrets.keys().map(|f| f.as_str()).collect();
    crate::output::after_save(crate::output::err(&format!(
        "Added account '{}' ({}, user {}; secrets: {}).\n",
        args.name,
        account.header.provider.kind.name(),
        crate::output::escape_value(&args.user),
        if present.is_empty() {
            "none".to_string()
        } else {
            present.join(", ")
        }
    )));
    Ok(())
}
