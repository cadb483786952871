//! `keychain rm NAME...`: remove accounts (`ops::rm`). Every name is checked before any is
//! removed, so a typo in the list removes nothing; on a terminal the person confirms first
//! (unless `-f`); off a terminal nobody can confirm, so `-f` (`--yes`) is required (clig.dev:
//! a destructive command does not act unasked because there was nobody to ask).

use clap::Args;

use crate::cmd::Ctx;
use crate::error::{Error, Result};
use crate::input::Prompter;
use crate::ops::rm::{RmOptions, rm};

use super::shared_args::account_names;

#[derive(Debug, Args)]
pub struct RmArgs {
    /// The accounts to remove; none is removed unless all exist
    #[arg(required = true, value_name = "NAME", add = account_names())]
    pub names: Vec<String>,
    /// Do not ask for confirmation; required without a terminal, where nobody can be asked
    #[arg(short, long, visible_alias = "yes", short_alias = 'y')]
    pub force: bool,
}

pub fn run(ctx: &Ctx, args: RmArgs) -> Result<()> {
    let kc = &ctx.open()?;
    let confirm = |names: &[&str]| -> Result<bool> {
        let prompter = Prompter::detect();
        if args.force {
            return Ok(true);
        }
        if !prompter.is_interactive() {
            return Err(Error::usage_hint(
                "rm removes accounts only when confirmed, and there is no terminal to ask on",
                "give -f (or --yes) to remove them without asking",
            ));
        }
        let shown: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
        let question = format!(
            "Remove {} {}? Its secrets cannot be recovered. [y/N] ",
            if names.len() == 1 {
                "account"
            } else {
                "accounts"
            },
            shown.join(", ")
        );
        prompter.confirm(&question)
    };
    let removed = |name: &str| {
        crate::output::after_save(crate::output::err(&format!("Removed account '{name}'.\n")));
    };
    let options = RmOptions {
        names: args.names.clone(),
    };
    rm(kc, &options, confirm, removed)?;
    let names: Vec<&str> = args.names.iter().map(String::as_str).collect();
    ctx.confirm("rm", &names)
}
