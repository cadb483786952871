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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::activity::{self, Acknowledgement, Anomaly, Thresholds, Timelines};
use crate::audit::VerifyReport;
use crate::clock;
use crate::error::Result;
use crate::keychain::Keychain;
use crate::keystore::{self, KeyStoreKind, Persistence};
use crate::record::{Header, SecretField};
use crate::severity::Severity;
use crate::trail;
use crate::trail::lines::{self, Line};

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
/// Exact Online's (and keychain's assumed) idle expiry of a refresh token.
pub const REFRESH_IDLE_DAYS: i64 = 30;
/// A refresh token idle longer than this is a finding: a few days remain to use it.
pub const REFRESH_WARN_DAYS: i64 = 25;
/// Window of the event counts.
const WINDOW_DAYS: i64 = 30;

/// Actions that count as a use of an account.
const USES: &[&str] = &[
    "login_cache",
    "login_refresh",
    "login_headless",
    "login_failed",
    "chain_broken",
    "reveal",
    "export",
    "fingerprint",
];

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
    /// Anomaly findings in the window that `keychain audit ack` silenced, and by whom.
    pub acknowledged: Vec<Acknowledgement>,
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
    /// Days before the 30-day idle expiry; 0 or less means expired.
    pub days_left: i64,
    /// Unix time of that expiry, for the timeline.
    #[serde(skip)]
    pub expires_at: i64,
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

/// Something an officer should look at, with its severity.
#[derive(Debug, Serialize)]
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

fn finding(
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

/// Builds the report of this keychain: its accounts from the public headers, their use from the
/// audit log, and every finding, sorted worst first. Never prints; a stray file is a finding and
/// is listed in [`Report::strays`] for the front end to warn about.
pub fn build(kc: &Keychain, args: &ReportOptions) -> Result<Report> {
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
        findings.push(finding(
            Severity::Critical,
            "record-unreadable",
            None,
            format!(
                "{} is named like a record but is not a regular file (a FIFO, a device or a folder): someone put it there; it was skipped",
                stray.display()
            ),
        ));
    }
    for (name, header) in listing.names.iter().zip(kc.peek_many(&listing.names)) {
        match header {
            Ok(h) => headers.push(h),
            Err(e) => findings.push(finding(
                Severity::Critical,
                "record-unreadable",
                Some(name),
                format!("the record cannot be read: {e}"),
            )),
        }
    }

    let lines = if keyless_shared {
        lines::read_files(vec![kc.dir.join(crate::audit::COPY_FILE)])?
    } else {
        lines::read(kc)?
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
    let activity = activity::analyse(
        lines.iter().filter_map(Line::trail_event),
        now,
        args.days,
        &Thresholds::default(),
    );
    findings.extend(activity.anomalies.into_iter().map(Finding::from));
    replay_findings(kc, &headers, &mut findings)?;

    member_findings(kc, &headers, &lines, &mut findings);
    store_findings(kc, &mut findings);
    permission_findings(&kc.dir, &mut findings);

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
            findings.push(finding(
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

    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.account.cmp(&b.account))
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
        acknowledged: activity.acknowledged,
        activity: activity.timelines,
    })
}

/// A member list that does not check (a planted recipient: critical), and per removed member
/// the accounts it could read whose secrets were not changed since (high).
fn member_findings(kc: &Keychain, headers: &[Header], lines: &[Line], out: &mut Vec<Finding>) {
    if let (Some(shared), Ok(identity)) = (kc.shared(), kc.identity())
        && shared.exists().unwrap_or(false)
        && let Some(problem) = shared.problem(identity)
    {
        out.push(finding(
            Severity::Critical,
            "members-not-authenticated",
            None,
            format!(
                "the member list does not check: {problem}; every write is refused until it is restored"
            ),
        ));
    }
    for removal in lines.iter().filter(|l| l.action == "member_rm") {
        let Some(name) = removal.detail.as_deref() else {
            continue;
        };
        let why = format!("rm {name}");
        // Readable by the removed member: sealed again at its removal, so sealed to it before.
        // Still exposed: each secret not set (nor the account added again) since, by the trail's
        // order rather than by time, so a change in the same second is placed right.
        let exposed: Vec<String> = headers
            .iter()
            .filter(|h| {
                lines.iter().any(|l| {
                    l.action == "reseal"
                        && l.detail.as_deref() == Some(why.as_str())
                        && l.account.as_deref() == Some(h.name.as_str())
                })
            })
            .filter_map(|h| {
                let changed_since = |field: &str| {
                    lines.iter().any(|l| {
                        l.seq > removal.seq
                            && l.account.as_deref() == Some(h.name.as_str())
                            && (l.action == "add"
                                || (l.action == "set" && l.detail.as_deref() == Some(field)))
                    })
                };
                let stale: Vec<&str> = [
                    SecretField::Password,
                    SecretField::TotpSecret,
                    SecretField::ClientSecret,
                ]
                .into_iter()
                .filter(|f| h.secrets.contains_key(f) && !changed_since(f.as_str()))
                .map(|f| f.as_str())
                .collect();
                (!stale.is_empty()).then(|| format!("{} ({})", h.name, stale.join(", ")))
            })
            .collect();
        if exposed.is_empty() {
            continue;
        }
        out.push(finding(
            Severity::High,
            "member-removed",
            None,
            format!(
                "member '{name}' was removed ({}); it could read these before, not changed since: {}; rotate them at the provider, then 'keychain set' them (refresh tokens rotate at the next refresh)",
                removal.time,
                exposed.join(", ")
            ),
        ));
    }
}

