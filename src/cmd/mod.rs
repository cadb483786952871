//! One file per subcommand, holding its `Args` (its flags, as clap derives them) and its `run`;
//! `dispatch` builds the [`Ctx`] once and picks it. Each command builds the options of one
//! operation (`keychain_core::ops`), calls it and renders what it returns, or returns an
//! [`Error`](crate::error::Error) that `main` prints once. Flags that several commands flatten
//! in are in `shared_args`.

mod add;
mod audit;
mod completions;
mod ctx;
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

pub use add::AddArgs;
pub use audit::{AuditArgs, AuditCommand};
pub use completions::CompletionsArgs;
pub use ctx::{Ctx, OutputMode};
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
    // Read once, here: the core below sees these values, never the environment.
    let ctx = Ctx::new(&cli.global, cli.command.prints())?;
    let done = |r: Result<()>| r.map(|()| Outcome::Success);
    let result = match cli.command {
        Command::Exec(args) => exec::run(&ctx, &ctx.open()?, args),
        Command::Login(args) => done(login::run(&ctx, &ctx.open()?, args)),
        Command::Read(args) => done(read::run(&ctx, &ctx.open()?, args)),
        Command::Inject(args) => done(inject::run(&ctx, &ctx.open()?, args)),
        Command::GitCredential(args) => done(git_credential::run(&ctx, &ctx.open()?, args)),
        Command::KubeCredential(args) => done(kube_credential::run(&ctx, &ctx.open()?, args)),
        Command::Init(args) => done(init::run(&ctx, args)),
        Command::Add(args) => done(add::run(&ctx, args)),
        Command::Store(StoreCommand::Copy(args)) => done(store::copy(&ctx, args)),
        Command::List(args) => done(list::run(&ctx, args)),
        Command::Show(args) => done(show::run(&ctx, args)),
        Command::Set(args) => done(set::run(&ctx, args)),
        Command::Totp(args) => done(totp::run(&ctx, args)),
        Command::Rm(args) => done(rm::run(&ctx, args)),
        Command::Mv(args) => done(mv::run(&ctx, args)),
        Command::Unlock(args) => done(unlock::unlock(&ctx, args)),
        Command::Status(args) => status::run(&ctx, &ctx.open()?, args),
        Command::Lock => done(unlock::lock(&ctx)),
        // The report and verify look at a keychain others could write to, and say so; the
        // audit commands that write (fingerprint, rotate, seal-config, ack) refuse it like the
        // rest.
        Command::Audit(args) if audit::only_looks(&args) => {
            audit::run(&ctx, &ctx.open_unchecked()?, args)
        }
        Command::Audit(args) => audit::run(&ctx, &ctx.open()?, args),
        Command::Member(args) => member::run(&ctx, args),
        Command::Scan(args) => scan::run(&ctx, ctx.dir().ok().as_deref(), &ctx.clock, args),
        Command::Import(args) => import::run(&ctx, args),
        Command::Export(args) => done(export::run(&ctx, args)),
        Command::Refresh(args) => refresh::run(&ctx, &ctx.open()?, args),
        Command::Man(args) => done(man::run(&ctx, args)),
        Command::Completions(args) => done(completions::run(&ctx, args)),
    };
    // An unknown account name gets a "did you mean" from the names that exist.
    result.map_err(|e| {
        e.with_similar_names(|| {
            Keychain::open(&ctx.dir().unwrap_or_default())
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
