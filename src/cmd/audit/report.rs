//! `keychain audit` / `keychain audit report`: per account what is stored, how old it is, when
//! and by whom it was used; then findings with a severity. Exit 1 when a finding at or above
//! `--fail-on` exists. The rules and their policy are `keychain_core::report`; this file holds
//! the flags, the JSON shape and the exit status.
//!
//! `--no-key` reports from the public headers and the log only; the report says, as a low
//! finding, which checks were then skipped.

use clap::Args;

use std::path::PathBuf;

use crate::cli::choice;
use crate::error::Result;
use crate::keychain::Keychain;
use crate::severity::Severity;

pub use crate::ops::report::{AccountRow, Report, ReportOptions};

#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// Set from the global --json (or KEYCHAIN_FORMAT=json) by `cmd::dispatch`
    #[arg(skip)]
    pub json: bool,
    /// Also write the report as a self-contained HTML page to FILE (mode 0600; an existing
    /// file is refused unless --force), or to standard output with - (instead of the table)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Replace the --html FILE if it exists
    #[arg(long, requires = "html")]
    pub force: bool,
    /// Exit with 1 when a finding of this severity or worse exists
    #[arg(long, value_parser = choice::<Severity>(), value_name = "SEVERITY", default_value_t = Severity::High)]
    pub fail_on: Severity,
    /// A password older than DAYS is a finding
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    pub max_password_age: u32,
    /// Do not ask the key store for the key: report from the public headers and the log only.
    /// Duplicate secrets and the MACs of the log and of config.json are then not checked (a low
    /// finding says so); the log's order, hash chain and anchor still are (a shared keychain's
    /// trail: its order, hash chain and every event this machine saw)
    #[arg(long)]
    pub no_key: bool,
    /// Days of activity the HTML timelines show, ending now; anomaly findings whose latest event
    /// is older are not listed
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub days: u32,
}

/// The report under the JSON contract (src/json.rs): `format` first, each account in the shared
/// account shape with the report's own figures beside it; `last_use` is the log's last use of
/// the account (reveals included), in the shared use shape.
/// `ok` is whether no open finding is at or above `--fail-on` (the exit status 0).
fn to_json(report: &Report, now: i64, ok: bool) -> String {
    let mut doc = serde_json::to_value(report).expect("JSON of plain values");
    doc["ok"] = ok.into();
    if let Some(rows) = doc["accounts"].as_array_mut() {
        for (value, row) in rows.iter_mut().zip(&report.accounts) {
            let mut shared = crate::json::account(&row.header, now);
            for key in [
                "password_age_days",
                "totp_secret_age_days",
                "refresh_token",
                "headless_logons_30d",
                "broken_chains_30d",
                "last_use_by_host",
            ] {
                shared[key] = value[key].take();
            }
            // The report's last use is read from the audit log (reveals count too), in the
            // shared use shape.
            shared["last_use"] = row.last_use.as_ref().map_or(serde_json::Value::Null, |u| {
                serde_json::json!({ "at": u.at, "by": u.by, "action": u.action, "ok": u.result == "ok" })
            });
            *value = shared;
        }
    }
    crate::json::document(doc)
}

pub fn run(kc: &Keychain, args: ReportArgs) -> Result<crate::outcome::Outcome> {
    let html_rule = crate::input::OutputRule {
        force: args.force,
        binary: false,
    };
    if let Some(path) = &args.html {
        crate::input::stdout_once(path, "--html", args.json)?;
        crate::input::check_output(path, html_rule)?;
    }
    let report = crate::ops::report::build(
        kc,
        &ReportOptions {
            max_password_age: args.max_password_age,
            no_key: args.no_key,
            days: args.days,
        },
    )?;
    for stray in &report.strays {
        super::super::warn_stray(stray);
    }
    if let Some(path) = &args.html {
        let html = super::render::html(&report);
        // The one rule for output files: `-` is standard output, atomic 0600, no overwrite
        // without --force.
        crate::input::write_output(path, html.as_bytes(), html_rule)?;
        crate::output::after_save(crate::output::err(&format!(
            "Wrote the HTML report to {}.\n",
            crate::input::shown(path, true)
        )));
    }
    // An acknowledged finding stays listed but no longer fails the report.
    let failing = report
        .findings
        .iter()
        .filter(|f| f.is_open() && f.severity >= args.fail_on)
        .count();
    if args.html.as_deref().is_some_and(crate::input::is_stream) {
        // Standard output holds the page alone.
    } else if args.json {
        crate::output::raw(to_json(&report, kc.now(), failing == 0).as_bytes())?;
    } else {
        crate::output::out(&super::render::table(&report))?;
    }
    if failing > 0 {
        crate::output::err(&format!(
            "{} at or above {} (--fail-on).\n",
            crate::output::count(failing, "finding", "findings"),
            args.fail_on
        ))?;
        Ok(crate::outcome::Outcome::Findings)
    } else {
        Ok(crate::outcome::Outcome::Success)
    }
}