fn recipients(kc: &Keychain) -> Vec<RecipientRow> {
    if let Ok(Some(members)) = kc.members() {
        return members
            .list
            .members
            .iter()
            .map(|m| RecipientRow {
                role: "member",
                recipient: format!("{} ({})", m.recipient, m.name),
            })
            .chain(kc.config.escrow_recipients.iter().map(|r| RecipientRow {
                role: "escrow",
                recipient: r.clone(),
            }))
            .collect();
    }
    std::iter::once(RecipientRow {
        role: "keychain",
        recipient: kc.config.recipient.clone(),
    })
    .chain(kc.config.escrow_recipients.iter().map(|r| RecipientRow {
        role: "escrow",
        recipient: r.clone(),
    }))
    .collect()
}

/// Whether `config.json` (its recipients) authenticates under the keychain's key.
fn config_status(kc: &Keychain, out: &mut Vec<Finding>) -> Result<&'static str> {
    match kc.config.authentication_problem(kc.identity()?) {
        None => Ok("authenticated"),
        Some(reason) => {
            out.push(finding(
                Severity::Critical,
                "config-not-authenticated",
                None,
                format!(
                    "config.json {reason}; every write is refused until an officer checks the recipients listed here and runs 'keychain audit seal-config'"
                ),
            ));
            Ok("not-authenticated")
        }
    }
}

