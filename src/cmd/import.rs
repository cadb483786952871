//! `keychain import FILE`: accounts from an Invantive settings file (`.xml`), or an export
//! written by `keychain export` (an age file, opened with `--identity FILE`).
//!
//! The import itself (which file it is, reading it, checking and saving each account) is
//! `keychain_core::transfer::import`'s, called as `ops::transfer::import` (which also strips,
//! with `--strip`). This file renders its report: what was imported, skipped (exists) or
//! refused, and why, one row each; `strip.rs` renders the strip.
//!
//! `--strip` then removes from the file exactly the values it reads back from the keychain and
//! finds equal (compared in constant time), one by one, and names each value moved and each
//! left; anything left makes the exit code 2. A settings file reached through a symbolic link
//! is rewritten at its target, and the link stays.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::cmd::Ctx;
use crate::error::{Error, Result};
use crate::exit;
use crate::input;
use crate::ops::transfer::{Fate, ImportOptions, Imported, import};
use crate::outcome::Outcome;
use crate::transfer::StreamBytes;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An Invantive settings file (.xml) or a file written by 'keychain export' (.age); - for
    /// standard input
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Then remove from the settings file each secret the keychain holds with the same value (backup kept beside it, mode 0600)
    #[arg(long)]
    pub strip: bool,
    /// The age identity file that opens an export (needed for .age files); - for standard
    /// input (then FILE cannot be - too)
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Overwrite existing accounts of the same name
    #[arg(long)]
    pub replace: bool,
    /// Name the imported account (a settings file holding one), or each account by a pattern
    /// of {group}, {connection}, {alias} and {n} (e.g. 'eol-{alias}'). The default joins the
    /// group, connection and alias, each word once (exact-online-nl-eol)
    #[arg(long, value_name = "NAME|PATTERN")]
    pub name: Option<String>,
}

pub fn run(ctx: &Ctx, args: ImportArgs) -> Result<Outcome> {
    input::one_stdin([
        ("FILE", Some(args.file.as_path())),
        ("--identity", args.identity.as_deref()),
    ])?;
    if args.strip && input::is_stream(&args.file) {
        return Err(Error::usage_hint(
            "--strip rewrites the settings file, and standard input is not a file",
            "give the settings file's path instead of -",
        ));
    }
    let stream = |path: &Path, what: &str| -> Result<Option<StreamBytes>> {
        Ok(if input::is_stream(path) {
            Some(StreamBytes(input::read_stdin(
                what,
                input::MAX_STREAM_INPUT,
            )?))
        } else {
            None
        })
    };
    let file_stream = stream(&args.file, "file to import")?;
    let identity_stream = match &args.identity {
        Some(path) => stream(path, "identity")?,
        None => None,
    };
    let (kc, json) = (&ctx.open()?, ctx.json());
    // A stream is named for what it is in messages and the audit log.
    let shown = |path: &Path| PathBuf::from(input::shown(path, false));
    let request = ImportOptions {
        file: shown(&args.file),
        identity: args.identity.as_deref().map(shown),
        strip: args.strip,
        replace: args.replace,
        file_stream,
        identity_stream,
        name: args.name.clone(),
    };
    let args = ImportArgs {
        file: request.file.clone(),
        ..args
    };
    let done = import(
        kc,
        &request,
        |imported| report(imported, &args.file, json),
        |file, plan| super::strip::plan(&args.file, file, plan),
    )?;
    let refused = done.imported.count(|f| matches!(f, Fate::Refused(_)));
    let all_moved = match (&done.stripped, &done.imported.settings) {
        (Some(stripped), Some(file)) => super::strip::outcome(file, stripped),
        _ => true,
    };
    Ok(if refused > 0 || !all_moved {
        Outcome::Failed(exit::USAGE)
    } else {
        Outcome::Success
    })
}

/// What was imported, skipped or refused, one row each, then the counts: said as soon as the
/// accounts are saved, before any strip.
fn report(imported: &Imported, file: &Path, json: bool) {
    let report = if json {
        to_json(&imported.entries, file)
    } else {
        to_text(&imported.entries)
    };
    crate::output::after_save(if json {
        crate::output::raw(report.as_bytes())
    } else {
        crate::output::out(&report)
    });
    let refused = imported.count(|f| matches!(f, Fate::Refused(_)));
    crate::output::after_save(crate::output::err(&format!(
        "{} imported, {} skipped, {refused} refused from {}.\n",
        imported.count(|f| matches!(f, Fate::Imported(_))),
        imported.count(|f| matches!(f, Fate::Skipped(_))),
        file.display()
    )));
}

fn to_json(entries: &[(String, Fate)], file: &Path) -> String {
    let accounts: Vec<serde_json::Value> = entries
        .iter()
        .map(|(name, fate)| {
            serde_json::json!({ "name": name, "result": fate.word(), "detail": fate.detail() })
        })
        .collect();
    // `ok`: nothing refused (the exit status 0).
    let ok = !entries.iter().any(|(_, f)| matches!(f, Fate::Refused(_)));
    crate::json::document(serde_json::json!({
        "ok": ok,
        "file": file.display().to_string(),
        "accounts": accounts,
    }))
}

fn to_text(entries: &[(String, Fate)]) -> String {
    let mut report = String::new();
    for (name, fate) in entries {
        // The word padded to one column: "imported  ", "skipped   ", "refused   ".
        let row = format!("{:<10}{name}  {}", fate.word(), fate.detail());
        // Names and reasons come from the imported file: one row each, whatever they hold.
        report.push_str(&format!("{}\n", crate::output::escape_value(&row)));
    }
    report
}
