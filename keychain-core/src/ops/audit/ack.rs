//! `audit ack FINDING-ID`: a person has looked at a finding (any finding of `status` or the
//! audit report: an anomaly, or a standing one such as a password two accounts legitimately
//! share); it stays listed, marked acknowledged, and no longer counts towards an exit status.
//! The acknowledgement is a line of the audit log (action `ack`, detail the ID, with who, where
//! and when), so it is as tamper-evident as what it silences and needs no file of its own. Only
//! an ID that a current finding has is accepted, so a typo silences nothing.

use crate::audit::{Action, Event};
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::ops::finding::{Acks, Finding, looks_like_id};
use crate::text::escape_value;

/// The finding to acknowledge.
#[derive(Debug, Clone)]
pub struct AckOptions {
    /// The finding's ID as `status` or the report lists it (surrounding blanks are ignored).
    pub id: String,
}

/// What `ack` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acked {
    /// The ID was acknowledged already; nothing was recorded.
    Already {
        /// The ID, trimmed.
        id: String,
    },
    /// The acknowledgement is recorded in the audit log.
    Recorded {
        /// The ID, trimmed.
        id: String,
        /// The finding's code (`new-origin`, `duplicate-password`, ...).
        code: &'static str,
        /// The accounts the finding is about (none for the keychain as a whole).
        accounts: Vec<String>,
    },
}

/// Acknowledges the current finding `options.id`.
pub fn ack(kc: &Keychain, options: &AckOptions) -> Result<Acked> {
    let id = options.id.trim();
    if !looks_like_id(id) {
        return Err(Error::usage_hint(
            format!("'{}' is not a FINDING-ID", escape_value(id)),
            "a FINDING-ID is a finding's code, '-' and 10 hex digits (e.g. duplicate-password-3f2a9c1b0e), as 'keychain audit' and 'keychain status' list it",
        ));
    }
    if Acks::from_lines(&kc.audit_lines()?).get(id).is_some() {
        return Ok(Acked::Already { id: id.to_string() });
    }
    let Some(finding) = current_findings(kc)?.into_iter().find(|f| f.id == id) else {
        return Err(Error::usage_hint(
            format!("no current finding has the ID {id}"),
            "run 'keychain audit' or 'keychain status' to list the findings and their IDs",
        ));
    };
    let mut event = Event::new("audit ack", Action::Ack(id.to_string()));
    if let Some(first) = finding.accounts.first() {
        event = event.account(first);
    }
    kc.log_event(event)?;
    Ok(Acked::Recorded {
        id: id.to_string(),
        code: finding.code,
        accounts: finding.accounts,
    })
}

/// Every finding `status` and the report could list now: the report over the whole trail (every
/// anomaly, not only the window's) and with a password age limit of 0 days (so a `password-old`
/// finding of any `--max-password-age` is there), and `status`'s.
fn current_findings(kc: &Keychain) -> Result<Vec<Finding>> {
    let now = kc.now();
    let all_days = u32::try_from((now / crate::activity::DAY).max(1)).unwrap_or(u32::MAX);
    let report = crate::ops::report::build(
        kc,
        &crate::ops::report::ReportOptions {
            max_password_age: 0,
            no_key: false,
            days: all_days,
        },
    )?;
    let status = crate::ops::status::check(
        kc,
        &crate::ops::status::StatusOptions::default(),
        &mut |_| {},
    )?;
    Ok(report.findings.into_iter().chain(status.findings).collect())
}
