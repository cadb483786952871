//! What a check of the keychain found: one [`Finding`] type, on one [`Severity`] scale, for every
//! operation that reports findings (`status`: will tonight's job work?; the audit report, with
//! the anomalies of `crate::activity`). A front end renders them; the JSON shape
//! (`severity`, `code`, `account`, `message`, and an anomaly's `id` and `events`) is this type's
//! serialization.
#![deny(missing_docs)]

use serde::Serialize;

use crate::activity::Anomaly;

pub use crate::severity::Severity;

/// Something a person should look at, with its severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// A stable name of the rule that found it.
    pub code: &'static str,
    /// The account it is about, if any.
    pub account: Option<String>,
    /// What was found and what to do, for a person.
    pub message: String,
    /// The FINDING-ID of an anomaly finding, for `keychain audit ack`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The `seq` of the audit-log lines an anomaly finding rests on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<u64>,
}

impl Finding {
    /// A finding of a rule (`code`), about `account` or the whole keychain.
    pub fn new(
        severity: Severity,
        code: &'static str,
        account: Option<&str>,
        message: String,
    ) -> Finding {
        Finding {
            severity,
            code,
            account: account.map(str::to_string),
            message,
            id: None,
            events: Vec::new(),
        }
    }
}

impl From<Anomaly> for Finding {
    fn from(a: Anomaly) -> Self {
        Finding {
            severity: a.severity,
            code: a.code,
            account: Some(a.account),
            message: a.message,
            id: Some(a.id),
            events: a.events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON of a plain finding is the four fields `status` and the report always wrote,
    /// in that order of meaning; an anomaly's adds its `id` and `events`.
    #[test]
    fn a_finding_serializes_as_the_json_contract_says() {
        let f = Finding::new(Severity::Unknown, "store-unreachable", None, "down".into());
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            serde_json::json!({
                "severity": "unknown", "code": "store-unreachable", "account": null, "message": "down"
            })
        );
        let mut f = Finding::new(Severity::High, "burst", Some("a"), "m".into());
        f.id = Some("x1".into());
        f.events = vec![3, 4];
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["id"], "x1");
        assert_eq!(v["events"], serde_json::json!([3, 4]));
    }
}
