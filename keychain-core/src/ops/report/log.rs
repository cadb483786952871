//! The audit log's integrity (with the key, or its hash chain alone without it) and records
//! older than the log says: copies put back.

use crate::audit::VerifyReport;
use crate::error::Result;
use crate::keychain::Keychain;
use crate::record::Header;

use super::model::LogStatus;
use super::{Finding, Severity};

/// Records older than the last write the log recorded for them: copies put back. Compared on
/// the public headers, so this works without the key (opening the record, with the key, refuses
/// it too).
pub(super) fn replay_findings(
    kc: &Keychain,
    headers: &[Header],
    out: &mut Vec<Finding>,
) -> Result<()> {
    for h in headers {
        if let Some(logged) = kc.logged_counter(&h.name)?
            && h.writes < logged
        {
            out.push(Finding::new(
                Severity::Critical,
                "record-replayed",
                Some(&h.name),
                format!(
                    "the record is an older copy put back: its write counter is {}, the audit log recorded write {logged}; it may hold an old password, refresh token or TOTP step",
                    h.writes
                ),
            ));
        }
    }
    Ok(())
}

/// Without the key: the log's hash chain, order and anchor (no MACs), which need no key.
pub(super) fn chain_status(kc: &Keychain, out: &mut Vec<Finding>) -> Result<LogStatus> {
    if kc.trail_in_store()
        && let Some(kv) = kc.shared_kv()
    {
        // The shared trail, read from the store: order, hash chain and the events this
        // machine saw; its MACs need the group key, which only the identity opens.
        let report = crate::audit::KeylessTrail::new(kv.clone(), &kc.dir, kc.clock().clone())
            .verify()
            .map_err(crate::error::Error::from)?;
        let mut status = status_of(
            report,
            "without the key: the shared trail's order, hash chain and the events this machine saw, no MACs",
            out,
        );
        if status.status == "intact" {
            status.status = "chain-intact";
        }
        return Ok(status);
    }
    let log = crate::audit::log_of(&kc.dir, kc.clock());
    let report = log.verify_chain().map_err(crate::error::Error::from)?;
    let mut status = status_of(report, "without the key: hash chain and anchor only", out);
    if status.status == "intact" {
        status.status = "chain-intact";
    }
    Ok(status)
}

pub(super) fn log_status(kc: &Keychain, out: &mut Vec<Finding>) -> Result<LogStatus> {
    let key = crate::audit::audit_key(kc.identity()?);
    let report = match kc
        .trail()
        .and_then(|t| t.verify(&key).map_err(crate::error::Error::from))
    {
        Ok(report) => report,
        Err(e) => {
            out.push(Finding::new(
                Severity::Critical,
                "audit-log-damaged",
                None,
                format!("the audit log cannot be verified: {e}"),
            ));
            return Ok(LogStatus {
                status: "damaged",
                lines: 0,
                files: 0,
                problems: vec![e.to_string()],
            });
        }
    };
    Ok(status_of(report, "with the key", out))
}

pub(super) fn status_of(report: VerifyReport, how: &str, out: &mut Vec<Finding>) -> LogStatus {
    let problems: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
    if !report.is_ok() {
        out.push(Finding::new(
            Severity::Critical,
            "audit-log-damaged",
            None,
            format!(
                "the audit log fails verification {how} ({}, first: {}); run 'keychain audit verify'",
                crate::text::count(problems.len(), "problem", "problems"),
                problems[0]
            ),
        ));
    }
    LogStatus {
        status: if report.is_ok() { "intact" } else { "damaged" },
        lines: report.lines,
        files: report.files,
        problems,
    }
}
