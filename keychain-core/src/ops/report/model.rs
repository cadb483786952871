//! The report's typed rows: what `build` returns and the front end renders.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::activity::Timelines;
use crate::keystore::KeyStoreKind;
use crate::record::Header;

use super::Finding;

/// The audit report: what is stored, its ages and use, and the findings.
#[derive(Debug, Serialize)]
pub struct Report {
    /// When it was made (RFC 3339, UTC).
    pub generated: String,
    /// The keychain folder.
    pub keychain: PathBuf,
    /// Where the keychain's key is kept.
    pub key_store: KeyStoreKind,
    /// Whether the records were opened with the key (duplicate detection, log verification).
    pub key_used: bool,
    /// The audit log's integrity.
    pub audit_log: LogStatus,
    /// Whom every record is encrypted to, from `config.json`.
    pub recipients: Vec<RecipientRow>,
    /// `authenticated`, `not-authenticated` or `not-checked` (without the key).
    pub config: &'static str,
    /// One row per readable account.
    pub accounts: Vec<AccountRow>,
    /// Every finding, worst first.
    pub findings: Vec<Finding>,
    /// Files named like records that are not regular files (each also a finding), for the front
    /// end to warn about.
    #[serde(skip)]
    pub strays: Vec<PathBuf>,
    /// What the HTML report draws (`crate::activity`); too bulky for the JSON.
    #[serde(skip)]
    pub activity: Timelines,
}

/// The audit log's state as the report found it.
#[derive(Debug, Serialize)]
pub struct LogStatus {
    /// `intact`, `damaged`, or without the key `chain-intact` (order, hash chain and anchor
    /// hold; MACs not checked).
    pub status: &'static str,
    /// Lines read.
    pub lines: u64,
    /// Files read (rotated ones and the live log).
    pub files: usize,
    /// Where and how the log does not check.
    pub problems: Vec<String>,
}

/// One age recipient every record is encrypted to.
#[derive(Debug, Serialize)]
pub struct RecipientRow {
    /// `keychain` (this keychain's own key) or `escrow`.
    pub role: &'static str,
    /// The age public key.
    pub recipient: String,
}

/// One account's line of the report.
#[derive(Debug, Serialize)]
pub struct AccountRow {
    /// The account's name.
    pub name: String,
    /// Its provider.
    pub provider: String,
    /// Its user name at the provider.
    pub user: String,
    /// Field name → age in days.
    pub secrets: BTreeMap<&'static str, i64>,
    /// Days since the password was set.
    pub password_age_days: Option<i64>,
    /// Days since the TOTP secret was set.
    pub totp_secret_age_days: Option<i64>,
    /// The refresh token, when one is stored.
    pub refresh_token: Option<RefreshInfo>,
    /// The last use in the log.
    pub last_use: Option<Use>,
    /// Host → the last use from that host (time and action): for a keychain several machines
    /// share, which machine last used the account.
    pub last_use_by_host: BTreeMap<String, String>,
    /// Headless logons in the last 30 days.
    pub headless_logons_30d: u32,
    /// Broken refresh-token chains in the last 30 days.
    pub broken_chains_30d: u32,
    /// The header, for the JSON contract's shared account shape (issue 10).
    #[serde(skip)]
    pub header: Header,
}

/// The refresh token of an account: its ages and its idle expiry.
#[derive(Debug, Serialize)]
pub struct RefreshInfo {
    /// Days since it was stored.
    pub age_days: i64,
    /// Days since it was last used.
    pub idle_days: i64,
    /// Unix time it was last issued or used (what its idle time counts from).
    #[serde(skip)]
    pub active: i64,
    /// Days before its provider's idle expiry (Exact's 30 days); 0 or less means expired;
    /// `None` (JSON `null`) at a provider without an idle rule.
    pub days_left: Option<i64>,
    /// Unix time of that expiry, for the timeline; `None` without an idle rule.
    #[serde(skip)]
    pub expires_at: Option<i64>,
}

/// A use of an account, from the audit log.
#[derive(Debug, Serialize)]
pub struct Use {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who: user@host.
    pub by: String,
    /// The action's name in the log.
    pub action: String,
    /// `ok`, or the failure's outcome and reason.
    pub result: String,
}
