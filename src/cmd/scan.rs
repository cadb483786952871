//! `keychain scan PATH...`: plain-text secrets left in settings files, each named by file, line
//! and attribute, never any of its value. Exit 1 when anything is found.
//!
//! The scan and its audit line are `ops::scan`'s; this file prints what it found, the advice,
//! and a warning when the scan could not be recorded (it still reports: it reveals nothing).

use clap::Args;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::clock::SharedClock;
use crate::error::Result;
use crate::exit::{self, Failure as _};
use crate::invantive::ScanError;
use crate::ops::scan::{Found, ScanOptions, Scanned, scan_with_stdin};

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or folders (searched recursively; symbolic links inside are not followed); - for
    /// standard input (once)
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
    crate::input::one_stdin(args.paths.iter().map(|p| ("PATH", Some(p.as_path()))))?;
    let stdin = if args.paths.iter().any(|p| crate::input::is_stream(p)) {
        let bytes = crate::input::read_stdin("text to scan", crate::input::MAX_STREAM_INPUT)?;
        Some(crate::transfer::StreamBytes(bytes))
    } else {
        None
    };
    let Scanned {
        findings,
        errors,
        not_recorded,
    } = scan_with_stdin(
        &ScanOptions {
            paths: args.paths,
            dir: dir.map(Path::to_path_buf),
            clock: clock.clone(),
        },
        stdin.as_ref(),
    );
    if json {
        let found: Vec<serde_json::Value> = findings
            .iter()
            .map(|f| {
                // The one finding shape (issue 23), with where the secret is beside it.
                let file = f.secret.file.display().to_string();
                let finding = crate::ops::finding::Finding::new(
                    crate::severity::Severity::High,
                    "plain-text-secret",
                    None,
                    f.secret.to_string(),
                )
                .about(&format!("{file}:{}:{}", f.secret.line, f.secret.key));
                let mut value = serde_json::to_value(finding).expect("JSON of plain values");
                value["file"] = file.into();
                value["line"] = f.secret.line.into();
                value["key"] = f.secret.key.clone().into();
                value["importable"] = f.importable.into();
                value
            })
            .collect();
        let errors: Vec<serde_json::Value> = errors
            .iter()
            .map(|e| serde_json::json!({ "message": e.to_string(), "hint": e.hint() }))
            .collect();
        crate::output::raw(
            crate::json::document(serde_json::json!({
                "ok": findings.is_empty() && errors.is_empty(),
                "findings": found,
                "errors": errors,
            }))
            .as_bytes(),
        )?;
    } else {
        let mut out = String::new();
        for f in &findings {
            out.push_str(&format!("{}\n", f.secret));
        }
        crate::output::out(&out)?;
        for e in &errors {
            let hint = e.hint().map(|h| format!("hint: {h}\n")).unwrap_or_default();
            crate::output::err(&format!("error: {e}\n{hint}"))?;
        }
    }

    if let Some(e) = not_recorded {
        crate::output::err(&format!(
            "warning: this scan was not recorded in the audit log: {e}\n"
        ))?;
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
/// delete for the backups `import --strip` kept, by hand for the others, each named.
fn advice(findings: &[Found]) -> String {
    use crate::output::{count, escape_value};
    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum Fix {
        Import,
        Delete,
        ByHand,
    }
    // Each file once, in path order, with what to do about it.
    let files: BTreeMap<&Path, Fix> = findings
        .iter()
        .map(|f| {
            let fix = match (f.backup, f.importable) {
                (true, _) => Fix::Delete,
                (false, true) => Fix::Import,
                (false, false) => Fix::ByHand,
            };
            (f.secret.file.as_path(), fix)
        })
        .collect();
    let mut text = format!(
        "{} in {}.\n",
        count(findings.len(), "plain-text secret", "plain-text secrets"),
        count(files.len(), "file", "files")
    );
    for wanted in [Fix::Import, Fix::Delete, Fix::ByHand] {
        for (file, _) in files.iter().filter(|(_, fix)| **fix == wanted) {
            let shown = escape_value(&file.display().to_string()).into_owned();
            text.push_str(&match wanted {
                Fix::Import => format!("  import: keychain import '{shown}' --strip\n"),
                Fix::Delete => format!(
                    "  delete: {shown} is a backup 'keychain import --strip' kept (its secrets were moved into the keychain); delete it once the import is checked\n"
                ),
                Fix::ByHand => format!(
                    "  by hand (import reads only settings*.xml): {shown}: store each secret with 'keychain add' or 'keychain set', then remove it from the file\n"
                ),
            });
        }
    }
    text
}
