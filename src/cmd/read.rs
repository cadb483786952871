//! `keychain read ACCOUNT/FIELD`: one value on standard output, for scripts; the same field
//! vocabulary as `inject`, `exec --env` and `--env-file`. An access token is a valid one, as
//! `login` gives it; a secret is printed only when named, and recorded in the audit log first.

use clap::Args;
use secrecy::ExposeSecret;

use crate::error::Result;
use crate::keychain::Keychain;

use super::shared_args::LogonArgs;

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// ACCOUNT/FIELD or keychain://ACCOUNT/FIELD; FIELD: access-token (a valid token, as login
    /// gives), user, client-id, api-url, totp (the current code); a secret only when named:
    /// password, totp-secret, client-secret, refresh-token (recorded in the audit log first)
    #[arg(value_name = "REFERENCE", value_parser = parse_reference)]
    pub reference: crate::reference::Reference,
    /// Print the value without the newline after it
    #[arg(long, short = 'n')]
    pub no_newline: bool,
    #[command(flatten)]
    pub logon: LogonArgs,
}

fn parse_reference(text: &str) -> std::result::Result<crate::reference::Reference, String> {
    crate::reference::parse(text).map_err(|e| e.to_string())
}

pub fn run(_ctx: &super::Ctx, kc: &Keychain, args: ReadArgs) -> Result<()> {
    let opts = super::login::options(&args.logon);
    let value = crate::ops::read::read(kc, &opts, &args.reference)?;
    let mut line = zeroize::Zeroizing::new(value.text.expose_secret().to_string());
    if !args.no_newline {
        line.push('\n');
    }
    crate::output::raw(line.as_bytes())
}
