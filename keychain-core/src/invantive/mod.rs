//! Finding, importing and removing plain-text secrets in Invantive `settings*.xml` files and in
//! similar `key=value;` connection strings elsewhere.
//!
//! A [`PlaintextSecret`] holds where a secret is and nothing of its value (not even a part: a
//! password's last characters are often the guessable part), so a scan report can be shown,
//! logged or mailed.
//! Secrets parsed for import go straight into `SecretString`. XML is parsed with `roxmltree`
//! with DTDs refused: no external entity is ever fetched or read, and a "billion laughs" file is
//! rejected at its `<!DOCTYPE` before any expansion (roxmltree also bounds expansion depth and
//! count when DTDs are allowed; we do not allow them). Input files are capped in size and read
//! without blocking (regular files only).
//!
//! For import, every secret is kept with its [`Spot`] (line, key, the bytes that remove it), so
//! that a strip can cut exactly the values the keychain was found to hold and leave the rest.
//!
//! The parts: [`find`] walks files and folders for secrets by line and key; `xml` reads a file
//! (capped, UTF-8, no DTD) and finds every secret of a settings document with its [`Spot`];
//! [`settings`] turns a settings file into import candidates; [`strip`] cuts chosen secrets out;
//! `connstr` parses `key=value;` connection strings with byte spans. Errors are this module's
//! own ([`ScanError`]); the top-level error converts them.
#![deny(missing_docs)]

mod connstr;
mod error;
pub mod find;
pub mod settings;
pub mod strip;
mod xml;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

pub use error::ScanError;
pub use find::{
    PlaintextSecret, importable, is_strip_backup, scan_bytes, scan_file, scan_paths, scan_paths_all,
};
pub use settings::{
    ImportCandidate, SettingsFile, parse_settings, read_settings, rename_candidates,
    settings_from_bytes, slugify,
};
pub use strip::{strip_secrets, strip_spots};
pub use xml::Spot;
