//! Shell completion through clap_complete's dynamic engine, so that account names complete too.
//!
//! `keychain completions SHELL` prints a small registration script; the shell then calls
//! `KEYCHAIN_COMPLETE=SHELL keychain -- WORDS...` on each Tab, and [`from_env`] answers from the
//! same clap definition, with the account names of the keychain folder (`KEYCHAIN_DIR` or the
//! default; a `--dir` on the line being completed is not seen). Names come from the file names
//! in `accounts/`: no key, no record is opened, nothing is written.

use std::ffi::OsString;

use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{EnvCompleter, Shells};

use crate::error::{Error, Result};

/// The variable that turns a `keychain` call into a completion request. Prefixed, so that a
/// `COMPLETE` set for another tool never changes what keychain does.
pub const VAR: &str = "KEYCHAIN_COMPLETE";

/// The account names, for completing a NAME argument. Any problem gives no candidates: a Tab
/// must never print an error into the command line.
pub fn account_candidates() -> Vec<CompletionCandidate> {
    let given = DIR_ON_LINE
        .get()
        .cloned()
        .flatten()
        .or_else(|| std::env::var_os("KEYCHAIN_DIR").map(Into::into));
    let Ok(dir) = crate::cmd::settings::keychain_dir(given) else {
        return Vec::new();
    };
    // The store the configuration names (a shared one is asked, within its timeouts).
    let kind = crate::config::Config::load(&dir)
        .map(|config| config.store)
        .unwrap_or_default();
    let Ok(store) = crate::store::open(&dir, &kind) else {
        return Vec::new();
    };
    store
        .listing()
        .map(|l| l.names.into_iter().map(CompletionCandidate::new).collect())
        .unwrap_or_default()
}

/// The registration script for `shell` (`keychain completions SHELL`).
pub fn registration(shell: &str) -> Result<Vec<u8>> {
    let completer = shell_named(shell)?;
    let mut buf = Vec::new();
    completer
        .write_registration(VAR, "keychain", "keychain", "keychain", &mut buf)
        .map_err(|e| Error::io("cannot write the completion script", e))?;
    Ok(buf)
}

/// When `KEYCHAIN_COMPLETE` names a shell, the completions for the words after `--` in `args`
/// (the whole command line, program name first); `None` for an ordinary run.
pub fn from_env(args: Vec<OsString>) -> Option<Result<Vec<u8>>> {
    let shell = std::env::var(VAR)
        .ok()
        .filter(|v| !v.is_empty() && v != "0")?;
    Some(complete(&shell, args))
}

/// The `--dir` of the line being completed, for [`account_candidates`] (which clap calls with
/// no access to the line).
static DIR_ON_LINE: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();

/// The value of the last complete `--dir DIR` or `--dir=DIR` among `words` (the word being
/// completed, the last, is not one yet).
fn dir_on_line(words: &[OsString]) -> Option<std::path::PathBuf> {
    let done = &words[..words.len().saturating_sub(1)];
    let mut dir = None;
    for (i, word) in done.iter().enumerate() {
        if word == "--" {
            break;
        }
        if word == "--dir" {
            dir = done.get(i + 1).map(Into::into);
        } else if let Some(value) = word.to_str().and_then(|w| w.strip_prefix("--dir=")) {
            dir = Some(value.into());
        }
    }
    dir
}

fn complete(shell: &str, args: Vec<OsString>) -> Result<Vec<u8>> {
    let completer = shell_named(shell)?;
    let words: Vec<OsString> = match args.iter().position(|a| a == "--") {
        Some(i) => args[i + 1..].to_vec(),
        None => Vec::new(),
    };
    let _ = DIR_ON_LINE.set(dir_on_line(&words));
    let mut cmd = crate::cli::command();
    cmd.build();
    let mut buf = Vec::new();
    let current_dir = std::env::current_dir().ok();
    completer
        .write_complete(&mut cmd, words, current_dir.as_deref(), &mut buf)
        .map_err(|e| Error::io("cannot complete", e))?;
    Ok(buf)
}

fn shell_named(name: &str) -> Result<&'static dyn EnvCompleter> {
    let builtins: &'static [&'static dyn EnvCompleter] = Shells::builtins().0;
    builtins
        .iter()
        .copied()
        .find(|c| c.is(name))
        .ok_or_else(|| {
            Error::usage_hint(
                format!("no completion for shell '{name}'"),
                format!(
                    "use one of: {}",
                    Shells::builtins().names().collect::<Vec<_>>().join(", ")
                ),
            )
        })
}
