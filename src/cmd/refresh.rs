//! `keychain refresh --all --idle-days N`: for cron, so that a refresh token's 30-day idle
//! expiry never strikes. Every account whose refresh token has been idle N days or more is
//! refreshed through `ops::login::obtain` with the cache refused, which takes the account's lock,
//! re-reads the record, writes the rotated token back first and records the outcome in the audit
//! log, exactly as `keychain login` does. Exit 5 when any refresh failed.
//!
//! The decision and the refreshes are the core's (`ops::refresh`); this file renders one line
//! per account.

use clap::Args;

use std::fmt::Write as _;

use crate::error::Result;
use crate::exit;
use crate::keychain::Keychain;
use crate::ops::refresh::{RefreshOptions, Refreshed};

use super::shared_args::account_names;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["all", "names"])))]
pub struct RefreshArgs {
    /// Every account with a refresh token
    #[arg(long)]
    pub all: bool,
    /// These accounts only
    #[arg(value_name = "NAME", add = account_names())]
    pub names: Vec<String>,
    /// Refresh only tokens idle (neither issued nor used) for DAYS days or more
    #[arg(long, value_name = "DAYS", default_value_t = 20)]
    pub idle_days: u32,
    /// Run CMD once per incident when an account needs a person (see login --on-failure)
    #[arg(
        long,
        value_name = "CMD",
        env = "KEYCHAIN_ON_FAILURE",
        hide_env_values = true
    )]
    pub on_failure: Option<std::ffi::OsString>,
}

pub fn run(ctx: &super::Ctx, kc: &Keychain, args: RefreshArgs) -> Result<crate::outcome::Outcome> {
    let json = ctx.json();
    let opts = RefreshOptions {
        all: args.all,
        names: args.names.clone(),
        idle_days: args.idle_days,
        on_failure: args.on_failure.clone(),
    };
    let done = crate::ops::refresh::refresh(kc, &opts, &mut |stray| super::warn_stray(stray))?;
    let mut report = String::new();
    let mut rows = Vec::new();
    let failed = done.iter().filter(|row| row.outcome.failed()).count();
    for row in &done {
        let line = line(&row.name, &row.outcome);
        rows.push(row_json(&row.name, &line));
        // One row per account, whatever an error text holds.
        let _ = writeln!(report, "{}", crate::output::escape_value(&line));
    }
    // The refreshes are saved: the status says how they went, whatever happens to the report.
    crate::output::after_save(if json {
        crate::output::raw(
            crate::json::document(serde_json::json!({
                "ok": failed == 0,
                "idle_days": args.idle_days,
                "accounts": rows,
                "findings": crate::ops::refresh::findings(&done),
            }))
            .as_bytes(),
        )
    } else {
        crate::output::out(&report)
    });
    crate::output::after_save(crate::output::err(&format!(
        "{} checked, {failed} failed (refresh tokens idle {} or more are refreshed).\n",
        crate::output::count(done.len(), "account", "accounts"),
        crate::output::count(args.idle_days as usize, "day", "days")
    )));
    Ok(if failed > 0 {
        crate::outcome::Outcome::Failed(exit::UNAVAILABLE)
    } else {
        crate::outcome::Outcome::Success
    })
}

/// A report line (`RESULT  NAME  DETAIL`) as `{"name", "result", "detail"}`.
fn row_json(name: &str, line: &str) -> serde_json::Value {
    let result = line.split_whitespace().next().unwrap_or_default();
    // The name is the second column: searched for anywhere, a short name ("a") would be found
    // inside the result word ("failed") and the detail cut in the wrong place.
    let detail = line
        .strip_prefix(result)
        .map(str::trim_start)
        .and_then(|rest| rest.strip_prefix(name))
        .map(|rest| rest.trim().trim_start_matches('(').trim_end_matches(')'))
        .filter(|d| !d.is_empty());
    serde_json::json!({ "name": name, "result": result, "detail": detail })
}

/// The report line of one account: `RESULT  NAME  (DETAIL)`, the result padded to one column.
fn line(name: &str, outcome: &Refreshed) -> String {
    match outcome {
        Refreshed::Refreshed => format!("refreshed  {name}"),
        Refreshed::LoggedOnAgain => {
            format!("refreshed  {name}  (the refresh token was rejected; logged on again)")
        }
        // Exact serves the last token within 570 s of issuing it: used just now.
        Refreshed::RecentlyIssued => format!("skipped    {name}  (a token was issued minutes ago)"),
        Refreshed::NoToken => format!("no-token   {name}  (no refresh token stored)"),
        Refreshed::NotIdle { idle_days } => format!(
            "skipped    {name}  (idle {}, not idle enough)",
            crate::output::count(*idle_days as usize, "day", "days")
        ),
        Refreshed::Unchecked(e) => format!("failed     {name}  {}", e.with_causes()),
        Refreshed::Failed(e) => format!(
            "failed     {name}  exit {}: {}",
            e.exit_code(),
            e.with_causes()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (review): `split_once(name)` found the name "a" inside "failed".
    #[test]
    fn a_row_is_split_at_its_columns_whatever_the_name() {
        let row = row_json("a", "failed     a  exit 5: the provider is unavailable");
        assert_eq!(row["result"], "failed");
        assert_eq!(row["detail"], "exit 5: the provider is unavailable");
        let row = row_json("e", "refreshed  e");
        assert_eq!(row["result"], "refreshed");
        assert!(row["detail"].is_null());
        let row = row_json(
            "skipped",
            "skipped    skipped  (idle 3 days, not idle enough)",
        );
        assert_eq!(row["detail"], "idle 3 days, not idle enough");
    }
}
