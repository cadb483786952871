//! `keychain login`: a valid access token on stdout, for scripts.

use crate::cli::{LoginArgs, LogonArgs};
use crate::error::Result;
use crate::keychain::Keychain;
use crate::login::{self, Options};

pub fn options(args: &LogonArgs) -> Options {
    Options {
        retry: false,
        min_valid: i64::from(args.min_valid),
        debug_pages: args.debug_pages.clone(),
        // Progress is for people; stdout carries only the result.
        progress: crate::output::stderr_is_terminal(),
    }
}

pub fn run(kc: &Keychain, args: LoginArgs) -> Result<()> {
    let opts = Options {
        retry: args.retry,
        ..options(&args.logon)
    };
    let token = login::obtain(kc, &args.name, &opts)?;
    crate::output::raw(login::format(&token, args.format, kc.now())?.as_bytes())
}
