//! One file per subcommand; `dispatch` picks it. Each command reads like a short story of what it
//! does and returns an [`Error`](crate::error::Error) that `main` prints once.

mod add;
mod completions;
mod init;
mod list;
mod provider;
mod rm;
mod secrets;
mod set;
mod show;
mod totp;
mod unlock;

use std::path::PathBuf;

use crate::cli::{Cli, Command};
use crate::config::resolve_dir;
use crate::error::Result;
use crate::keychain::Keychain;

pub fn dispatch(cli: Cli) -> Result<()> {
    let dir = || resolve_dir(cli.dir.clone());
    let open = || -> Result<Keychain> { Keychain::open(&dir()?) };
    match cli.command {
        Command::Init(args) => init::run(&dir()?, args),
        Command::Add(args) => add::run(&open()?, args),
        Command::List(args) => list::run(&open()?, args),
        Command::Show(args) => show::run(&open()?, args),
        Command::Set(args) => set::run(&open()?, args),
        Command::Totp(args) => totp::run(&open()?, args),
        Command::Rm(args) => rm::run(&open()?, args),
        Command::Unlock(args) => unlock::unlock(&open()?, args),
        Command::Lock => unlock::lock(&dir_checked(dir()?)?),
        Command::Completions(args) => completions::run(args),
    }
}

/// `lock` works on a keychain folder even when its key store is unreachable.
fn dir_checked(dir: PathBuf) -> Result<PathBuf> {
    crate::config::Config::load(&dir)?;
    Ok(dir)
}

/// Prints to stdout, treating a closed pipe (`keychain list | head`) as success.
pub fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(crate::error::Error::io(
            "cannot write to standard output",
            e,
        )),
        _ => Ok(()),
    }
}
