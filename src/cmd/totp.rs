//! `keychain totp`: the current code (`ops::totp`) on stdout, the seconds left on stderr on a
//! terminal.

use clap::Args;

use secrecy::ExposeSecret;

use crate::cmd::Ctx;
use crate::error::Result;
use crate::ops::totp::{TotpOptions, totp};

use super::shared_args::{account_name, account_names};

#[derive(Debug, Args)]
pub struct TotpArgs {
    #[arg(add = account_names())]
    pub name: String,
    /// Wait for the next time step when fewer than SECONDS remain in the current one
    #[arg(long, value_name = "SECONDS")]
    pub fresh: Option<u64>,
}

pub fn run(ctx: &Ctx, args: TotpArgs) -> Result<()> {
    let kc = &ctx.open()?;
    let options = TotpOptions {
        name: account_name(&args.name)?,
        fresh: args.fresh,
    };
    let code = totp(kc, &options)?;
    if ctx.json() {
        let doc = zeroize::Zeroizing::new(crate::json::document(serde_json::json!({
            "name": args.name,
            "code": code.code.expose_secret(),
            "seconds_left": code.seconds_left,
            "period": code.period,
        })));
        return crate::output::raw(doc.as_bytes());
    }
    crate::output::raw(
        zeroize::Zeroizing::new(format!("{}\n", code.code.expose_secret())).as_bytes(),
    )?;
    if crate::output::stderr_is_terminal() {
        crate::output::err(&format!("{} s left\n", code.seconds_left))?;
    }
    Ok(())
}
