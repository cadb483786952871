//! `audit ack FINDING-ID`: an officer has looked at an anomaly finding; reports stop listing
//! it. The acknowledgement is a line of the audit log (action `ack`, detail the ID, with who,
//! where and when), so it is as tamper-evident as what it silences and needs no file of its
//! own. Only an ID that an open finding has is accepted, so a typo silences nothing.

use crate::activity::{self, Thresholds, anomaly};
use crate::audit::{Action, Event, Line};
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::text::escape_value;

/// The finding to acknowledge.
#[derive(Debug, Clone)]
pub struct AckOptions {
    /// The finding's ID as the report lists it (surrounding blanks are ignored).
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
        /// The finding's code (`new-origin`, ...).
        code: &'static str,
        /// The account the finding is about.
        account: String,
    },
}

/// Acknowledges the open anomaly finding `options.id`.
pub fn ack(kc: &Keychain, options: &AckOptions) -> Result<Acked> {
    let id = options.id.trim();
    if !anomaly::looks_like_id(id) {
        return Err(Error::usage_hint(
            format!("'{}' is not a FINDING-ID", escape_value(id)),
            format!(
                "a FINDING-ID is one of {} followed by '-' and 10 hex digits, as 'keychain audit' lists it",
                anomaly::CODES.join(", ")
            ),
        ));
    }
    let lines = kc.audit_lines()?;
    if lines
        .iter()
        .any(|l| l.action == "ack" && l.outcome == "ok" && l.detail.as_deref() == Some(id))
    {
        return Ok(Acked::Already { id: id.to_string() });
    }
    // Every open anomaly of the whole trail, not only of the report's window.
    let now = kc.now();
    let all_days = u32::try_from((now / activity::DAY).max(1)).unwrap_or(u32::MAX);
    let analysis = activity::analyse(
        lines.iter().filter_map(Line::trail_event),
        now,
        all_days,
        &Thresholds::default(),
    );
    let Some(finding) = analysis.anomalies.into_iter().find(|a| a.id == id) else {
        return Err(Error::usage_hint(
            format!("no open anomaly finding has the ID {id}"),
            "run 'keychain audit' to list the findings and their IDs",
        ));
    };
    kc.log_event(Event::new("audit ack", Action::Ack(id.to_string())).account(&finding.account))?;
    Ok(Acked::Recorded {
        id: id.to_string(),
        code: finding.code,
        account: finding.account,
    })
}
