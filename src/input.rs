//! Where secrets come from: a no-echo terminal prompt, a file, or standard input.
//!
//! Never from argv or the environment. Without a terminal, a secret that is needed and not given
//! as a file is an immediate error: a cron job must never block on a prompt.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Asks a person for secrets, or refuses at once when there is nobody to ask.
pub enum Prompter {
    Terminal,
    NonInteractive,
}

impl Prompter {
    /// A terminal prompter when standard input is a terminal.
    pub fn detect() -> Self {
        if std::io::stdin().is_terminal() {
            Prompter::Terminal
        } else {
            Prompter::NonInteractive
        }
    }

    pub fn is_interactive(&self) -> bool {
        matches!(self, Prompter::Terminal)
    }

    /// Asks a yes/no question on standard error and reads the answer from standard input; only
    /// `y` or `yes` (any case) is yes. Without a terminal the answer is no.
    pub fn confirm(&self, question: &str) -> Result<bool> {
        if !self.is_interactive() {
            return Ok(false);
        }
        crate::output::err(question)?;
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| Error::io("cannot read the answer", e))?;
        Ok(matches!(
            answer.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }

    /// Reads one secret without echo.
    pub fn secret(&self, prompt: &str) -> std::io::Result<SecretString> {
        match self {
            Prompter::Terminal => rpassword::prompt_password(prompt).map(SecretString::from),
            Prompter::NonInteractive => Err(std::io::Error::other("no terminal to prompt on")),
        }
    }
}

impl keychain_core::prompt::Prompter for Prompter {
    fn secret(&self, prompt: &str) -> std::io::Result<SecretString> {
        Prompter::secret(self, prompt)
    }
}

/// The largest secret file read (a TOTP export with many entries is a few KiB).
const MAX_SECRET_FILE: u64 = 1024 * 1024;

/// A secret given as a file argument: a path, or `-` for standard input.
#[derive(Debug, Clone)]
pub enum SecretSource {
    Stdin,
    File(PathBuf),
}

impl SecretSource {
    pub fn parse(arg: &Path) -> Self {
        if arg == Path::new("-") {
            SecretSource::Stdin
        } else {
            SecretSource::File(arg.to_path_buf())
        }
    }

    /// Reads the whole source; trailing line ends are dropped, inner content is kept.
    pub fn read(&self, what: &str) -> Result<SecretString> {
        let mut raw = Zeroizing::new(Vec::with_capacity(4096));
        match self {
            SecretSource::Stdin => std::io::stdin()
                .read_to_end(&mut raw)
                .map_err(|e| Error::io(format!("cannot read the {what} from standard input"), e))?,
            SecretSource::File(path) => {
                // Never blocks: a FIFO, a device or a folder is refused at once, judged on the
                // opened descriptor. A file others can read is used (it was given for this one
                // call, and the secret has already been exposed), with a warning.
                let file = keychain_core::fsutil::read_secret_file(path, MAX_SECRET_FILE).map_err(
                    |e| {
                        let text = format!("cannot read the {what} from {}", path.display());
                        match e.kind() {
                            std::io::ErrorKind::InvalidInput => Error::usage_hint(
                                format!("{text}: {e}"),
                                "give a regular file, or - to read it from standard input",
                            ),
                            _ => Error::io(text, e),
                        }
                    },
                )?;
                if let Some(mode) = file.exposed {
                    crate::output::err(&format!(
                        "warning: the {what} file {}: {}\n",
                        path.display(),
                        keychain_core::fsutil::exposed_text(path, mode)
                    ))?;
                }
                raw.extend_from_slice(&file.bytes);
                raw.len()
            }
        };
        let text = std::str::from_utf8(&raw)
            .map_err(|_| Error::usage(format!("the {what} is not valid UTF-8 text")))?;
        let trimmed = text.trim_end_matches(['\r', '\n']);
        Ok(SecretString::from(trimmed.to_string()))
    }

