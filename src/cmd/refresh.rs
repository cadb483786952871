//! `keychain refresh --all --idle-days N`: for cron, so that a refresh token's 30-day idle
//! expiry never strikes. Every account whose refresh token has been idle N days or more is
//! refreshed through `login::obtain` with the cache refused, which takes the account's lock,
//! re-reads the record, writes the rotated token back first and records the outcome in the audit
//! log, exactly as `keychain login` does. Exit 5 when any refresh failed.
//!
//! The idle decision is made on an authenticated read before `obtain` takes the lock (it takes
//! the lock itself; `src/login.rs` is unchanged). If another process refreshes in between, the
//! account is refreshed once more than needed: harmless, because the refresh itself runs under
//! the lock on the re-read record, so the chain is never broken.

use clap::Args;

use std::fmt::Write as _;

use crate::error::{Error, Result, exit};
use crate::keychain::Keychain;
use crate::login::{Options, Source};
use crate::record::SecretField;

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

const DAY: i64 = 86_400;

pub fn run(ctx: &super::Ctx, kc: &Keychain, args: RefreshArgs) -> Result<crate::outcome::Outcome> {
    let json = ctx.json();
    // Every record is opened: one pass over the log for the replay checks, not one per account.
    kc.load_counters()?;
    let names = if args.all {
        super::account_names(kc)?
    } else {
        args.names.clone()
    };
    let min_idle = i64::from(args.idle_days) * DAY;
    let opts = Options {
        // Never serve a cached token: the point is to use the refresh token.
        min_valid: i64::MAX,
        debug_pages: None,
        progress: false,
        retry: false,
    };
    let mut report = String::new();
    let mut rows = Vec::new();
    let mut failed = 0;
    for name in &names {
        let line = match decide(kc, name, min_idle) {
            Err(e) => {
                failed += 1;
                format!("failed     {name}  {}", e.with_causes())
            }
            Ok(Some(skip)) => skip,
            Ok(None) => match crate::hook::obtain(kc, name, &opts, args.on_failure.as_deref()) {
                Ok(token) => match token.source {
                    Source::Refresh => format!("refreshed  {name}"),
                    Source::Headless => format!(
                        "refreshed  {name}  (the refresh token was rejected; logged on again)"
                    ),
                    // Exact serves the last token within 570 s of issuing it: used just now.
                    Source::Cache => format!("skipped    {name}  (a token was issued minutes ago)"),
                },
                Err(e) => {
                    failed += 1;
                    format!(
                        "failed     {name}  exit {}: {}",
                        e.exit_code(),
                        e.with_causes()
                    )
                }
            },
        };
        rows.push(row_json(name, &line));
        // One row per account, whatever an error text holds.
        let _ = writeln!(report, "{}", crate::output::escape_value(&line));
    }
    // The refreshes are saved: the status says how they went, whatever happens to the report.
    crate::output::after_save(if json {
        crate::output::raw(
            crate::json::document(serde_json::json!({
                "idle_days": args.idle_days,
                "accounts": rows,
            }))
            .as_bytes(),
        )
    } else {
        crate::output::out(&report)
    });
    crate::output::after_save(crate::output::err(&format!(
        "{} checked, {failed} failed (refresh tokens idle {} or more are refreshed).\n",
        crate::output::count(names.len(), "account", "accounts"),
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

/// `Some(line)` when the account is to be left alone, `None` when it needs a refresh.
fn decide(kc: &Keychain, name: &str, min_idle: i64) -> Result<Option<String>> {
    let (account, _) = kc.read(name)?;
    let h = &account.header;
    if account.secret(SecretField::RefreshToken).is_none() {
        return Ok(Some(format!(
            "no-token   {name}  (no refresh token stored)"
        )));
    }
    let active = h
        .refresh_token_active
        .or_else(|| h.secrets.get(&SecretField::RefreshToken).map(|i| i.changed))
        .ok_or_else(|| Error::usage("the refresh token has no date"))?;
    let idle = kc.now().saturating_sub(active).max(0);
    if idle < min_idle {
        return Ok(Some(format!(
            "skipped    {name}  (idle {}, not idle enough)",
            crate::output::count((idle / DAY) as usize, "day", "days")
        )));
    }
    Ok(None)
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
