//! How bad a finding or an anomaly is: one scale for `status`, the audit report, the anomaly
//! analysis and `--fail-on` (the finding itself is `ops::finding::Finding`).
#![deny(missing_docs)]

use crate::choice::Choice;

/// How bad a finding is. Ordered from least to most serious, so `--fail-on LEVEL` is a plain
/// `>=`; the lowercase names are what the report's JSON and `--fail-on` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing needs doing.
    Info,
    /// A weakness to fix when convenient (a check skipped, a single factor where none better
    /// is possible).
    Low,
    /// A weaker setup than keychain recommends (plain http allowed, password alone).
    Medium,
    /// A risk to act on now: a secret others may read, a rejected or expired logon, a burst of
    /// failed logons. The default `--fail-on`.
    High,
    /// The check itself could not be made (`status`: a shared store that does not answer), so
    /// nobody can tell from here whether a job works. Ranked as the monitoring plugins rank it:
    /// above a warning (`high`), below `critical`. Not offered to `--fail-on`: only `status`
    /// finds it.
    Unknown,
    /// The keychain or its log may have been tampered with or cannot be read.
    Critical,
}

impl Choice for Severity {
    const ALL: &'static [Self] = &[
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Unknown => "unknown",
            Severity::Critical => "critical",
        }
    }
}

crate::choice_text!(Severity);

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 21: status's `unknown` joined the one scale; `--fail-on` (and its help, man page
    /// and error text) still offers the five levels it always did.
    #[test]
    fn unknown_ranks_between_high_and_critical_and_is_not_offered() {
        assert!(Severity::High < Severity::Unknown && Severity::Unknown < Severity::Critical);
        let offered: Vec<&str> = Severity::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(offered, ["info", "low", "medium", "high", "critical"]);
        assert_eq!(Severity::Unknown.name(), "unknown");
        assert!("unknown".parse::<Severity>().is_err());
        assert_eq!(
            serde_json::to_value(Severity::Unknown).unwrap(),
            serde_json::json!("unknown")
        );
    }
}
