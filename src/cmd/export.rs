//! `keychain export --recipient AGE_PUBLIC_KEY FILE [NAME|PATTERN...]`: accounts with their
//! secrets, encrypted to one age public key, for a backup or a move to another machine. The
//! format and the order of its steps are `keychain_core::transfer::export`'s;
//! `ops::transfer::export` selects the accounts and seals them; this file checks that FILE can
//! be written (before anything is recorded), writes it under the one rule for output files
//! (`input::write_output`: `-` is standard output, an existing file is refused unless
//! `--force`), warns about entries that are not records, and confirms.

use std::path::PathBuf;

use clap::Args;

use crate::cmd::Ctx;
use crate::error::Result;
use crate::input::{self, OutputRule};
use crate::ops::transfer::{ExportOptions, export};

use super::shared_args::account_names;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Encrypt the backup to this age public key (age1...)
    #[arg(long, value_name = "AGE_PUBLIC_KEY", required = true)]
    pub recipient: String,
    /// Where to write the backup (mode 0600), or - for standard output; an existing file is
    /// refused unless --force
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Only these accounts: names or shell-style patterns (*, ?, [abc]); each must match one
    /// [default: all]
    #[arg(value_name = "NAME|PATTERN", add = account_names())]
    pub names: Vec<String>,
    /// Replace FILE if it exists
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &Ctx, args: ExportArgs) -> Result<()> {
    let rule = OutputRule {
        force: args.force,
        binary: true,
    };
    // Before anything is recorded: an export that cannot be written is not audited.
    input::stdout_once(&args.file, "FILE", ctx.json())?;
    input::check_output(&args.file, rule)?;
    let kc = &ctx.open()?;
    let target = input::shown(&args.file, true);
    let options = ExportOptions {
        recipient: args.recipient.clone(),
        target: target.clone(),
        select: args.names.clone(),
    };
    let exported = export(kc, &options, super::warn_stray)?;
    input::write_output(&args.file, &exported.ciphertext, rule)?;
    // Restored from a stream, the export is read from one: `import -`.
    let from = if input::is_stream(&args.file) {
        "-".to_string()
    } else {
        target.clone()
    };
    crate::output::after_save(crate::output::err(&format!(
        "Exported {} to {target}, encrypted to {}; restore with 'keychain import {from} --identity FILE'.\n",
        crate::output::count(exported.accounts, "account", "accounts"),
        args.recipient.trim()
    )));
    let names: Vec<&str> = args.names.iter().map(String::as_str).collect();
    ctx.confirm("export", &names)
}
