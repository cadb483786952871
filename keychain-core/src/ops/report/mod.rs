//! The audit report's rules: per account what is stored, how old it is, when and by whom it was
//! used; then findings with a severity and the policy they apply (a password older than the
//! allowed age, a refresh token near its idle expiry, duplicate secrets, a damaged log, ...).
//! The command (`keychain audit report`) renders the typed [`Report`] as text, JSON or HTML and
//! decides the exit status; nothing here prints.
//!
//! What needs the key and what does not: provider, user, which secrets exist and their ages come
//! from the public headers (`Keychain::peek`); use, headless logons and broken chains from the
//! audit log's lines (they hold no secrets). Duplicate secrets are found by comparing HMAC
//! fingerprints of the opened records (never values), and the log's integrity by `verify`: both
//! need the key. Without it (`no_key`, or a key store that does not answer) the report still
//! runs and says, as a low finding, which checks were skipped.
//!
//! Anomaly findings (new origin, off-hours logon, bursts of failures or broken chains, first
//! reveal) come from `crate::activity`, fed with the log's lines; so do the timelines that the
//! HTML report draws. They need no key either.
#![deny(missing_docs)]

use std::collections::HashMap;

use crate::activity::{self, Thresholds};
use crate::audit::lines::Line;
use crate::clock;
use crate::error::Result;
use crate::keychain::Keychain;

use super::finding::{Acks, Finding, Severity};

mod accounts;
mod duplicates;
mod log;
mod model;
mod rows;
mod setup;

use accounts::account_findings;
use duplicates::duplicate_findings;
use log::{chain_status, log_status, replay_findings};
use rows::{recipients, row};
use setup::{config_status, member_findings, permission_findings, store_findings};

pub use model::{AccountRow, LogStatus, RecipientRow, RefreshInfo, Report, Use};

/// The policy a report applies, as the caller chose it.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// A password older than this many days is a finding.
    pub max_password_age: u32,
    /// Do not ask the key store for the key: duplicate secrets and the log's integrity are then
    /// not checked.
    pub no_key: bool,
    /// Days of activity the timelines cover, ending now; older anomaly findings are not listed.
    pub days: u32,
}

const DAY: i64 = 86_400;
/// Exact Online's (and keychain's assumed) idle expiry of a refresh token: one number, kept with
/// the provider that sets it.
pub use crate::providers::exact::REFRESH_IDLE_DAYS;
/// A refresh token idle longer than this is a finding: a few days remain to use it.
pub const REFRESH_WARN_DAYS: i64 = 25;

/// Builds the report of this keychain: its accounts from the public headers, their use from the
/// audit log, and every finding, sorted worst first. Never prints; a stray file is a finding and
/// is listed in [`Report::strays`] for the front end to warn about.
pub fn build(kc: &Keychain, args: &ReportOptions) -> Result<Report> {
    // The permission walk (one stat per file: 20,000 on 10,000 accounts with their lock files)
    // needs nothing else of the report: it runs beside the serial steps (the log, the listing)
    // instead of after them, and its findings go in at the same place as before.
    let dir = &kc.dir;
    std::thread::scope(|scope| {
        let permissions = scope.spawn(move || {
            let mut found = Vec::new();
            permission_findings(dir, &mut found);
            found
        });
        build_beside(kc, args, permissions)
    })
}