    pub fn describe(&self) -> String {
        match self {
            SecretSource::Stdin => "standard input".into(),
            SecretSource::File(p) => p.display().to_string(),
        }
    }
}

/// Reads a secret from its file argument, else prompts on a terminal, else says what to give.
/// `required` false lets an empty prompt answer mean "none".
pub fn obtain(
    prompter: &Prompter,
    file: Option<&Path>,
    what: &str,
    flag: &str,
    required: bool,
) -> Result<Option<SecretString>> {
    if let Some(path) = file {
        let value = SecretSource::parse(path).read(what)?;
        if value.expose_secret().is_empty() {
            return Err(Error::usage(format!(
                "the {what} given with {flag} is empty"
            )));
        }
        return Ok(Some(value));
    }
    if !prompter.is_interactive() {
        if required {
            return Err(Error::usage_hint(
                format!("the {what} is needed and there is no terminal to ask for it"),
                format!(
                    "give it with {flag} FILE (or {flag} - for standard input); secrets are never taken from arguments"
                ),
            ));
        }
        return Ok(None);
    }
    let prompt = if required {
        format!("{what}: ")
    } else {
        format!("{what} (empty for none): ")
    };
    let value = prompter
        .secret(&prompt)
        .map_err(|e| Error::io(format!("cannot read the {what} from the terminal"), e))?;
    if value.expose_secret().is_empty() {
        if required {
            return Err(Error::usage(format!("the {what} is empty")));
        }
        return Ok(None);
    }
    Ok(Some(value))
}

// ---------------------------------------------------------------------------------------------
// Files named on the command line: `-` is a stream, everywhere (as `age -o -`, `tar -f -`).
// Every command that writes a file writes it through `write_output`, under one rule: refused
// if something exists under that name unless `--force`, written atomically with mode 0600.

/// Whether a file argument is `-`, the standard stream.
pub fn is_stream(path: &Path) -> bool {
    path == Path::new("-")
}

/// A file argument as the person sees it: `-` is "standard input" or "standard output".
pub fn shown(path: &Path, output: bool) -> String {
    match (is_stream(path), output) {
        (true, true) => "standard output".into(),
        (true, false) => "standard input".into(),
        (false, _) => path.display().to_string(),
    }
}

/// Refuses an output to standard output (`-`) when the command's JSON report goes there too:
/// the two would be mixed into one stream.
pub fn stdout_once(target: &Path, flag: &str, json: bool) -> Result<()> {
    if json && is_stream(target) {
        return Err(Error::usage_hint(
            format!("{flag} - and --json both write to standard output"),
            format!("give {flag} a FILE, or leave out --json"),
        ));
    }
    Ok(())
}

/// Refuses `-` for a file that is read again later (kept in the configuration, or read whenever
/// the key is needed): standard input is read once, so it cannot stand for such a file.
pub fn not_a_stream(path: &Path, flag: &str) -> Result<()> {
    if is_stream(path) {
        return Err(Error::usage_hint(
            format!(
                "{flag} names a file keychain reads again later, so it cannot be standard input ('-')"
            ),
            "give the path of a file (mode 0600), e.g. a systemd credential",
        ));
    }
    Ok(())
}

/// How a command writes an output file.
#[derive(Debug, Clone, Copy)]
pub struct OutputRule {
    /// `--force`: replace a file that exists.
    pub force: bool,
    /// The output is binary (an age file): refused on a terminal, as `age` refuses it.
    pub binary: bool,
}

/// Checks before any work (and any audit line) that `target` can be written: a file that
/// exists is refused without `force`; binary output to a terminal is refused.
pub fn check_output(target: &Path, rule: OutputRule) -> Result<()> {
    if is_stream(target) {
        if rule.binary && crate::output::stdout_is_terminal() {
            return Err(Error::usage_hint(
                "refusing to write binary output to a terminal",
                "redirect standard output to a file or a pipe (keychain ... - > FILE), or give a FILE",
            ));
        }
        return Ok(());
    }
    // `symlink_metadata`: a dangling link counts as existing.
    if !rule.force && std::fs::symlink_metadata(target).is_ok() {
        return Err(exists(target));
    }
    Ok(())
}

fn exists(target: &Path) -> Error {
    Error::usage_hint(
        format!("{} exists already", target.display()),
        "give --force to replace it, or choose a new file name",
    )
}

/// Writes `bytes` to `target`: standard output for `-`; otherwise a file written atomically
/// with mode 0600 (a unique temporary file beside it, fsync, rename), refusing an existing one
/// (atomically, no check-then-write window) unless `rule.force`.
pub fn write_output(target: &Path, bytes: &[u8], rule: OutputRule) -> Result<()> {
    check_output(target, rule)?;
    if is_stream(target) {
        return crate::output::raw(bytes);
    }
    let existing = if rule.force {
        keychain_core::fsutil::Existing::Replace
    } else {
        keychain_core::fsutil::Existing::Refuse
    };
    keychain_core::fsutil::write_output(target, bytes, keychain_core::fsutil::FILE_MODE, existing)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                exists(target)
            } else {
                Error::io(format!("cannot write {}", target.display()), e)
            }
        })
}

/// The largest input read from standard input for a file argument (an export, a settings
/// file, an image).
pub const MAX_STREAM_INPUT: u64 = 256 * 1024 * 1024;

/// Reads all of standard input (at most `limit` bytes) for a file argument given as `-`,
/// into a buffer wiped when dropped.
pub fn read_stdin(what: &str, limit: u64) -> Result<Zeroizing<Vec<u8>>> {
    let mut raw = Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(limit + 1)
        .read_to_end(&mut raw)
        .map_err(|e| Error::io(format!("cannot read the {what} from standard input"), e))?;
    if raw.len() as u64 > limit {
        return Err(Error::usage(format!(
            "the {what} on standard input is larger than {} MiB",
            limit / (1024 * 1024)
        )));
    }
    Ok(raw)
}

/// Refuses a call whose inputs name standard input (`-`) more than once: one stream cannot
/// feed two files. `inputs` are (flag or argument, path) pairs.
pub fn one_stdin<'a>(inputs: impl IntoIterator<Item = (&'a str, Option<&'a Path>)>) -> Result<()> {
    let named: Vec<&str> = inputs
        .into_iter()
        .filter(|(_, p)| p.is_some_and(is_stream))
        .map(|(flag, _)| flag)
        .collect();
    if named.len() > 1 {
        return Err(Error::usage_hint(
            format!(
                "{} all name standard input ('-'), which can feed only one of them",
                named.join(" and ")
            ),
            "give the others as files",
        ));
    }
    Ok(())
}
