//! What every command runs with, read once by `dispatch` from the global flags and the
//! environment: the keychain folder, the settings, the clock and the output mode. A command
//! takes it as `run(ctx, args)`; none reads `--json`, `KEYCHAIN_FORMAT` or the folder's
//! flags itself.

use std::path::PathBuf;

use crate::cli::{GlobalArgs, Prints};
use crate::clock::SharedClock;
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::settings::Settings;

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// For a person: text and tables.
    Text,
    /// For tools: one JSON document (`--json`, or `KEYCHAIN_FORMAT=json` for a document).
    Json,
}

/// The context of one run of the command line.
pub struct Ctx {
    /// `--dir` (or `KEYCHAIN_DIR`) as given; resolved when a command needs the folder, so a
    /// command without one (`man`, `completions`) runs where no folder can be found.
    dir: Option<PathBuf>,
    /// The settings from the global flags and their variables.
    pub settings: Settings,
    /// The clock every command reads the time from.
    pub clock: SharedClock,
    /// Text or JSON.
    pub output: OutputMode,
}

impl Ctx {
    /// Reads the global flags: the settings first, then the output mode for a command that
    /// prints `prints` (a bad `KEYCHAIN_FORMAT` is a usage error). An explicit `--json` wins over
    /// the environment; `KEYCHAIN_FORMAT=json` is only the default of a command that prints a
    /// document; `--json` on a command whose output has no JSON form is refused (exit 2).
    pub fn new(global: &GlobalArgs, prints: Prints) -> Result<Ctx> {
        let settings = global.settings.settings()?;
        let from_env = crate::cli::json_from_env().map_err(Error::usage)?;
        let json = match (global.json, prints) {
            (true, Prints::ValueOnly(what)) => {
                return Err(Error::usage_hint(
                    format!("{what}; it has no JSON form"),
                    "leave out --json",
                ));
            }
            (true, _) => true,
            (false, Prints::Document) => from_env,
            (false, Prints::Value | Prints::ValueOnly(_)) => false,
        };
        Ok(Ctx {
            dir: global.dir.clone(),
            settings,
            clock: crate::clock::system(),
            output: if json {
                OutputMode::Json
            } else {
                OutputMode::Text
            },
        })
    }

    /// Whether the result is to be JSON.
    pub fn json(&self) -> bool {
        self.output == OutputMode::Json
    }

    /// The keychain folder.
    pub fn dir(&self) -> Result<PathBuf> {
        super::settings::keychain_dir(self.dir.clone())
    }

    /// The keychain, refused when others could write to it.
    pub fn open(&self) -> Result<Keychain> {
        Keychain::open_with(&self.dir()?, self.settings.clone(), self.clock.clone())
    }

    /// The keychain even when others could write to it, for commands that only look and say so.
    pub fn open_unchecked(&self) -> Result<Keychain> {
        Keychain::open_unchecked_with(&self.dir()?, self.settings.clone(), self.clock.clone())
    }

    /// Confirms a command whose only output is a notice on standard error: under JSON, on
    /// standard output, `{"format": 1, "ok": true, "command": ..., "accounts": [...]}`.
    pub fn confirm(&self, command: &str, accounts: &[&str]) -> Result<()> {
        if self.json() {
            crate::output::raw(
                crate::json::document(serde_json::json!({
                    "ok": true, "command": command, "accounts": accounts,
                }))
                .as_bytes(),
            )?;
        }
        Ok(())
    }
}
