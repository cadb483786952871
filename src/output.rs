//! The only way keychain writes to standard output and standard error.
//!
//! `println!` and `eprintln!` panic when a stream fails, and scripts pipe keychain into `head`,
//! `grep -q` and pagers that close early, or into a full disk. Every write goes through here
//! instead, so that each command meets a stream error in the same documented way:
//!
//! - a closed pipe (EPIPE) ends the command quietly with exit [`exit::PIPE`] (141, what a shell
//!   reports for `cat` or `grep` ended by SIGPIPE);
//! - any other error (a full disk, an I/O error) exits [`exit::IO`] (8), without a panic;
//! - once a change is saved, a failed notice about it does not turn the change into a failure:
//!   wrap that write in [`after_save`].
//!
//! Human text ([`out`], [`err`]) passes through [`escape`] on its way out, so a control character
//! planted in a user name, a provider's answer, a file name or an error text reaches the terminal
//! as visible `\x1b`-style text, never as a terminal command. Renderers that put a value on a line
//! of a table call [`escape_value`] (which also escapes line breaks). Machine output ([`raw`]:
//! JSON, a revealed secret, a token, a code, shell completions) is written byte for byte.
//!
//! The crate forbids `print!`-style macros and direct `std::io::stdout()`/`stderr()` outside this
//! module (`clippy::print_stdout`, `clippy::print_stderr` and `clippy.toml`'s disallowed methods).
#![allow(clippy::disallowed_methods)]

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};

use keychain_core::error::{Error, Result};
pub use keychain_core::text::{count, escape, escape_value};

/// Human text on standard output, with control characters escaped.
pub fn out(text: &str) -> Result<()> {
    write(Stream::Stdout, escape(text).as_bytes())
}

/// Human text on standard output whose lines may start with a severity word (`error`,
/// `warning`, `critical`, `high`, `medium`, `low`): that word is coloured when standard output
/// is a terminal and `NO_COLOR` is not set (<https://no-color.org>). The colour codes are added
/// after escaping, so no value can bring its own.
pub fn out_with_severities(text: &str) -> Result<()> {
    let escaped = escape(text);
    if !colour_on_stdout() {
        return write(Stream::Stdout, escaped.as_bytes());
    }
    let mut coloured = String::with_capacity(escaped.len() + 64);
    for line in escaped.split_inclusive('\n') {
        let word = SEVERITY_COLOURS.iter().find(|(word, _)| {
            line.strip_prefix(word)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with(':'))
        });
        match word {
            Some((word, code)) => {
                let _ = write!(coloured, "\x1b[{code}m{word}\x1b[0m{}", &line[word.len()..]);
            }
            None => coloured.push_str(line),
        }
    }
    write(Stream::Stdout, coloured.as_bytes())
}

/// SGR colours per severity word: red, bold red, yellow, cyan.
const SEVERITY_COLOURS: [(&str, &str); 6] = [
    ("critical", "1;31"),
    ("error", "1;31"),
    ("high", "31"),
    ("warning", "33"),
    ("medium", "33"),
    ("low", "36"),
];

/// Colour only for a person: standard output is a terminal and `NO_COLOR` is unset or empty.
fn colour_on_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Human text on standard error (notices, warnings, errors), with control characters escaped.
pub fn err(text: &str) -> Result<()> {
    write(Stream::Stderr, escape(text).as_bytes())
}

/// Exact bytes on standard output: JSON, a revealed secret, a token, a TOTP code, completions.
pub fn raw(bytes: &[u8]) -> Result<()> {
    write(Stream::Stdout, bytes)
}

/// Exact bytes on standard error: the JSON error object under `--json` (its strings are JSON-
/// escaped, so no control character reaches the terminal raw).
pub fn raw_err(bytes: &[u8]) -> Result<()> {
    write(Stream::Stderr, bytes)
}

/// For writes made after a change was saved: the change stands, so its exit status must not say
/// otherwise because a notice about it could not be written (the stream is gone either way).
pub fn after_save(written: Result<()>) {
    let _ = written;
}

/// A progress line for a person watching a logon: a lost line must not fail (or half-finish) the
/// work it describes, so a stream error is ignored.
pub fn progress(text: &str) {
    let _ = err(text);
}

/// The width of the terminal standard output writes to, when it is one.
pub fn stdout_width() -> Option<usize> {
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0))
}

/// How long a wait must last before a person is told about it.
pub const PROGRESS_AFTER: std::time::Duration = std::time::Duration::from_millis(300);

/// A line on standard error that appears only when a wait (a lock, an scrypt key derivation)
/// lasts longer than [`PROGRESS_AFTER`], and only on a terminal; it is erased when the wait
/// ends (the guard is dropped). A job's log never sees it.
pub struct Waiting {
    state: Option<std::sync::Arc<(std::sync::Mutex<WaitState>, std::sync::Condvar)>>,
}

#[derive(Default)]
struct WaitState {
    done: bool,
    shown: bool,
}

impl Waiting {
    pub fn start(message: &str) -> Self {
        if !stderr_is_terminal() {
            return Waiting { state: None };
        }
        let state = std::sync::Arc::new((
            std::sync::Mutex::new(WaitState::default()),
            std::sync::Condvar::new(),
        ));
        let shared = state.clone();
        let line = format!("{}…", escape_value(message));
        std::thread::spawn(move || {
            let (lock, wake) = &*shared;
            let Ok(guard) = lock.lock() else { return };
            let Ok((mut guard, _)) = wake.wait_timeout_while(guard, PROGRESS_AFTER, |s| !s.done)
            else {
                return;
            };
            if !guard.done {
                let _ = write(Stream::Stderr, line.as_bytes());
                guard.shown = true;
            }
        });
        Waiting { state: Some(state) }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let Some(state) = self.state.take() else {
            return;
        };
        let (lock, wake) = &*state;
        if let Ok(mut guard) = lock.lock() {
            guard.done = true;
            if guard.shown {
                // Back to the start of the line, and erase it.
                let _ = write(Stream::Stderr, b"\r\x1b[K");
            }
        }
        wake.notify_all();
    }
}

/// The core's progress, shown on standard error: steps as they come, waits only on a terminal.
pub struct StderrObserver;

impl keychain_core::progress::Observer for StderrObserver {
    fn step(&self, text: &str) {
        progress(text);
    }

    fn waiting(&self, message: &str) -> Box<dyn Send> {
        Box::new(Waiting::start(message))
    }
}

/// Whether standard output is a terminal (a secret meant for a pipe is refused there).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Whether standard error is a terminal (progress and the seconds left are shown only there).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

fn write(stream: Stream, bytes: &[u8]) -> Result<()> {
    let (name, result) = match stream {
        Stream::Stdout => {
            let mut s = std::io::stdout().lock();
            ("output", s.write_all(bytes).and_then(|()| s.flush()))
        }
        Stream::Stderr => {
            let mut s = std::io::stderr().lock();
            ("error", s.write_all(bytes).and_then(|()| s.flush()))
        }
    };
    result.map_err(|source| Error::Output {
        stream: name,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_is_141_and_quiet_any_other_write_error_is_8() {
        use std::io::{Error as IoError, ErrorKind};
        let closed = Error::Output {
            stream: "output",
            source: IoError::from(ErrorKind::BrokenPipe),
        };
        assert_eq!(closed.exit_code(), crate::exit::PIPE);
        assert!(closed.is_closed_pipe());
        let full = Error::Output {
            stream: "output",
            source: IoError::from_raw_os_error(28),
        };
        assert_eq!(full.exit_code(), crate::exit::IO);
        assert!(!full.is_closed_pipe());
    }
}
