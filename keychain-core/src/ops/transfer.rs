//! `import` and `export`: accounts into and out of a keychain. The export format and the
//! import of an export or an Invantive settings file are `crate::transfer`'s (a file format and
//! its reader, with their own tests); these are the operations a command calls.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::keychain::Keychain;

pub use crate::transfer::Fate;
pub use crate::transfer::import::{ImportRequest as ImportOptions, Imported};
pub use crate::transfer::strip::StripPlan;

use crate::invantive::SettingsFile;

/// What `import` did: the accounts, and with `strip` the settings file's strip.
pub struct ImportDone {
    /// Each entry's name and fate, and the settings file read.
    pub imported: Imported,
    /// The strip, when `strip` was asked and the file was a settings file.
    pub stripped: Option<Stripped>,
}

/// Imports the accounts of `options.file` (see [`crate::transfer::import::import`]); with
/// `options.strip`, then strips the settings file of the values the keychain now holds.
///
/// A front end hears of each half as it is done, so its report of the accounts is out before
/// the strip begins (a strip that fails leaves that report said): `on_imported` after the
/// accounts are saved, `on_plan` with the settings file and its strip plan before the file is
/// touched.
pub fn import(
    kc: &Keychain,
    options: &ImportOptions,
    on_imported: impl FnOnce(&Imported),
    on_plan: impl FnOnce(&SettingsFile, &StripPlan),
) -> Result<ImportDone> {
    let imported = crate::transfer::import::import(kc, options)?;
    on_imported(&imported);
    let stripped = match &imported.settings {
        Some(file) if options.strip => Some(strip(kc, &options.file, file, on_plan)?),
        _ => None,
    };
    Ok(ImportDone { imported, stripped })
}

/// What to export, and where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The age public key (age1...) the file is encrypted to, as typed.
    pub recipient: String,
    /// Where the caller writes it, as the audit log names it (a file, or "standard output").
    pub target: String,
    /// Which accounts: names and shell-style patterns (`*`, `?`, `[abc]`); empty for all. A
    /// name or pattern that matches no account is refused, so a typo exports nothing.
    pub select: Vec<String>,
}

/// An export made: the bytes for the caller to write (after the audit line is written).
#[derive(Debug, Clone)]
pub struct Exported {
    /// How many accounts it holds.
    pub accounts: usize,
    /// The age file.
    pub ciphertext: Vec<u8>,
}

/// The accounts of the keychain named or matched by `options.select` (all of them when it is
/// empty), encrypted to `options.recipient`, recorded in the audit log as an export to
/// `options.target`. `stray` hears of each entry of the accounts folder that is named like a
/// record but is not one (it is left out), as the listing finds it.
pub fn export(kc: &Keychain, options: &ExportOptions, stray: impl Fn(&Path)) -> Result<Exported> {
    let recipient = crate::config::parse_recipient(&options.recipient)?;
    let listing = kc.store().listing()?;
    listing.strays.iter().for_each(|path| stray(path));
    let names = select(&listing.names, &options.select)?;
    let ciphertext = crate::transfer::export::export(kc, &names, &recipient, &options.target)?;
    Ok(Exported {
        accounts: names.len(),
        ciphertext,
    })
}

/// The names of `all` that `wanted` names or matches, in `all`'s order; every entry of
/// `wanted` must match at least one.
pub fn select(all: &[String], wanted: &[String]) -> Result<Vec<String>> {
    if wanted.is_empty() {
        return Ok(all.to_vec());
    }
    let mut patterns = Vec::with_capacity(wanted.len());
    for text in wanted {
        let pattern = glob::Pattern::new(text).map_err(|e| {
            crate::error::Error::usage(format!("'{text}' is not a valid name pattern: {e}"))
        })?;
        if !all.iter().any(|name| pattern.matches(name)) {
            return Err(crate::error::Error::usage_hint(
                format!("no account is named or matches '{text}'"),
                "'keychain list' shows the accounts",
            ));
        }
        patterns.push(pattern);
    }
    Ok(all
        .iter()
        .filter(|name| patterns.iter().any(|p| p.matches(name)))
        .cloned()
        .collect())
}

/// What `strip` did.
#[derive(Debug)]
pub struct Stripped {
    /// Which values were cut (read back from the keychain and found equal) and which left.
    pub plan: StripPlan,
    /// The backup kept beside the file (mode 0600, it still holds the values); `None` when
    /// nothing was to be cut, so the file is untouched.
    pub backup: Option<PathBuf>,
}

/// Removes from the settings `file` (read from `given`, resolved) exactly the values the
/// keychain holds with the same value, recording the strip first (see
/// [`crate::transfer::strip`]). `on_plan` hears the plan before the file is touched, so a
/// front end has said what is to be moved even if the cut fails.
fn strip(
    kc: &Keychain,
    given: &Path,
    file: &SettingsFile,
    on_plan: impl FnOnce(&SettingsFile, &StripPlan),
) -> Result<Stripped> {
    let plan = crate::transfer::strip::plan(kc, given, file);
    on_plan(file, &plan);
    if plan.moved.is_empty() {
        return Ok(Stripped { plan, backup: None });
    }
    let backup = crate::transfer::strip::apply(kc, file, &plan)?;
    Ok(Stripped {
        plan,
        backup: Some(backup),
    })
}
