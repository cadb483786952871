//! `keychain set`: change fields of an account (`ops::set`), new secrets read from the files
//! named. A call that names no field is an error (exit 2); one whose values the account already
//! has succeeds and says "unchanged" (`"changed": false` in JSON), so provisioning can be rerun.

use clap::Args;

use crate::cmd::Ctx;
use crate::error::Result;
use crate::ops::set::{SetOptions, set};

use super::secrets::{self, Wanted};
use super::shared_args::{ProviderArgs, SecretArgs, account_name, account_names};

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

/// A field `set --unset` can remove: the secrets and the optional plain settings (the core's
/// `ops::edit::UnsetField`, as clap lists and parses it).
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

impl From<UnsetField> for crate::ops::edit::UnsetField {
    fn from(field: UnsetField) -> Self {
        use crate::ops::edit::UnsetField as F;
        match field {
            UnsetField::Password => F::Password,
            UnsetField::TotpSecret => F::TotpSecret,
            UnsetField::ClientSecret => F::ClientSecret,
            UnsetField::RefreshToken => F::RefreshToken,
            UnsetField::AccessToken => F::AccessToken,
            UnsetField::Issuer => F::Issuer,
            UnsetField::AuthorizeUrl => F::AuthorizeUrl,
            UnsetField::TokenUrl => F::TokenUrl,
            UnsetField::ClientId => F::ClientId,
            UnsetField::RedirectUri => F::RedirectUri,
            UnsetField::Scope => F::Scope,
            UnsetField::AllowHost => F::AllowHost,
        }
    }
}

pub fn run(ctx: &Ctx, args: SetArgs) -> Result<()> {
    let kc = &ctx.open()?;
    let options = SetOptions {
        name: account_name(&args.name)?,
        provider: args.provider.changes(),
        user: args.user.clone(),
        secrets: args.secrets.given(),
        unset: args.unset.iter().map(|&f| f.into()).collect(),
    };
    // Nothing is prompted for: each secret comes from the file named.
    let wanted = Wanted {
        password: false,
        password_required: false,
        totp: false,
        totp_required: false,
        client_secret: false,
        client_secret_required: false,
    };
    let changed = set(kc, &options, |account, now| {
        secrets::read_into(account, &args.secrets, wanted, now)
    })?;
    crate::output::after_save(crate::output::err(&if changed.fields.is_empty() {
        format!(
            "Account '{}' unchanged: it already has these values.\n",
            changed.name
        )
    } else {
        format!(
            "Updated account '{}': {}.\n",
            changed.name,
            changed.fields.join(", ")
        )
    }));
    confirm_change(ctx, "set", &[&args.name], !changed.fields.is_empty())
}

/// The confirmation of a provisioning command that may change nothing: `ctx.confirm`'s
/// document with `"changed"` beside it, so a script (or Ansible's `changed_when`) can tell.
pub fn confirm_change(ctx: &Ctx, command: &str, accounts: &[&str], changed: bool) -> Result<()> {
    if ctx.json() {
        crate::output::raw(
            crate::json::document(serde_json::json!({
                "ok": true, "command": command, "accounts": crate::json::names(accounts), "changed": changed,
            }))
            .as_bytes(),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    /// The core names a field in its messages (`--unset totp-secret and a new totp-secret ...`)
    /// as clap spells the flag's value: the two lists must not drift apart.
    #[test]
    fn every_unset_field_has_the_cores_name_for_it() {
        for field in super::UnsetField::value_variants() {
            let clap_name = field.to_possible_value().unwrap().get_name().to_string();
            let core: crate::ops::edit::UnsetField = (*field).into();
            assert_eq!(core.name(), clap_name);
        }
    }
}
