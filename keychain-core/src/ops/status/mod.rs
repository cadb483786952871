//! `keychain status`: will tonight's job work? For cron, monitoring (Nagios, Icinga) and a person
//! at a terminal.
//!
//! It says whether the key store answers (without ever prompting), whether and until when the
//! keychain is unlocked, whether the audit log takes events (a login refuses to hand out a token
//! it cannot record), whether a shared store answers (and whether this machine's token there
//! is set up as `docs/shared-keychain.md` says), and per account what a logon would need
//! and lacks (its provider's settings, a password, a redirect URI, a TOTP secret the provider
//! asks for), the last result, the lockout guard, the provider's error budget, the refresh
//! token's days left where the provider has an idle rule, and an interrupted rename. Each problem
//! is a finding (`ops::finding`, the one shape and severity scale); its severity gives the state
//! monitoring plugins know (info: ok; low, medium, high: warning; unknown; critical), and the
//! exit status is the worst open one: 0 ok, 1 warning, 2 critical, 3 unknown (the check itself
//! could not be made). A finding acknowledged with `audit ack` stays listed but no longer counts. It reads public
//! headers only and changes nothing; checking the audit log takes its lock for a moment (on a
//! shared keychain, OpenBao's lease), as a login does.
#![deny(missing_docs)]

use std::path::Path;

use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::keystore::KeyStoreKind;
use crate::record::Header;

use super::finding::{Acks, Finding, Severity};

mod accounts;
mod keychain;
mod openbao;

pub use accounts::refresh_days_left;

/// Which accounts to check.
#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    /// Names, or shell-style patterns (*, ?, [abc]); every account when empty. A name that does
    /// not exist, or a pattern that matches none, is an error (exit 3 from the front end).
    pub names: Vec<String>,
}

/// A state in the monitoring plugins' words; ordered so that the worst is the greatest (a
/// critical finding outweighs a check that could not be made).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// Nothing found that would stop a job.
    Ok,
    /// The job will fail soon, or needs a person.
    Warning,
    /// It cannot be told from here now.
    Unknown,
    /// The job fails.
    Critical,
}

impl State {
    /// The state a finding of `severity` puts its account (or the keychain) in: `high` and
    /// below are warnings, as `status` reports them.
    pub fn of(severity: Severity) -> State {
        match severity {
            Severity::Info => State::Ok,
            Severity::Low | Severity::Medium | Severity::High => State::Warning,
            Severity::Unknown => State::Unknown,
            Severity::Critical => State::Critical,
        }
    }

    /// The name `status` shows and its JSON carries.
    pub fn name(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Warning => "warning",
            State::Unknown => "unknown",
            State::Critical => "critical",
        }
    }
}

/// What the key store said when asked.
#[derive(Debug)]
pub struct KeyStoreState {
    /// The configured key store.
    pub kind: KeyStoreKind,
    /// `None`: not asked, because it would need a passphrase prompt.
    pub answers: Option<bool>,
    /// Why it did not answer.
    pub error: Option<String>,
}

/// What `status` found: the keychain's state, the accounts checked and every finding, in the
/// order found.
#[derive(Debug)]
pub struct Status {
    /// When the check was made (Unix seconds, the keychain's clock).
    pub checked: i64,
    /// What the key store said.
    pub key_store: KeyStoreState,
    /// Whether the store of records answered (a shared one may not).
    pub store_reachable: bool,
    /// When the `unlock` cache ends: `Some(None)` unlocked with an unknown end (an older
    /// cache), `None` not unlocked.
    pub unlocked_until: Option<Option<i64>>,
    /// The public header of each account checked.
    pub accounts: Vec<Header>,
    /// Every finding, in the order found.
    pub findings: Vec<Finding>,
}

impl Status {
    /// The worst state of the open findings (an acknowledged one no longer counts): the exit
    /// status.
    pub fn worst(&self) -> State {
        self.findings
            .iter()
            .filter(|f| f.is_open())
            .map(|f| State::of(f.severity))
            .max()
            .unwrap_or(State::Ok)
    }

    /// The worst state among an account's open findings.
    pub fn account_state(&self, name: &str) -> State {
        self.findings
            .iter()
            .filter(|f| f.is_open() && f.is_about(name))
            .map(|f| State::of(f.severity))
            .max()
            .unwrap_or(State::Ok)
    }
}

