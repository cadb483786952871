//! `keychain audit ack FINDING-ID`: an officer has looked at an anomaly finding; reports stop
//! listing it. The acknowledgement is a line of the audit log (action `ack`, detail the ID,
//! with who, where and when), so it is as tamper-evident as what it silences and needs no file
//! of its own. Only an ID that an open finding has is accepted, so a typo silences nothing.

use clap::Args;

use crate::activity::{self, Thresholds, anomaly};
use crate::audit::{Action, Event};
use crate::error::{Error, Result};
use crate::keychain::Keychain;

use crate::audit::Line;

#[derive(Debug, Args)]
pub struct AckArgs {
    /// The finding's ID as the report lists it, e.g. new-origin-3f2a9c1b0e
    #[arg(value_name = "FINDING-ID")]
    pub id: String,
}

pub fn run(kc: &Keychain, args: AckArgs) -> Result<crate::outcome::Outcome> {
    let id = args.id.trim();
    if !anomaly::looks_like_id(id) {
        return Err(Error::usage_hint(
            format!("'{}' is not a FINDING-ID", crate::output::escape_value(id)),
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
        crate::output::err(&format!(
            "{id} was acknowledged already; nothing recorded.\n"
        ))?;
        return Ok(crate::outcome::Outcome::Success);
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
    kc.record(Event::new("audit ack", Action::Ack(id.to_string())).account(&finding.account))?;
    crate::output::after_save(crate::output::err(&format!(
        "Acknowledged {id} ({} of {}); reports no longer list it. Recorded in the audit log.\n",
        finding.code, finding.account
    )));
    Ok(crate::outcome::Outcome::Success)
}
