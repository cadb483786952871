//! `keychain man [PAGE]` shows a man page: on a terminal, rendered by `man -l -` (with its pager,
//! as `man` shows any page) when `man` is on PATH; otherwise (a pipe, a file, a script, no `man`)
//! as roff. `keychain man --install [DIR]` writes every page to DIR/man1, where `man` finds
//! them. The pages come from this binary, so installed pages always describe the installed
//! command.

use clap::Args;

use std::ffi::OsStr;
use std::path::PathBuf;

use crate::cmd::Ctx;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The page: keychain (the default) or a command (login, exec, status, ...)
    #[arg(value_name = "PAGE", conflicts_with = "install")]
    pub page: Option<String>,
    /// Write every page to DIR/man1 [default DIR: $XDG_DATA_HOME/man, else ~/.local/share/man,
    /// which man finds when ~/.local/bin is on PATH]
    #[arg(long, value_name = "DIR", num_args = 0..=1)]
    pub install: Option<Option<PathBuf>>,
}

pub fn run(_ctx: &Ctx, args: ManArgs) -> Result<()> {
    let pages = crate::manpage::render_all();
    if let Some(dir) = args.install {
        let dir = match dir {
            Some(dir) => dir,
            None => default_dir()?,
        };
        let man1 = dir.join("man1");
        // Public like any package's pages, but never writable by others, whatever the umask.
        crate::fsutil::create_dirs(&man1, 0o755)
            .map_err(|e| Error::io(format!("cannot create {}", man1.display()), e))?;
        for (name, content) in &pages {
            let path = man1.join(name);
            // Man pages are public: readable by all, like those of any package.
            crate::fsutil::write_atomic_unique(&path, content, 0o644)
                .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        }
        crate::output::after_save(crate::output::err(&format!(
            "Installed {} in {}; try 'man keychain'.\n",
            crate::output::count(pages.len(), "page", "pages"),
            man1.display()
        )));
        return Ok(());
    }
    let wanted = match args.page.as_deref() {
        None | Some("keychain") => "keychain.1".to_string(),
        Some(page) => format!("keychain-{}.1", page.trim_start_matches("keychain-")),
    };
    let (_, content) = pages
        .iter()
        .find(|(name, _)| *name == wanted)
        .ok_or_else(|| {
            Error::usage_hint(
                format!("no man page '{}'", args.page.unwrap_or_default()),
                "give a command's name, e.g. keychain man login",
            )
        })?;
    if crate::output::stdout_is_terminal() && super::program::check(OsStr::new("man")).is_ok() {
        return render_with_man(content);
    }
    crate::output::raw(content)
}

/// A person at a terminal reads the page as `man` shows it, not its roff: `man -l -` reads the
/// page from standard input, formats it for the terminal and pages it.
fn render_with_man(roff: &[u8]) -> Result<()> {
    use std::io::Write;
    let failed = |e: std::io::Error| Error::io("cannot show the page with 'man -l -'", e);
    let mut man = std::process::Command::new("man")
        .args(["-l", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(failed)?;
    let written = man
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(roff))
        .unwrap_or(Ok(()));
    let status = man.wait().map_err(failed)?;
    // A pager quit before the whole page was read closes its end: not an error.
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(failed(e)),
        _ => {}
    }
    if !status.success() {
        return Err(failed(std::io::Error::other(format!(
            "man ended with {status}"
        ))));
    }
    Ok(())
}

/// `$XDG_DATA_HOME/man`, else `~/.local/share/man`: man-db searches it for ~/.local/bin.
fn default_dir() -> Result<PathBuf> {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(data).join("man"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/man")),
        None => Err(Error::usage_hint(
            "cannot find where to install: neither XDG_DATA_HOME nor HOME is set",
            "give the folder: keychain man --install DIR",
        )),
    }
}