/// Checks whether tonight's job would work: the key store, the unlock, the store of records,
/// the audit log and each account chosen by `opts`. Reads public headers only and changes
/// nothing. `on_stray` hears of each entry of the accounts folder that is named like a record
/// but is not one (before a selection error, as the listing finds them).
pub fn check(
    kc: &Keychain,
    opts: &StatusOptions,
    on_stray: &mut dyn FnMut(&Path),
) -> Result<Status> {
    let now = kc.now();
    let mut findings = Vec::new();
    let key_store = keychain::ask_key_store(kc);
    let unlocked_until = keychain::unlocked_until(kc);
    keychain::keychain_findings(&key_store, unlocked_until, now, &mut findings);

    let mut store_reachable = true;
    let names = match kc.store().listing() {
        Ok(listing) => {
            listing.strays.iter().for_each(|s| on_stray(s));
            select(listing.names, &opts.names)?
        }
        Err(e) => match Error::from(e) {
            e if is_unreachable(&e) => {
                store_reachable = false;
                findings.push(Finding::new(
                    Severity::Unknown,
                    "store-unreachable",
                    None,
                    format!(
                        "{e}; jobs get only tokens still valid in this machine's copy until it answers again"
                    ),
                ));
                Vec::new()
            }
            e => return Err(e),
        },
    };
    if store_reachable {
        keychain::audit_log_findings(kc, &mut findings);
        openbao::token_findings(kc, &mut findings);
    }

    let mut accounts = Vec::new();
    for name in names {
        match kc.peek(&name) {
            Ok(header) => {
                // Read after the store answered: a shared keychain's offset to it is known.
                let records = kc.records_clock();
                accounts::account_findings(&header, &records, &mut findings);
                // Shown on this machine's clock, as `now` (the front end's days left).
                accounts.push(accounts::on_our_clock(&header, &records));
            }
            Err(e) if is_unreachable(&e) => findings.push(Finding::new(
                Severity::Unknown,
                "store-unreachable",
                Some(&name),
                e.to_string(),
            )),
            Err(e) => findings.push(Finding::new(
                Severity::Critical,
                "record-unreadable",
                Some(&name),
                e.to_string(),
            )),
        }
    }
    acks(kc).apply(&mut findings);
    Ok(Status {
        checked: now,
        key_store,
        store_reachable,
        unlocked_until,
        accounts,
        findings,
    })
}

/// The acknowledgements in the audit log, read without the key and without asking a shared
/// store (this machine's copy of a shared trail): none when the log cannot be read, which is
/// its own finding (`audit-log`).
fn acks(kc: &Keychain) -> Acks {
    let lines = if kc.trail_in_store() {
        crate::audit::lines::read_files(vec![kc.dir.join(crate::audit::COPY_FILE)])
            .map_err(Error::from)
    } else {
        kc.audit_lines()
    };
    lines.map(|l| Acks::from_lines(&l)).unwrap_or_default()
}

/// The shared store could not be asked (down, unreachable, sealed): a finding, not a failure.
fn is_unreachable(e: &Error) -> bool {
    matches!(e, Error::Store(crate::store::StoreError::Bao(b)) if b.is_unavailable())
}

/// The accounts `wanted` names (all without any): a name must exist; a pattern must match one.
fn select(all: Vec<String>, wanted: &[String]) -> Result<Vec<String>> {
    if wanted.is_empty() {
        return Ok(all);
    }
    let mut chosen: Vec<String> = Vec::new();
    for item in wanted {
        let matched: Vec<&String> = if item.contains(['*', '?', '[']) {
            let pattern = glob::Pattern::new(item)
                .map_err(|e| Error::usage(format!("'{item}' is not a valid pattern: {}", e.msg)))?;
            all.iter().filter(|n| pattern.matches(n)).collect()
        } else {
            crate::store::validate_name(item)?;
            all.iter().filter(|n| *n == item).collect()
        };
        if matched.is_empty() {
            return Err(if item.contains(['*', '?', '[']) {
                Error::usage_hint(
                    format!("no account matches '{item}'"),
                    "'keychain list' shows every account",
                )
            } else {
                Error::NotFound(item.clone())
            });
        }
        for name in matched {
            if !chosen.contains(name) {
                chosen.push(name.clone());
            }
        }
    }
    Ok(chosen)
}
