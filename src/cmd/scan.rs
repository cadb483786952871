//! `keychain scan PATH...`: plain-text secrets left in settings files, each named by file, line
//! and attribute, never any of its value. Exit 1 when anything is found.
//!
//! The scan needs no keychain. When one exists in the chosen folder, the scan is recorded in its
//! audit log; when that log cannot be written the scan still reports (it reveals nothing) and
//! says that it was not recorded.

use clap::Args;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::audit::Event;
use crate::audit::{Action, Outcome};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::error::Result;
use crate::exit;
use crate::invantive::{ScanError, scan_paths_all};

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or folders (searched recursively; symbolic links inside are not followed)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

pub fn run(
    ctx: &crate::cmd::Ctx,
    dir: Option<&Path>,
    clock: &SharedClock,
    args: ScanArgs,
) -> Result<crate::outcome::Outcome> {
    let json = ctx.json();
    let (findings, errors) = scan_paths_all(&args.paths);
    if json {
        let found: Vec<serde_json::Value> = findings
            .iter()
            .map(|f| {
                serde_json::json!({
                    "file": f.file.display().to_string(),
                    "line": f.line,
                    "key": f.key,
                    "importable": crate::invantive::importable(&f.file),
                })
            })
            .collect();
        let errors: Vec<serde_json::Value> = errors
            .iter()
            .map(|e| serde_json::json!({ "message": e.to_string(), "hint": e.hint() }))
            .collect();
        crate::output::raw(
            crate::json::document(serde_json::json!({ "findings": found, "errors": errors }))
                .as_bytes(),
        )?;
    } else {
        let mut out = String::new();
        for f in &findings {
            out.push_str(&format!("{f}\n"));
        }
        crate::output::out(&out)?;
        for e in &errors {
            let hint = e.hint().map(|h| format!("hint: {h}\n")).unwrap_or_default();
            crate::output::err(&format!("error: {e}\n{hint}"))?;
        }
    }

    if let Some(dir) = dir.filter(|d| Config::path(d).exists()) {
        let outcome = if errors.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Error(format!(
                "{} could not be scanned",
                crate::output::count(errors.len(), "file", "files")
            ))
        };
        let event =
            Event::new(format!("scan ({} found)", findings.len()), Action::Scan).outcome(outcome);
        if let Err(e) =
            crate::audit::record_in(dir, clock, event).map_err(crate::error::Error::from)
        {
            crate::output::err(&format!(
                "warning: this scan was not recorded in the audit log: {e}\n"
            ))?;
        }
    }

    if !findings.is_empty() {
        crate::output::err(&advice(&findings))?;
    } else if errors.is_empty() {
        crate::output::err("No plain-text secrets found.\n")?;
    }
    // Secrets found outrank files that could not be read; both are nonzero for a cron job.
    Ok(if !findings.is_empty() {
        crate::outcome::Outcome::Findings
    } else if errors.iter().any(|e| matches!(e, ScanError::Io { .. })) {
        crate::outcome::Outcome::Failed(exit::IO)
    } else if !errors.is_empty() {
        crate::outcome::Outcome::Failed(exit::USAGE)
    } else {
        crate::outcome::Outcome::Success
    })
}

/// The summary and what to do: `import --strip` for the files import reads (settings files),
/// by hand for the others, each named.
fn advice(findings: &[crate::invantive::PlaintextSecret]) -> String {
    use crate::invantive::importable;
    use crate::output::{count, escape_value};
    let files: BTreeSet<&Path> = findings.iter().map(|f| f.file.as_path()).collect();
    let (settings, other): (Vec<&Path>, Vec<&Path>) = files.iter().partition(|f| importable(f));
    let mut text = format!(
        "{} in {}.\n",
        count(findings.len(), "plain-text secret", "plain-text secrets"),
        count(files.len(), "file", "files")
    );
    for file in settings {
        text.push_str(&format!(
            "  import: keychain import '{}' --strip\n",
            escape_value(&file.display().to_string())
        ));
    }
    for file in other {
        text.push_str(&format!(
            "  by hand (import reads only settings*.xml): {}: store each secret with 'keychain add' or 'keychain set', then remove it from the file\n",
            escape_value(&file.display().to_string())
        ));
    }
    text
}
