//! `keychain scan PATH...`: plain-text secrets left in settings files, each named by file, line
//! and attribute, never any of its value. Exit 1 when anything is found.
//!
//! The scan needs no keychain. When one exists in the chosen folder, the scan is recorded in its
//! audit log; when that log cannot be written the scan still reports (it reveals nothing) and
//! says that it was not recorded.

use std::path::Path;

use crate::audit::Event;
use crate::audit::scan::{ScanError, scan_paths_all};
use crate::cli::ScanArgs;
use crate::config::Config;
use crate::error::{Error, Result, exit};
use crate::trail::{self, Action, Outcome};

pub fn run(dir: Option<&Path>, args: ScanArgs) -> Result<i32> {
    let (findings, errors) = scan_paths_all(&args.paths);
    let mut out = String::new();
    for f in &findings {
        out.push_str(&format!("{f}\n"));
    }
    crate::output::out(&out)?;
    for e in &errors {
        crate::output::err(&format!("error: {e}\n"))?;
    }

    if let Some(dir) = dir.filter(|d| Config::path(d).exists()) {
        let outcome = if errors.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Error(format!("{} file(s) could not be scanned", errors.len()))
        };
        let event =
            Event::new(format!("scan ({} found)", findings.len()), Action::Scan).outcome(outcome);
        if let Err(e) = trail::record_in(dir, event) {
            crate::output::err(&format!(
                "warning: this scan was not recorded in the audit log: {e}\n"
            ))?;
        }
    }

    let files: std::collections::BTreeSet<_> = findings.iter().map(|f| &f.file).collect();
    if !findings.is_empty() {
        crate::output::err(&format!(
            "{} plain-text secret(s) in {} file(s); import them with 'keychain import FILE.xml --strip'.\n",
            findings.len(),
            files.len()
        ))?;
    } else if errors.is_empty() {
        crate::output::err("No plain-text secrets found.\n")?;
    }
    // Secrets found outrank files that could not be read; both are nonzero for a cron job.
    Ok(if !findings.is_empty() {
        exit::FINDINGS
    } else if errors.iter().any(|e| matches!(e, ScanError::Io { .. })) {
        exit::IO
    } else if !errors.is_empty() {
        exit::USAGE
    } else {
        exit::OK
    })
}

/// A scanner error as the command's error: I/O problems are I/O, everything else bad input.
pub fn scan_error(e: ScanError) -> Error {
    match e {
        ScanError::Io { what, path, source } => {
            Error::io(format!("could not {what} {}", path.display()), source)
        }
        other => Error::usage(other.to_string()),
    }
}
