//! `keychain export --recipient AGE_PUBLIC_KEY FILE`: every account with its secrets, encrypted
//! to one age public key, for a backup or a move to another machine. The format and the order of
//! its steps are `keychain_core::transfer::export`'s; `ops::transfer::export` lists the
//! accounts and writes them; this file parses, warns about entries that are not records, and
//! confirms.

use std::path::PathBuf;

use clap::Args;

use crate::cmd::Ctx;
use crate::error::Result;
use crate::ops::transfer::{ExportOptions, export};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Encrypt the backup to this age public key (age1...)
    #[arg(long, value_name = "AGE_PUBLIC_KEY", required = true)]
    pub recipient: String,
    /// Where to write the backup; refused if it exists
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

pub fn run(ctx: &Ctx, args: ExportArgs) -> Result<()> {
    let kc = &ctx.open()?;
    let options = ExportOptions {
        recipient: args.recipient.clone(),
        file: args.file.clone(),
    };
    let exported = export(kc, &options, super::warn_stray)?;
    let target = args.file.display();
    crate::output::after_save(crate::output::err(&format!(
        "Exported {} to {target}, encrypted to {}; restore with 'keychain import {target} --identity FILE'.\n",
        crate::output::count(exported.accounts, "account", "accounts"),
        args.recipient.trim()
    )));
    ctx.confirm("export", &[])
}
