//! `keychain exec NAME -- CMD ARGS...`: runs CMD with a valid access token in its environment,
//! never printing it, and passes CMD's exit code on. Refuses to nest, so that a token is never
//! silently shadowed by another account's.

use secrecy::ExposeSecret;

use crate::cli::ExecArgs;
use crate::error::{Error, Result};
use crate::keychain::Keychain;

/// Set in CMD's environment; its presence makes a nested `keychain exec` refuse.
pub const MARKER: &str = "KEYCHAIN_EXEC_ACCOUNT";

pub fn run(kc: &Keychain, args: ExecArgs) -> Result<i32> {
    if let Some(outer) = std::env::var_os(MARKER) {
        return Err(Error::usage_hint(
            format!(
                "keychain exec refuses to nest: this process already runs under keychain exec for account '{}'",
                outer.to_string_lossy()
            ),
            "use the token already in the environment, or run the command outside keychain exec",
        ));
    }
    let valid_name = args
        .env_name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && args
            .env_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(Error::usage(format!(
            "'{}' is not a valid environment variable name",
            args.env_name
        )));
    }
    let Some((program, rest)) = args.command.split_first() else {
        return Err(Error::usage("no command given after --"));
    };
    // Before the logon: a typo in the command must not cost a refresh token.
    super::program::check(program)?;
    let token = crate::login::obtain(kc, &args.name, &super::login::options(&args.logon))?;
    let status = std::process::Command::new(program)
        .args(rest)
        .env(&args.env_name, token.access_token.expose_secret())
        .env(MARKER, &args.name)
        .status()
        .map_err(|e| super::program::spawn_error(program, &e))?;
    Ok(exit_code_of(status))
}

/// The child's exit code, or 128 + the signal that killed it, as shells report it.
fn exit_code_of(status: std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    status.code().unwrap_or(1)
}