/// Records older than the last write the log recorded for them: copies put back. Compared on
/// the public headers, so this works without the key (opening the record, with the key, refuses
/// it too).
fn replay_findings(kc: &Keychain, headers: &[Header], out: &mut Vec<Finding>) -> Result<()> {
    for h in headers {
        if let Some(logged) = kc.logged_counter(&h.name)?
            && h.writes < logged
        {
            out.push(finding(
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
fn chain_status(kc: &Keychain, out: &mut Vec<Finding>) -> Result<LogStatus> {
    if kc.trail_in_store()
        && let Some(kv) = kc.shared_kv()
    {
        // The shared trail, read from the store: order, hash chain and the events this
        // machine saw; its MACs need the group key, which only the identity opens.
        let report = crate::audit::KeylessTrail::new(kv.clone(), &kc.dir, kc.clock().clone())
            .verify()
            .map_err(trail::audit_error)?;
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
    let log = trail::log_of(&kc.dir, kc.clock());
    let report = log.verify_chain().map_err(trail::audit_error)?;
    let mut status = status_of(report, "without the key: hash chain and anchor only", out);
    if status.status == "intact" {
        status.status = "chain-intact";
    }
    Ok(status)
}

fn days(since: i64, now: i64) -> i64 {
    clock::days_between(since, now)
}

/// `mine`: the account's lines of the log, in log order.
fn row(h: &Header, mine: &[&Line], now: i64) -> AccountRow {
    let age = |f: SecretField| h.secrets.get(&f).map(|i| days(i.changed, now));
    let refresh_token = h.secrets.get(&SecretField::RefreshToken).map(|info| {
        let active = h.refresh_token_active.unwrap_or(info.changed);
        let idle = days(active, now);
        RefreshInfo {
            age_days: days(info.changed, now),
            idle_days: idle,
            days_left: REFRESH_IDLE_DAYS.saturating_sub(idle),
            expires_at: active.saturating_add(REFRESH_IDLE_DAYS * DAY),
        }
    });
    let since = now.saturating_sub(WINDOW_DAYS * DAY);
    let recent = |action: &str| {
        mine.iter()
            .filter(|l| l.action == action && l.unix().is_some_and(|t| t >= since))
            .count() as u32
    };
    let mut last_use_by_host = BTreeMap::new();
    for l in mine.iter().filter(|l| USES.contains(&l.action.as_str())) {
        let at = l.unix().map_or_else(|| l.time.clone(), clock::rfc3339);
        last_use_by_host.insert(l.host.clone(), format!("{at} {} by {}", l.action, l.user));
    }
    let last_use = mine
        .iter()
        .rev()
        .find(|l| USES.contains(&l.action.as_str()))
        .map(|l| Use {
            // The one time form of the JSON contract (seconds, as `list` and `show` give the
            // same use): the log's own text carries milliseconds, or whatever a damaged line holds.
            at: l.unix().map_or_else(|| l.time.clone(), clock::rfc3339),
            by: l.user.clone(),
            action: l.action.clone(),
            result: result_of(l),
        })
        .or_else(|| {
            h.last_use.as_ref().map(|u| Use {
                at: clock::rfc3339(u.at),
                by: u.by.clone(),
                action: u.action.clone(),
                result: if u.ok { "ok" } else { "failed" }.into(),
            })
        });
    AccountRow {
        header: h.clone(),
        name: h.name.clone(),
        provider: h.provider.kind.to_string(),
        user: h.user.clone(),
        secrets: h
            .secrets
            .iter()
            .map(|(f, i)| (f.as_str(), days(i.changed, now)))
            .collect(),
        password_age_days: age(SecretField::Password),
        totp_secret_age_days: age(SecretField::TotpSecret),
        refresh_token,
        last_use,
        last_use_by_host,
        headless_logons_30d: recent("login_headless"),
        broken_chains_30d: recent("chain_broken"),
    }
}

/// Issue 8: a recorded rejection (logons are refused until a person acts) and an account that
/// sends credentials over plain http.
fn logon_safety_findings(h: &Header, out: &mut Vec<Finding>) {
    let name = Some(h.name.as_str());
    if let Some(r) = &h.logon_rejected {
        out.push(finding(
            Severity::High,
            "logon-rejected",
            name,
            format!(
                "the provider rejected the {} at {} (run by {}); keychain refuses logons until the password or TOTP secret is changed with 'keychain set' or one 'keychain login --retry'",
                r.step,
                clock::rfc3339(r.at),
                r.by
            ),
        ));
    }
    if h.provider.insecure_http {
        out.push(finding(
            Severity::Medium,
            "insecure-http",
            name,
            "the account was allowed (--insecure-http) to send its credentials over plain http to a host other than loopback".into(),
        ));
    }
}

fn result_of(l: &Line) -> String {
    match (l.action.as_str(), l.outcome.as_str()) {
        ("login_failed", _) => format!("failed: {}", l.detail.as_deref().unwrap_or("")),
        ("chain_broken", _) => "refresh token rejected".into(),
        (_, "ok") => "ok".into(),
        _ => format!("error: {}", l.reason.as_deref().unwrap_or("")),
    }
}

fn account_findings(h: &Header, a: &AccountRow, args: &ReportOptions, out: &mut Vec<Finding>) {
    let name = Some(h.name.as_str());
    logon_safety_findings(h, out);
    if let Some(rt) = &a.refresh_token {
        if rt.days_left <= 0 {
            out.push(finding(
                Severity::High,
                "refresh-token-expired",
                name,
                format!(
                    "the refresh token has been idle {}: past the {REFRESH_IDLE_DAYS}-day idle expiry; the next logon must be headless",
                    crate::text::count(rt.idle_days.max(0) as usize, "day", "days")
                ),
            ));
        } else if rt.idle_days > REFRESH_WARN_DAYS {
            out.push(finding(
                Severity::Medium,
                "refresh-token-idle",
                name,
                format!(
                    "the refresh token has been idle {}: it expires in {}; run 'keychain refresh --all' from cron",
                    crate::text::count(rt.idle_days.max(0) as usize, "day", "days"),
                    crate::text::count(rt.days_left.max(0) as usize, "day", "days")
                ),
            ));
        }
    }
    if let Some(age) = a.password_age_days
        && age > i64::from(args.max_password_age)
    {
        out.push(finding(
            Severity::Medium,
            "password-old",
            name,
            format!(
                "the password is {age} days old (more than --max-password-age {})",
                args.max_password_age
            ),
        ));
    }
    if !h.has(SecretField::TotpSecret) {
        let (severity, why) = if h.has(SecretField::Password) {
            (Severity::Medium, "a logon needs the password alone")
        } else {
            (
                Severity::Low,
                "it has no password either (refresh token only)",
            )
        };
        out.push(finding(
            severity,
            "no-second-factor",
            name,
            format!("no TOTP secret: {why}"),
        ));
    }
}

fn store_findings(kc: &Keychain, out: &mut Vec<Finding>) {
    let kind = kc.config.key_store;
    if keystore::for_kind(kind, &kc.dir, kc.settings()).persistence() != Persistence::UntilDelete {
        out.push(finding(
            Severity::Medium,
            "key-store-not-persistent",
            None,
            format!("the '{kind}' key store loses the key at reboot or logout: the records cannot be opened afterwards"),
        ));
    }
    if kind == KeyStoreKind::File {
        out.push(finding(
            Severity::High,
            "plain-identity-file",
            None,
            format!(
                "the key is a plain file ({}): anyone who can read it can open every record; prefer the 'os' or 'passphrase' key store",
                kc.dir.join(keystore::file::FILE_NAME).display()
            ),
        ));
    }
}

/// Folders wider than 0700 and files wider than 0600 anywhere in the keychain folder.
fn permission_findings(dir: &Path, out: &mut Vec<Finding>) {
    #[cfg(unix)]
    {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(path) = stack.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let mode = crate::fsutil::mode_of(&path).unwrap_or(0);
            let (want, what) = if meta.is_dir() {
                (0o700, "folder")
            } else {
                (0o600, "file")
            };
            if meta.file_type().is_symlink() {
                continue;
            }
            if mode & 0o022 != 0 {
                out.push(finding(
                    Severity::Critical,
                    "writable-by-others",
                    None,
                    format!(
                        "{what} {} has mode {mode:04o}: other users can write to it, and keychain refuses to use it; check that nothing was planted, then chmod {want:o} it",
                        path.display()
                    ),
                ));
            } else if mode & 0o077 != 0 {
                out.push(finding(
                    Severity::High,
                    "permissions",
                    None,
                    format!(
                        "{what} {} has mode {mode:04o}, wider than {want:04o}: other users may read it; chmod {want:o} it",
                        path.display()
                    ),
                ));
            }
            if meta.is_dir()
                && let Ok(entries) = std::fs::read_dir(&path)
            {
                let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
                children.sort();
                children.reverse();
                stack.extend(children);
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (dir, out);
}

/// Opens every record and compares fingerprints of passwords and TOTP secrets, never values.
fn duplicate_findings(kc: &Keychain, headers: &[Header], out: &mut Vec<Finding>) -> Result<()> {
    let fields = [
        (SecretField::Password, "duplicate-password", "password"),
        (
            SecretField::TotpSecret,
            "duplicate-totp-secret",
            "TOTP secret",
        ),
    ];
    let mut seen: BTreeMap<(SecretField, String), Vec<String>> = BTreeMap::new();
    let names: Vec<String> = headers.iter().map(|h| h.name.clone()).collect();
    let opened = kc.read_many(&names)?;
    let key = trail::fingerprint_key(kc)?;
    for (h, opened) in headers.iter().zip(opened) {
        let account = match opened {
            Ok(account) => account,
            // Reported by `replay_findings`.
            Err(crate::error::Error::Replayed { .. }) => continue,
            Err(e) => {
                out.push(finding(
                    Severity::Critical,
                    "record-unreadable",
                    Some(&h.name),
                    format!("the record cannot be opened with the key: {e}"),
                ));
                continue;
            }
        };
        for (field, _, _) in fields {
            if let Some(value) = account.secret(field) {
                let fp = crate::audit::fingerprint(&key, field.as_str(), value);
                seen.entry((field, fp)).or_default().push(h.name.clone());
            }
        }
    }
    for ((field, _), names) in seen {
        if names.len() < 2 {
            continue;
        }
        let (_, code, label) = fields.iter().find(|(f, _, _)| *f == field).expect("listed");
        out.push(finding(
            Severity::High,
            code,
            None,
            format!(
                "the same {label} is stored in {} accounts: {}",
                names.len(),
                names.join(", ")
            ),
        ));
    }
    Ok(())
}

fn log_status(kc: &Keychain, out: &mut Vec<Finding>) -> Result<LogStatus> {
    let key = trail::audit_key(kc.identity()?);
    let report = match kc
        .trail()
        .and_then(|t| t.verify(&key).map_err(trail::audit_error))
    {
        Ok(report) => report,
        Err(e) => {
            out.push(finding(
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

fn status_of(report: VerifyReport, how: &str, out: &mut Vec<Finding>) -> LogStatus {
    let problems: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
    if !report.is_ok() {
        out.push(finding(
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
