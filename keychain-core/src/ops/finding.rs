//! What a check of the keychain found: one [`Finding`] type, on one [`Severity`] scale, for every
//! operation that reports findings (`status`: will tonight's job work?; the audit report, with
//! the anomalies of `crate::activity`; `refresh`: an account it could not refresh). A front end
//! renders them; the JSON shape is this type's serialization (issue 23):
//!
//! ```json
//! { "id": "duplicate-password-3f2a9c1b0e", "severity": "high", "code": "duplicate-password",
//!   "accounts": [{"name": "a"}, {"name": "b"}], "message": "...", "events": [],
//!   "acknowledged": null }
//! ```
//!
//! `accounts` is the accounts the finding is about (none for the keychain as a whole, several
//! for a secret stored twice), each an object with its `name`, as every other document lists
//! accounts. Every finding has a stable `id` (its code and 10 hex digits of a hash of what it is
//! about, never of its wording or of trail positions), which `keychain audit ack ID` records in
//! the audit log; an acknowledged finding stays listed, with who acknowledged it and when
//! ([`Acknowledged`]), and no longer counts towards an exit status.
#![deny(missing_docs)]

use std::collections::HashMap;

use serde::{Serialize, Serializer};

use crate::activity::Anomaly;
use crate::activity::anomaly::finding_id;
use crate::audit::lines::Line;

pub use crate::severity::Severity;

/// Something a person should look at, with its severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable FINDING-ID, for `keychain audit ack`.
    pub id: String,
    /// How bad it is.
    pub severity: Severity,
    /// A stable name of the rule that found it.
    pub code: &'static str,
    /// The accounts it is about; empty for the keychain as a whole.
    #[serde(serialize_with = "names_as_objects")]
    pub accounts: Vec<String>,
    /// What was found and what to do, for a person.
    pub message: String,
    /// The `seq` of the audit-log lines it rests on (an anomaly's evidence); empty otherwise.
    pub events: Vec<u64>,
    /// Who acknowledged it, when; `None` while it is open.
    pub acknowledged: Option<Acknowledged>,
}

/// An acknowledgement: the `ack` line of the audit log that silenced a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acknowledged {
    /// `user@host` of the `ack`.
    pub by: String,
    /// RFC 3339 time of the `ack`.
    pub at: String,
    /// `seq` of the `ack` in the audit log.
    pub seq: u64,
}

/// `["a", "b"]` as `[{"name": "a"}, {"name": "b"}]`: accounts are objects in every document.
fn names_as_objects<S: Serializer>(names: &[String], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Named<'a> {
        name: &'a str,
    }
    s.collect_seq(names.iter().map(|name| Named { name }))
}

impl Finding {
    /// A finding of a rule (`code`), about `account` or the whole keychain. Its id is the code
    /// and the account; a rule that can find several things about one subject adds what tells
    /// them apart with [`Finding::about`].
    pub fn new(
        severity: Severity,
        code: &'static str,
        account: Option<&str>,
        message: String,
    ) -> Finding {
        Finding::of_accounts(
            severity,
            code,
            account.map(str::to_string).into_iter().collect(),
            message,
        )
    }

    /// A finding about several accounts at once (a secret stored in each of them).
    pub fn of_accounts(
        severity: Severity,
        code: &'static str,
        accounts: Vec<String>,
        message: String,
    ) -> Finding {
        let parts: Vec<&str> = accounts.iter().map(String::as_str).collect();
        Finding {
            id: finding_id(code, &parts),
            severity,
            code,
            accounts,
            message,
            events: Vec::new(),
            acknowledged: None,
        }
    }

    /// The same finding, its id also over `subject` (a path, a member, a time a secret was
    /// set): what makes two findings of one rule about one account different things to
    /// acknowledge.
    pub fn about(mut self, subject: &str) -> Finding {
        let mut parts: Vec<&str> = self.accounts.iter().map(String::as_str).collect();
        parts.push("\u{1f}");
        parts.push(subject);
        self.id = finding_id(self.code, &parts);
        self
    }