/// [`build`], with the permission walk running in `permissions`.
fn build_beside(
    kc: &Keychain,
    args: &ReportOptions,
    permissions: std::thread::ScopedJoinHandle<'_, Vec<Finding>>,
) -> Result<Report> {
    let now = kc.now();
    let mut findings = Vec::new();

    // The log's counters first, then the records (see `Keychain::read`). Without the key, a
    // shared trail cannot be brought up to date (each event fetched is checked under the group
    // key): the report reads this machine's copy as it is, and `chain_status` checks the trail
    // in the store without MACs.
    let keyless_shared = args.no_key && kc.load_counters_from_copy()?;
    if !keyless_shared {
        kc.load_counters()?;
    }
    // The public headers; a record that cannot be read is itself a finding.
    let mut headers = Vec::new();
    let listing = kc.store().listing()?;
    for stray in &listing.strays {
        findings.push(Finding::new(
            Severity::Critical,
            "record-unreadable",
            None,
            format!(
                "{} is named like a record but is not a regular file (a FIFO, a device or a folder): someone put it there; it was skipped",
                stray.display()
            ),
        ).about(&stray.display().to_string()));
    }
    for (name, header) in listing.names.iter().zip(kc.peek_many(&listing.names)) {
        match header {
            Ok(h) => headers.push(h),
            Err(e) => findings.push(Finding::new(
                Severity::Critical,
                "record-unreadable",
                Some(name),
                format!("the record cannot be read: {e}"),
            )),
        }
    }

    let lines = if keyless_shared {
        crate::audit::lines::read_files(vec![kc.dir.join(crate::audit::COPY_FILE)])?
    } else {
        kc.audit_lines()?
    };
    // Each account's lines, in log order, gathered in one pass (not one pass per account).
    let mut by_account: HashMap<&str, Vec<&Line>> = HashMap::new();
    for l in &lines {
        if let Some(account) = l.account.as_deref() {
            by_account.entry(account).or_default().push(l);
        }
    }
    let accounts: Vec<AccountRow> = headers
        .iter()
        .map(|h| {
            row(
                h,
                by_account.get(h.name.as_str()).map_or(&[], Vec::as_slice),
                now,
            )
        })
        .collect();
    for (h, a) in headers.iter().zip(&accounts) {
        account_findings(h, a, args, &mut findings);
    }
    // Acknowledgements apply to every finding below (`Acks`), anomalies included: the analysis
    // sees no `ack` line, so an acknowledged anomaly stays listed, marked.
    let activity = activity::analyse(
        lines
            .iter()
            .filter(|l| l.action != "ack")
            .filter_map(Line::trail_event),
        now,
        args.days,
        &Thresholds::default(),
    );
    findings.extend(activity.anomalies.into_iter().map(Finding::from));
    replay_findings(kc, &headers, &mut findings)?;

    member_findings(kc, &headers, &lines, &mut findings);
    store_findings(kc, &mut findings);
    findings.extend(
        permissions
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
    );

    // Checks that need the key.
    let identity = if args.no_key {
        Err("--no-key was given".to_string())
    } else {
        kc.identity().map(|_| ()).map_err(|e| e.to_string())
    };
    let key_used = identity.is_ok();
    let (audit_log, config) = match identity {
        Ok(()) => {
            duplicate_findings(kc, &headers, &mut findings)?;
            (
                log_status(kc, &mut findings)?,
                config_status(kc, &mut findings)?,
            )
        }
        Err(why) => {
            findings.push(Finding::new(
                Severity::Low,
                "checks-skipped",
                None,
                format!(
                    "the key was not used ({why}): duplicate passwords and TOTP secrets were not looked for, the audit log's MACs and the configuration's MAC were not checked ({})",
                    if kc.trail_in_store() {
                        "the shared trail's order and hash chain were, and that it still holds every event this machine saw"
                    } else {
                        "the log's hash chain and anchor were"
                    }
                ),
            ));
            (chain_status(kc, &mut findings)?, "not-checked")
        }
    };

    Acks::from_lines(&lines).apply(&mut findings);
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.accounts.cmp(&b.accounts))
            .then_with(|| a.code.cmp(b.code))
    });
    Ok(Report {
        generated: clock::rfc3339(now),
        keychain: kc.dir.clone(),
        key_store: kc.config.key_store,
        key_used,
        audit_log,
        recipients: recipients(kc),
        config,
        accounts,
        findings,
        strays: listing.strays.clone(),
        activity: activity.timelines,
    })
}
