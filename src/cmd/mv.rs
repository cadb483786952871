//! `keychain mv OLD NEW`: rename an account, under the locks of both names. The crash-safe
//! protocol (and what each crash point leaves) is `keychain_core::ops::mv`'s.

use clap::Args;

use crate::cmd::Ctx;
use crate::error::Result;
use crate::ops::mv::{MvOptions, mv};

use super::shared_args::{account_name, account_names};

#[derive(Debug, Args)]
pub struct MvArgs {
    /// The account's current name
    #[arg(value_name = "OLD", add = account_names())]
    pub old: String,
    /// Its new name: letters, digits, '.', '_' and '-'; must not exist
    #[arg(value_name = "NEW")]
    pub new: String,
}

pub fn run(ctx: &Ctx, args: MvArgs) -> Result<()> {
    let kc = &ctx.open()?;
    let options = MvOptions {
        old: account_name(&args.old)?,
        new: account_name(&args.new)?,
    };
    let moved = mv(kc, &options)?;
    crate::output::after_save(crate::output::err(&format!(
        "Renamed account '{}' to '{}'.\n",
        moved.old, moved.new
    )));
    ctx.confirm("mv", &[&moved.old, &moved.new])
}