    /// Whether it still counts (towards `--fail-on`, `status`'s state): not acknowledged.
    pub fn is_open(&self) -> bool {
        self.acknowledged.is_none()
    }

    /// Whether it is about the account `name`.
    pub fn is_about(&self, name: &str) -> bool {
        self.accounts.iter().any(|a| a == name)
    }
}

impl From<Anomaly> for Finding {
    fn from(a: Anomaly) -> Self {
        Finding {
            id: a.id,
            severity: a.severity,
            code: a.code,
            accounts: vec![a.account],
            message: a.message,
            events: a.events,
            acknowledged: None,
        }
    }
}

/// Whether `text` has the shape of a FINDING-ID: a code (lowercase letters, digits, '-'), '-'
/// and 10 lowercase hex digits. A check of input, not of existence.
pub fn looks_like_id(text: &str) -> bool {
    let Some((code, hex)) = text.rsplit_once('-') else {
        return false;
    };
    !code.is_empty()
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && hex.len() == 10
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The acknowledgements of an audit log: FINDING-ID → its first successful `ack`.
#[derive(Debug, Default)]
pub struct Acks(HashMap<String, Acknowledged>);

impl Acks {
    /// Every `ack` line of `lines` (the audit log, in order); the first one of an id counts.
    pub fn from_lines(lines: &[Line]) -> Acks {
        let mut acks = HashMap::new();
        for l in lines
            .iter()
            .filter(|l| l.action == "ack" && l.outcome == "ok")
        {
            if let Some(id) = &l.detail {
                acks.entry(id.clone()).or_insert_with(|| Acknowledged {
                    by: format!("{}@{}", l.user, l.host),
                    at: l
                        .unix()
                        .map_or_else(|| l.time.clone(), crate::clock::rfc3339),
                    seq: l.seq,
                });
            }
        }
        Acks(acks)
    }

    /// The acknowledgement of `id`, if any.
    pub fn get(&self, id: &str) -> Option<&Acknowledged> {
        self.0.get(id)
    }

    /// Marks each finding that was acknowledged; it stays in the list.
    pub fn apply(&self, findings: &mut [Finding]) {
        for f in findings {
            f.acknowledged = self.0.get(&f.id).cloned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 23: one shape: `accounts` an array of `{"name"}` objects (empty for the keychain
    /// as a whole, never a null account), an `id` on every finding, `events` and
    /// `acknowledged` always there.
    #[test]
    fn a_finding_serializes_as_the_json_contract_says() {
        let f = Finding::new(Severity::Unknown, "store-unreachable", None, "down".into());
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            serde_json::json!({
                "id": finding_id("store-unreachable", &[]),
                "severity": "unknown", "code": "store-unreachable", "accounts": [],
                "message": "down", "events": [], "acknowledged": null
            })
        );
        let f = Finding::of_accounts(
            Severity::High,
            "duplicate-password",
            vec!["a".into(), "b".into()],
            "m".into(),
        );
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(
            v["accounts"],
            serde_json::json!([{"name": "a"}, {"name": "b"}])
        );
        assert!(looks_like_id(&f.id), "{}", f.id);
    }

    /// Ids are stable over the subject, never over the wording; a subject tells two findings
    /// of one rule apart.
    #[test]
    fn ids_depend_on_what_a_finding_is_about() {
        let a = Finding::new(Severity::High, "permissions", None, "one".into());
        let b = Finding::new(Severity::High, "permissions", None, "two".into());
        assert_eq!(a.id, b.id);
        let c = a.clone().about("/k/x");
        assert_ne!(c.id, a.id);
        assert_ne!(c.id, b.clone().about("/k/y").id);
        assert!(looks_like_id("new-origin-0123456789"));
        assert!(!looks_like_id("new-origin-012345678Z"));
        assert!(!looks_like_id("-0123456789"));
        assert!(!looks_like_id("Bad-0123456789"));
    }
}
