//! Moving accounts in and out of a keychain: the export format (an age file for one recipient,
//! [`export`]) and the two imports (an export read back with its identity, or an Invantive
//! settings file, [`import`]).
//!
//! Everything here is the work; the command line parses the flags, calls [`export::export`] or
//! [`import::import`] and renders what they return. Nothing here prints: an import says what
//! happened to each account in its [`Fate`].
//!
//! Every imported account is checked by [`crate::validate`] exactly as `add` checks one (an
//! export is outside input: anyone with the officer's public key can write one), then saved and
//! recorded (with fingerprints) in one transaction ([`crate::keychain::Keychain::commit`]): a
//! failed audit write undoes that account and stops the import.
#![deny(missing_docs)]

pub mod export;
pub mod import;
pub mod strip;

#[cfg(test)]
mod tests;

/// The content of a file argument given as `-`, read from standard input by the front end
/// (the core never reads a stream itself). Wiped when dropped; its `Debug` shows the length
/// only, as it may hold secrets (an identity, a settings file).
#[derive(Clone)]
pub struct StreamBytes(pub zeroize::Zeroizing<Vec<u8>>);

impl std::fmt::Debug for StreamBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreamBytes({} bytes)", self.0.len())
    }
}

/// What happened to one account of an import, with the words that say why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Saved; what was imported (provider, user, the secrets present) and from where.
    Imported(String),
    /// Left alone: an account of that name exists and `--replace` was not given.
    Skipped(String),
    /// Not saved: the entry is not a valid account; the reason.
    Refused(String),
}

impl Fate {
    /// `imported`, `skipped` or `refused`: the word a report shows.
    pub fn word(&self) -> &'static str {
        match self {
            Fate::Imported(_) => "imported",
            Fate::Skipped(_) => "skipped",
            Fate::Refused(_) => "refused",
        }
    }

    /// What was imported, or why not.
    pub fn detail(&self) -> &str {
        match self {
            Fate::Imported(detail) | Fate::Skipped(detail) | Fate::Refused(detail) => detail,
        }
    }
}
