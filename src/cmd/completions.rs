//! `keychain completions SHELL`: completions from the same clap definition.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::Result;

pub fn run(args: CompletionsArgs) -> Result<()> {
    // Generated into memory first: clap_complete panics when it writes to a closed pipe.
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "keychain", &mut out);
    crate::output::raw(&out)
}
