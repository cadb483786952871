//! `keychain completions SHELL`: the registration script of clap_complete's dynamic engine,
//! which then completes subcommands, flags and account names (see `crate::complete`).

use clap::Args;

use crate::error::Result;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Print the script that registers completion for SHELL: source it from the shell's
    /// start-up file, e.g. in ~/.bashrc: source <(keychain completions bash)
    pub shell: clap_complete::Shell,
}

pub fn run(_ctx: &crate::cmd::Ctx, args: CompletionsArgs) -> Result<()> {
    crate::output::raw(&crate::complete::registration(&args.shell.to_string())?)
}
