//! `keychain store copy --to DIR [--move] [NAME...]`: accounts from this keychain into another
//! (local into shared on OpenBao, or back), each as one transaction there (`ops::store::copy`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::shared_args::account_names;
use crate::cmd::Ctx;
use crate::error::Result;
use crate::ops::store::{self, CopyOptions};

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy accounts into another keychain (e.g. from a local one into one shared on OpenBao,
    /// or back), sealed to that keychain's recipients
    ///
    /// The target is an initialised keychain folder ('keychain --dir DIR init ...'); an account
    /// that already exists there is refused (exit 2) and nothing more is copied, unless it is
    /// the same account (then it is left as it is: running the copy again changes nothing). Each account
    /// stays locked here while it is copied. Give --move to remove each account here once it
    /// is stored there: a refresh-token chain used from two keychains breaks at every refresh.
    Copy(StoreCopyArgs),
}

#[derive(Debug, Args)]
pub struct StoreCopyArgs {
    /// The keychain folder to copy into
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// Remove each account here after it was stored in the target
    #[arg(long = "move")]
    pub remove: bool,
    /// The accounts to copy [default: all]
    #[arg(value_name = "NAME", add = account_names())]
    pub names: Vec<String>,
}

pub fn copy(ctx: &Ctx, args: StoreCopyArgs) -> Result<()> {
    let kc = &ctx.open()?;
    let options = CopyOptions {
        to: args.to.clone(),
        names: args.names.clone(),
        remove: args.remove,
    };
    let verb = if args.remove { "Moved" } else { "Copied" };
    let copied = |name: &str, there: crate::store::Location| {
        crate::output::after_save(crate::output::err(&format!(
            "{verb} account '{name}' to {there}.\n"
        )));
    };
    let unchanged = |name: &str| {
        crate::output::after_save(crate::output::err(&format!(
            "Account '{name}' unchanged: the target holds it with these values already.\n"
        )));
    };
    let names = store::copy(kc, &options, super::warn_stray, copied, unchanged)?;
    if !args.remove && !names.is_empty() {
        crate::output::after_save(crate::output::err(
            "note: the accounts are now in both keychains; use only one of them for logons ('keychain rm' them here), or each breaks the other's refresh-token chain\n",
        ));
    }
    ctx.confirm(
        "store copy",
        &args.names.iter().map(String::as_str).collect::<Vec<_>>(),
    )
}
