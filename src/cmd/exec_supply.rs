//! `keychain exec NAME --serve | --token-file -- CMD`: keeps CMD supplied with NAME's token for
//! as long as it runs, through the core's [`crate::supply`] (a token endpoint on a Unix socket,
//! a token file replaced before expiry), every token from the same engine as `login`.

use std::ffi::OsStr;
use std::process::{Command, ExitStatus};

use clap::Args;
use secrecy::ExposeSecret;

use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::ops::login::{Options, Token};
use crate::supply::{self, Supply, Ways};

#[derive(Debug, Args, Default)]
pub struct SupplyArgs {
    /// Serve NAME's current token to CMD for as long as it runs: HTTP on a Unix socket
    /// ($KEYCHAIN_TOKEN_SOCKET), `GET /token` with `Authorization: Bearer
    /// $KEYCHAIN_TOKEN_AUTH` answers JSON as login --format json prints it, renewed as the
    /// token expires
    #[arg(long, requires = "name")]
    pub serve: bool,
    /// Keep NAME's current token in a file for CMD ($KEYCHAIN_TOKEN_FILE, 0600, in a 0700
    /// folder), replaced by rename before the token expires; removed when CMD ends
    #[arg(long, requires = "name")]
    pub token_file: bool,
}

impl SupplyArgs {
    /// Whether CMD is kept supplied beyond the token it starts with.
    pub fn wanted(&self) -> bool {
        self.serve || self.token_file
    }
}

/// Whose token, obtained how.
pub struct Account<'a> {
    pub name: &'a str,
    pub opts: &'a Options,
    pub on_failure: Option<&'a OsStr>,
}

/// Runs `command` with the account's token (`first` to start with) kept fresh until it ends;
/// the run folder is removed afterwards, whatever ended it.
pub fn run(
    kc: &Keychain,
    args: &SupplyArgs,
    account: Account<'_>,
    first: Token,
    mut command: Command,
    program: &OsStr,
) -> Result<ExitStatus> {
    let Account {
        name,
        opts,
        on_failure,
    } = account;
    let ways = Ways {
        endpoint: args.serve,
        file: args.token_file,
    };
    // Before the first thread of the supply starts: every thread inherits the mask.
    supply::signals::block().map_err(|source| Error::Io {
        context: "cannot take over SIGTERM for the child".into(),
        source,
    })?;
    let first = supply::supplied(kc, name, first, opts.min_valid);
    let supply = Supply::start(&kc.dir, ways, first, kc.clock().clone())?;
    for (var, value) in supply.environment() {
        command.env(var, value.expose_secret());
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            supply.finish();
            return Err(super::program::spawn_error(program, &e));
        }
    };
    // Best effort: without it, a SIGTERM still ends the child through its group.
    let _ = supply::signals::forward_to(child.id());
    let watcher = supply.watcher();
    let waiting = std::thread::spawn(move || {
        let status = child.wait();
        watcher.ended();
        status
    });
    // Until the child ends: this thread owns the keychain, so it alone asks the engine.
    supply.keep(|| {
        crate::ops::login::obtain_with_hook(kc, name, opts, on_failure)
            .map(|token| supply::supplied(kc, name, token, opts.min_valid))
    });
    let status = waiting.join();
    supply.finish();
    match status {
        Ok(Ok(status)) => Ok(status),
        Ok(Err(source)) => Err(Error::Io {
            context: "cannot wait for the command".into(),
            source,
        }),
        Err(_) => Err(Error::Io {
            context: "cannot wait for the command".into(),
            source: std::io::Error::other("the waiting thread failed"),
        }),
    }
}
