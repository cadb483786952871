//! `keychain completions SHELL`: the registration script of clap_complete's dynamic engine,
//! which then completes subcommands, flags and account names (see `crate::complete`).

use crate::cli::CompletionsArgs;
use crate::error::Result;

pub fn run(args: CompletionsArgs) -> Result<()> {
    crate::output::raw(&crate::complete::registration(&args.shell.to_string())?)
}
