//! `keychain man [PAGE]` prints a man page (roff); `keychain man --install [DIR]` writes every
//! page to DIR/man1, where `man` finds them. The pages come from this binary, so installed
//! pages always describe the installed command.

use clap::Args;

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

pub fn run(ctx: &Ctx, args: ManArgs) -> Result<()> {
    ctx.text_only("man", "roff")?;
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
    crate::output::raw(content)
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
