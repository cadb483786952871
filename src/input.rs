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

/// Checks that at most one secret comes from standard input in one call.
pub fn at_most_one_stdin<'a>(sources: impl IntoIterator<Item = Option<&'a Path>>) -> Result<()> {
    let count = sources
        .into_iter()
        .flatten()
        .filter(|p| *p == Path::new("-"))
        .count();
    if count > 1 {
        return Err(Error::usage_hint(
            "only one secret can come from standard input ('-') per call",
            "give the others as files",
        ));
    }
    Ok(())
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
