//! `keychain rm NAME...`: remove accounts. Every name is checked before any is removed, so a
//! typo in the list removes nothing; on a terminal the person confirms first (unless `-f`).

use clap::Args;

use crate::audit::Event;
use crate::error::{Error, Result};
use crate::input::Prompter;
use crate::keychain::Keychain;
use crate::trail::Action;

use super::shared_args::account_names;

#[derive(Debug, Args)]
pub struct RmArgs {
    /// The accounts to remove; none is removed unless all exist
    #[arg(required = true, value_name = "NAME", add = account_names())]
    pub names: Vec<String>,
    /// Do not ask for confirmation (without a terminal keychain never asks)
    #[arg(short, long)]
    pub force: bool,
}

pub fn run(kc: &Keychain, args: RmArgs) -> Result<()> {
    let mut names: Vec<&str> = Vec::new();
    for name in &args.names {
        crate::store::validate_name(name)?;
        if kc.store().read(name)?.is_none() {
            return Err(Error::NotFound(name.clone()));
        }
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let prompter = Prompter::detect();
    if !args.force && prompter.is_interactive() {
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
        if !prompter.confirm(&question)? {
            return Err(Error::usage("not confirmed: nothing removed"));
        }
    }
    for name in names {
        let lock = kc.lock(name)?;
        kc.remove(&*lock, Event::new("rm", Action::Rm).account(name))?;
        crate::output::after_save(crate::output::err(&format!("Removed account '{name}'.\n")));
    }
    Ok(())
}
