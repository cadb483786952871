//! `scan PATH...`: plain-text secrets left in settings files, each named by file, line and
//! attribute, never any of its value.
//!
//! The scan needs no keychain. When one exists in the chosen folder, the scan is recorded in its
//! audit log; when that log cannot be written the scan still reports (it reveals nothing) and
//! the front end says that it was not recorded.

use std::path::{Path, PathBuf};

use crate::audit::{Action, Event, Outcome};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::error::Error;
use crate::invantive::{
    PlaintextSecret, ScanError, importable, is_strip_backup, scan_bytes, scan_paths_all,
};
use crate::text::count;

/// What to scan, and the keychain whose audit log records the scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Files or folders (searched recursively; symbolic links inside are not followed); `-`
    /// is standard input, as given to [`scan_with_stdin`].
    pub paths: Vec<PathBuf>,
    /// The keychain folder; the scan is recorded only when a keychain exists there.
    pub dir: Option<PathBuf>,
    /// The clock the audit line is stamped by.
    pub clock: SharedClock,
}

/// One plain-text secret found.
#[derive(Debug, Clone)]
pub struct Found {
    /// Where it is.
    pub secret: PlaintextSecret,
    /// Whether `import --strip` reads its file (a settings file), or it is moved by hand.
    pub importable: bool,
    /// Whether its file is a backup `import --strip` kept: delete it once the import is
    /// checked (its secrets are in the keychain), never import it again.
    pub backup: bool,
}

/// What `scan` found.
#[derive(Debug)]
pub struct Scanned {
    /// The secrets found, in the order of the paths given.
    pub findings: Vec<Found>,
    /// The files that could not be scanned.
    pub errors: Vec<ScanError>,
    /// Why the scan is not in the audit log, when a keychain was there and its log could not
    /// be written.
    pub not_recorded: Option<Error>,
}

/// Scans `options.paths` and records the scan in the keychain's audit log, if there is one.
/// Never fails: a file that cannot be read is one of [`Scanned::errors`].
pub fn scan(options: &ScanOptions) -> Scanned {
    scan_with_stdin(options, None)
}

/// As [`scan`], with what the front end read from standard input for a path `-`.
pub fn scan_with_stdin(
    options: &ScanOptions,
    stdin: Option<&crate::transfer::StreamBytes>,
) -> Scanned {
    let (mut findings, mut errors) = (Vec::new(), Vec::new());
    for path in &options.paths {
        match (stdin, path == Path::new("-")) {
            (Some(stream), true) => match scan_bytes(Path::new("standard input"), &stream.0) {
                Ok(found) => findings.extend(found),
                Err(e) => errors.push(e),
            },
            _ => {
                let (found, failed) = scan_paths_all(std::slice::from_ref(path));
                findings.extend(found);
                errors.extend(failed);
            }
        }
    }
    let mut not_recorded = None;
    if let Some(dir) = options.dir.as_deref().filter(|d| Config::path(d).exists()) {
        let outcome = if errors.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Error(format!(
                "{} could not be scanned",
                count(errors.len(), "file", "files")
            ))
        };
        let event =
            Event::new(format!("scan ({} found)", findings.len()), Action::Scan).outcome(outcome);
        not_recorded = record(dir, &options.clock, event).err();
    }
    let findings = findings
        .into_iter()
        .map(|secret| Found {
            importable: importable(&secret.file),
            backup: is_strip_backup(&secret.file),
            secret,
        })
        .collect();
    Scanned {
        findings,
        errors,
        not_recorded,
    }
}

/// Appends the scan's event to the file log of the keychain in `dir` (no keychain is opened:
/// a scan needs no key).
fn record(dir: &Path, clock: &SharedClock, event: Event) -> Result<(), Error> {
    crate::audit::record_in(dir, clock, event).map_err(Error::from)
}
