//! `keychain add`: onboard an account (`ops::add`), its secrets read from files or a prompt.
//! Never overwrites an existing one without `--replace`.

use clap::Args;

use crate::cmd::Ctx;
use crate::error::Result;
use crate::ops::add::{AddOptions, add};

use super::secrets::{self, Wanted};
use super::shared_args::{ProviderArgs, SecretArgs, account_name};

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

pub fn run(ctx: &Ctx, args: AddArgs) -> Result<()> {
    let kc = &ctx.open()?;
    let options = AddOptions {
        name: account_name(&args.name)?,
        provider: args.provider.changes(),
        user: args.user,
        replace: args.replace,
        // Off a terminal nobody is prompted, so the secrets can be read and compared: adding
        // the same account again is a no-op (idempotent provisioning). On a terminal an
        // existing name is refused before anyone types a secret.
        same_is_unchanged: !crate::input::Prompter::detect().is_interactive(),
    };
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
    let added = add(kc, &options, |account, now| {
        secrets::read_into(account, &args.secrets, wanted, now)
    })?;
    if !added.changed {
        crate::output::after_save(crate::output::err(&format!(
            "Account '{}' unchanged: it is stored with these values already.\n",
            added.name
        )));
        return super::set::confirm_change(ctx, "add", &[&added.name], false);
    }
    let present: Vec<&str> = added.secrets.iter().map(|f| f.as_str()).collect();
    crate::output::after_save(crate::output::err(&format!(
        "Added account '{}' ({}, user {}; secrets: {}).\n",
        added.name,
        added.provider.name(),
        crate::output::escape_value(&added.user),
        if present.is_empty() {
            "none".to_string()
        } else {
            present.join(", ")
        }
    )));
    super::set::confirm_change(ctx, "add", &[&added.name], true)
}
