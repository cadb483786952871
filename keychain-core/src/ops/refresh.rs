//! `keychain refresh`: for cron, so that a refresh token's idle expiry (Exact's 30 days) never
//! strikes. Every chosen account whose refresh token has been idle long enough is refreshed
//! through [`super::login::obtain`] with the cache refused, which takes the account's lock,
//! re-reads the record, writes the rotated token back first and records the outcome in the audit
//! log, exactly as `keychain login` does.
//!
//! The idle decision is made on an authenticated read before `obtain` takes the lock (it takes
//! the lock itself; the login engine is unchanged). If another process refreshes in between, the
//! account is refreshed once more than needed: harmless, because the refresh itself runs under
//! the lock on the re-read record, so the chain is never broken.
#![deny(missing_docs)]

use std::ffi::OsString;
use std::path::Path;

use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::record::SecretField;

use super::login::{Options, Source};

const DAY: i64 = 86_400;

/// Which accounts to refresh, and when a refresh token counts as idle.
#[derive(Debug, Clone)]
pub struct RefreshOptions {
    /// Every account (`names` is then not looked at).
    pub all: bool,
    /// The accounts by name.
    pub names: Vec<String>,
    /// Refresh only tokens idle (neither issued nor used) for this many days or more.
    pub idle_days: u32,
    /// The on-failure hook (`crate::hook`), run once per incident when an account needs a
    /// person.
    pub on_failure: Option<OsString>,
}

/// What became of one account.
#[derive(Debug)]
pub enum Refreshed {
    /// The refresh token was used and its successor stored.
    Refreshed,
    /// The refresh token was rejected; a headless logon got new tokens.
    LoggedOnAgain,
    /// A token was issued minutes ago (Exact serves the last token within 570 s of issuing it):
    /// nothing was done.
    RecentlyIssued,
    /// No refresh token is stored.
    NoToken,
    /// The refresh token has been idle this many whole days, fewer than asked for.
    NotIdle {
        /// Whole days idle.
        idle_days: i64,
    },
    /// The record could not be read, or its refresh token has no date; nothing was sent.
    Unchecked(Error),
    /// The refresh (or the logon after it) failed.
    Failed(Error),
}

impl Refreshed {
    /// Whether this counts as a failure (the command exits 5 when any does).
    pub fn failed(&self) -> bool {
        matches!(self, Refreshed::Unchecked(_) | Refreshed::Failed(_))
    }
}

/// One account's outcome, in the order the accounts were named (or listed).
#[derive(Debug)]
pub struct Row {
    /// The account.
    pub name: String,
    /// What became of it.
    pub outcome: Refreshed,
}

/// The findings of a run: one `refresh-failed` (high) per account that could not be checked or
/// refreshed, in the one shape `status` and the report use. They are this run's: the account's
/// standing finding is `status`'s `last-login-failed` (which `audit ack` acknowledges); a failed
/// refresh still makes the command fail.
pub fn findings(rows: &[Row]) -> Vec<super::finding::Finding> {
    use super::finding::{Finding, Severity};
    rows.iter()
        .filter_map(|row| {
            let message = match &row.outcome {
                Refreshed::Unchecked(e) => format!("not checked: {}", e.with_causes()),
                Refreshed::Failed(e) => format!(
                    "the refresh failed (exit {}): {}",
                    e.exit_code(),
                    e.with_causes()
                ),
                _ => return None,
            };
            Some(Finding::new(
                Severity::High,
                "refresh-failed",
                Some(&row.name),
                message,
            ))
        })
        .collect()
}

/// Refreshes each account of `opts` whose refresh token is idle long enough; one row per
/// account, whatever happened to the others. `on_stray` hears of each entry of the accounts
/// folder that is named like a record but is not one (with `all`).
pub fn refresh(
    kc: &Keychain,
    opts: &RefreshOptions,
    on_stray: &mut dyn FnMut(&Path),
) -> Result<Vec<Row>> {
    // Every record is opened: one pass over the log for the replay checks, not one per account.
    kc.load_counters()?;
    let names = if opts.all {
        let listing = kc.store().listing()?;
        listing.strays.iter().for_each(|s| on_stray(s));
        listing.names
    } else {
        opts.names.clone()
    };
    let min_idle = i64::from(opts.idle_days) * DAY;
    let login = Options {
        // Never serve a cached token: the point is to use the refresh token.
        min_valid: super::login::min_valid::REFUSE_CACHE,
        debug_pages: None,
        progress: false,
        retry: false,
    };
    let mut rows = Vec::with_capacity(names.len());
    for name in names {
        let outcome = match decide(kc, &name, min_idle) {
            Err(e) => Refreshed::Unchecked(e),
            Ok(Some(skip)) => skip,
            Ok(None) => {
                match super::login::obtain_with_hook(kc, &name, &login, opts.on_failure.as_deref())
                {
                    Ok(token) => match token.source {
                        Source::Refresh => Refreshed::Refreshed,
                        Source::Headless => Refreshed::LoggedOnAgain,
                        Source::Cache => Refreshed::RecentlyIssued,
                    },
                    Err(e) => Refreshed::Failed(e),
                }
            }
        };
        rows.push(Row { name, outcome });
    }
    Ok(rows)
}

/// `Some(outcome)` when the account is to be left alone, `None` when it needs a refresh.
fn decide(kc: &Keychain, name: &str, min_idle: i64) -> Result<Option<Refreshed>> {
    let (account, _) = kc.read(name)?;
    let h = &account.header;
    if account.secret(SecretField::RefreshToken).is_none() {
        return Ok(Some(Refreshed::NoToken));
    }
    let active = h
        .refresh_token_active
        .or_else(|| h.secrets.get(&SecretField::RefreshToken).map(|i| i.changed))
        .ok_or_else(|| Error::usage("the refresh token has no date"))?;
    // A shared record's last use is on the store's clock: on ours, never counted short (issue 19).
    let active = h
        .refresh_token_active
        .map_or(active, |t| kc.records_clock().to_local(t));
    let idle = kc.now().saturating_sub(active).max(0);
    if idle < min_idle {
        return Ok(Some(Refreshed::NotIdle {
            idle_days: idle / DAY,
        }));
    }
    Ok(None)
}
