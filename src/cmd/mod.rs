//! One file per subcommand, holding its `Args` (its flags, as clap derives them) and its `run`;
//! `dispatch` picks it. Each command reads like a short story of what it does and returns an
//! [`Error`](crate::error::Error) that `main` prints once. Flags that several commands flatten
//! in are in `shared_args`.

mod add;
mod audit;
mod completions;
mod exec;
pub mod exec_env;
mod exec_supply;
mod export;
mod git_credential;
mod import;
mod init;
mod inject;
mod kube_credential;
mod list;
pub mod login;
mod man;
mod member;
mod mv;
mod program;
mod read;
mod refresh;
mod rm;
mod scan;
mod secrets;
mod set;
pub mod settings;
pub(crate) mod shared_args;
mod show;
mod status;
mod store;
mod strip;
mod totp;
mod unlock;

use std::path::PathBuf;

pub use add::AddArgs;
pub use audit::AuditArgs;
pub use completions::CompletionsArgs;
pub use exec::ExecArgs;
pub use export::ExportArgs;
pub use git_credential::GitCredentialArgs;
pub use import::ImportArgs;
pub use init::{InitArgs, StoreChoice};
pub use inject::InjectArgs;
pub use kube_credential::KubeCredentialArgs;
pub use list::ListArgs;
pub use login::LoginArgs;
pub use man::ManArgs;
pub use member::MemberArgs;
pub use mv::MvArgs;
pub use read::ReadArgs;
pub use refresh::RefreshArgs;
pub use rm::RmArgs;
pub use scan::ScanArgs;
pub use set::SetArgs;
pub use show::ShowArgs;
pub use status::StatusArgs;
pub use store::{StoreCommand, StoreCopyArgs};
pub use totp::TotpArgs;
pub use unlock::UnlockArgs;

use crate::cli::{Cli, Command};
use crate::error::Result;
use crate::keychain::Keychain;
use crate::outcome::Outcome;

/// Runs the command; returns how it turned out when it ran to its end.
pub fn dispatch(cli: Cli) -> Result<Outcome> {
    let dir = || settings::keychain_dir(cli.global.dir.clone());
    // Read once, here: the core below sees these values, never the environment.
    let settings = cli.global.settings.settings()?;
    let clock = crate::clock::system();
    let open =
        || -> Result<Keychain> { Keychain::open_with(&dir()?, settings.clone(), clock.clone()) };
    let done = |r: Result<()>| r.map(|()| Outcome::Success);
    let json = crate::cli::json_wanted(cli.global.json).map_err(crate::error::Error::usage)?;
    // A command whose only output is a notice on standard error confirms on standard output
    // under --json: `{"format": 1, "ok": true, "command": ..., "accounts": [...]}`.
    let confirmed = |command: &str, accounts: Vec<String>, r: Result<()>| -> Result<Outcome> {
        r?;
        if json {
            crate::output::raw(
                crate::json::document(serde_json::json!({
                    "ok": true, "command": command, "accounts": accounts,
                }))
                .as_bytes(),
            )?;
        }
        Ok(Outcome::Success)
    };
    let result = match cli.command {
        Command::Exec(args) => exec::run(&open()?, args),
        Command::Login(mut args) => {
            if json {
                args.format = crate::cmd::login::OutputFormat::Json;
            }
            done(login::run(&open()?, args))
        }
        Command::Read(args) => {
            if json {
                return Err(crate::error::Error::usage(
                    "read prints the bare value; it has no JSON form",
                ));
            }
            done(read::run(&open()?, args))
        }
        Command::Inject(args) => done(inject::run(&open()?, args)),
        Command::GitCredential(args) => done(git_credential::run(&open()?, args)),
        Command::KubeCredential(args) => done(kube_credential::run(&open()?, args)),
        Command::Init(args) => done(init::run(&dir()?, &settings, &clock, args, json)),
        Command::Add(args) => {
            let name = args.name.clone();
            confirmed("add", vec![name], add::run(&open()?, args))
        }
        Command::Store(StoreCommand::Copy(args)) => {
            let names = args.names.clone();
            confirmed("store copy", names, store::copy(&open()?, args))
        }
        Command::List(mut args) => {
            args.json = json;
            done(list::run(&open()?, args))
        }
        Command::Show(mut args) => {
            args.json = json;
            done(show::run(&open()?, args))
        }
        Command::Set(args) => {
            let name = args.name.clone();
            confirmed("set", vec![name], set::run(&open()?, args))
        }
        Command::Totp(args) => done(totp::run(&open()?, args, json)),
        Command::Rm(args) => {
            let names = args.names.clone();
            confirmed("rm", names, rm::run(&open()?, args))
        }
        Command::Mv(args) => {
            let names = vec![args.old.clone(), args.new.clone()];
            confirmed("mv", names, mv::run(&open()?, args))
        }
        Command::Unlock(args) => confirmed("unlock", vec![], unlock::unlock(&open()?, args)),
        Command::Status(mut args) => {
            args.json = json;
            status::run(&open()?, args)
        }
        Command::Lock => confirmed("lock", vec![], unlock::lock(&dir_checked(dir()?)?, &clock)),
        // The report and verify look at a keychain others could write to, and say so; the
        // audit commands that write (fingerprint, rotate, seal-config, ack) refuse it like the
        // rest.
        Command::Audit(args) if audit::only_looks(&args) => {
            let kc = Keychain::open_unchecked_with(&dir()?, settings.clone(), clock.clone())?;
            audit::run(&kc, args, json)
        }
        Command::Audit(args) => audit::run(&open()?, args, json),
        Command::Member(args) => member::run(&open()?, args, json),
        Command::Scan(args) => scan::run(dir().ok().as_deref(), &clock, args, json),
        Command::Import(args) => import::run(&open()?, args, json),
        Command::Export(args) => confirmed("export", vec![], export::run(&open()?, args)),
        Command::Refresh(args) => refresh::run(&open()?, args, json),
        Command::Man(args) => {
            if json {
                return Err(crate::error::Error::usage(
                    "man prints roff; it has no JSON form",
                ));
            }
            done(man::run(args))
        }
        Command::Completions(args) => {
            if json {
                return Err(crate::error::Error::usage(
                    "completions prints a shell script; it has no JSON form",
                ));
            }
            done(completions::run(args))
        }
    };
    // An unknown account name gets a "did you mean" from the names that exist.
    result.map_err(|e| {
        e.with_similar_names(|| {
            Keychain::open(&dir().unwrap_or_default())
                .and_then(|kc| Ok(kc.store().listing()?.names))
                .unwrap_or_default()
        })
    })
}

/// The names of all accounts, with a warning for each entry skipped because it is not a record.
pub fn account_names(kc: &Keychain) -> Result<Vec<String>> {
    let listing = kc.store().listing()?;
    listing.strays.iter().for_each(|stray| warn_stray(stray));
    Ok(listing.names)
}

/// Warns about an entry of the accounts folder that is named like a record but is not a file.
pub fn warn_stray(path: &std::path::Path) {
    crate::output::progress(&format!(
        "warning: skipped {}: not a regular file (a FIFO, a device or a folder), so not a record; remove it\n",
        path.display()
    ));
}

/// `lock` works on a keychain folder even when its key store is unreachable.
fn dir_checked(dir: PathBuf) -> Result<PathBuf> {
    crate::config::Config::load(&dir)?;
    Ok(dir)
}
