//! The `keychain` binary: hardens the process, parses the command line, dispatches, and prints
//! an error once with its causes and a hint, exiting with the documented code.

use std::error::Error as _;

use clap::Parser;

fn main() {
    keychain::hardening::disable_core_dumps();
    let cli = keychain::cli::Cli::parse();
    match keychain::cmd::dispatch(cli) {
        Ok(code) => std::process::exit(code),
        Err(error) => fail(error),
    }
}

fn fail(error: keychain::error::Error) -> ! {
    {
        let mut shown = error.to_string();
        eprintln!("error: {shown}");
        let mut source = error.source();
        while let Some(cause) = source {
            // Many messages already quote their cause; print each text once.
            let text = cause.to_string();
            if !shown.contains(&text) {
                eprintln!("  caused by: {text}");
                shown.push_str(&text);
            }
            source = cause.source();
        }
        if let Some(hint) = error.hint() {
            eprintln!("hint: {hint}");
        }
    }
    std::process::exit(error.exit_code())
}
