//! `keychain export --recipient AGE_PUBLIC_KEY FILE`: every account with its secrets, encrypted
//! to one age public key, for a backup or a move to another machine. The format and the order of
//! its steps are `keychain_core::transfer::export`'s; this file parses, lists the accounts
//! (warning about entries that are not records) and confirms.

use std::path::PathBuf;

use clap::Args;

use crate::cmd::Ctx;
use crate::config::parse_recipient;
use crate::error::Result;
use crate::transfer;

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
    let recipient = parse_recipient(&args.recipient)?;
    let names = super::account_names(kc)?;
    transfer::export::export(kc, &names, &recipient, &args.file)?;
    let target = args.file.display();
    crate::output::after_save(crate::output::err(&format!(
        "Exported {} to {target}, encrypted to {}; restore with 'keychain import {target} --identity FILE'.\n",
        crate::output::count(names.len(), "account", "accounts"),
        args.recipient.trim()
    )));
    ctx.confirm("export", &[])
}
