//! What one audit event says: who did what to which account, and how it ended.
//!
//! An event never holds a secret value: only field names, short reasons and HMAC fingerprints.
//! Free text (details, reasons) is cut short and stripped of control characters so that a caller
//! who passes an error text cannot flood the log or forge a line break.
#![deny(missing_docs)]

use std::collections::BTreeMap;

use serde::Serialize;

use crate::host::host_name;

/// Longest detail or reason kept in the log, in characters.
const MAX_TEXT: usize = 200;

/// What was done. Serialised as `"action": "<snake_case>"` with an optional `"detail"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", content = "detail", rename_all = "snake_case")]
pub enum Action {
    /// A keychain was created (`keychain init`).
    Init,
    /// An account was added.
    Add,
    /// A field of an account was set; the detail is the field's name.
    Set(String),
    /// An account was removed.
    Rm,
    /// An account was renamed; the event names the new account, the detail the old name.
    Mv(String),
    /// A secret field was shown to a person; the detail is the field's name.
    Reveal(String),
    /// `login` served the stored access token; nothing was asked of the provider.
    LoginCache,
    /// `login` spent the refresh token and stored its successor.
    LoginRefresh,
    /// `login` logged on headlessly with the stored password and TOTP secret.
    LoginHeadless,
    /// A logon failed; the detail is a short reason without secrets.
    LoginFailed(String),
    /// The provider declared the refresh token dead; it was retired from the record.
    ChainBroken,
    /// The key store was unlocked (`keychain unlock`).
    Unlock,
    /// The key store was locked again (`keychain lock`).
    Lock,
    /// Accounts were imported (from an export or a settings file).
    Import,
    /// Accounts were exported.
    Export,
    /// Files were scanned for plain-text secrets; the command names how many were found.
    Scan,
    /// The log was rotated; the detail names the file the old log moved to.
    Rotate(String),
    /// An officer fingerprinted a value of this field to compare it with the stored one.
    Fingerprint(String),
    /// An officer acknowledged an anomaly finding; the detail is its FINDING-ID.
    Ack(String),
    /// A TOTP code was handed out by `keychain totp`.
    Totp,
    /// An officer authenticated `config.json` (its recipients) under the keychain's key.
    SealConfig,
    /// An append was cut short (a process killed in the middle of its write): its partial line
    /// was moved out of the log; the detail names the file that keeps those bytes.
    TornTail(String),
    /// A member (a machine's public key) was added; the detail is its name.
    MemberAdd(String),
    /// A member was removed and the group key rotated; the detail is its name.
    MemberRm(String),
    /// The account was sealed again to the members after a change of members; the detail says
    /// which (`add NAME`, `rm NAME`).
    Reseal(String),
    /// An event this machine logged in its own file log while the shared store was down (a
    /// token served from its local copy), copied into the shared trail once the store answered
    /// again; the detail names the original action, time and position in the local log.
    Offline(String),
}

impl Action {
    /// The action's name as written in the log.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Init => "init",
            Action::Add => "add",
            Action::Set(_) => "set",
            Action::Rm => "rm",
            Action::Mv(_) => "mv",
            Action::Reveal(_) => "reveal",
            Action::LoginCache => "login_cache",
            Action::LoginRefresh => "login_refresh",
            Action::LoginHeadless => "login_headless",
            Action::LoginFailed(_) => "login_failed",
            Action::ChainBroken => "chain_broken",
            Action::Unlock => "unlock",
            Action::Lock => "lock",
            Action::Import => "import",
            Action::Export => "export",
            Action::Scan => "scan",
            Action::Rotate(_) => "rotate",
            Action::Fingerprint(_) => "fingerprint",
            Action::Ack(_) => "ack",
            Action::Totp => "totp",
            Action::SealConfig => "seal_config",
            Action::TornTail(_) => "torn_tail",
            Action::MemberAdd(_) => "member_add",
            Action::MemberRm(_) => "member_rm",
            Action::Reseal(_) => "reseal",
            Action::Offline(_) => "offline",
        }
    }

    pub(super) fn sanitised(&self) -> Action {
        match self {
            Action::Set(d) => Action::Set(clean(d)),
            Action::Mv(d) => Action::Mv(clean(d)),
            Action::Reveal(d) => Action::Reveal(clean(d)),
            Action::LoginFailed(d) => Action::LoginFailed(clean(d)),
            Action::Rotate(d) => Action::Rotate(clean(d)),
            Action::Fingerprint(d) => Action::Fingerprint(clean(d)),
            Action::Ack(d) => Action::Ack(clean(d)),
            Action::TornTail(d) => Action::TornTail(clean(d)),
            Action::MemberAdd(d) => Action::MemberAdd(clean(d)),
            Action::MemberRm(d) => Action::MemberRm(clean(d)),
            Action::Reseal(d) => Action::Reseal(clean(d)),
            Action::Offline(d) => Action::Offline(clean(d)),
            other => other.clone(),
        }
    }
}

/// How the command ended. Serialised as `"outcome": "ok"` or `"outcome": "error"` with `"reason"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Ok,
    /// Failed; a short reason without secrets.
    Error(String),
}

/// One event for [`AuditLog::append`](super::AuditLog::append).
///
/// The time, user, host and pid are filled in at append time, not by the caller, so that a caller
/// cannot claim to be someone else by accident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The command as a person would name it (`login`, `export to FILE`); cut short and cleaned.
    pub command: String,
    /// The account acted on, if one.
    pub account: Option<String>,
    /// What was done.
    pub action: Action,
    /// How it ended.
    pub outcome: Outcome,
    /// Field name → [`fingerprint`](super::fingerprint) of the value the command handled.
    pub fingerprints: BTreeMap<String, String>,
    /// The account record's write counter after the change (or as read), for replay detection.
    pub counter: Option<u64>,
}

impl Event {
    /// An event with outcome `ok`, no account and no fingerprints.
    pub fn new(command: impl Into<String>, action: Action) -> Self {
        Event {
            command: command.into(),
            account: None,
            action,
            outcome: Outcome::Ok,
            fingerprints: BTreeMap::new(),
            counter: None,
        }
    }

    /// With the record's write counter after the change.
    pub fn counter(mut self, counter: u64) -> Self {
        self.counter = Some(counter);
        self
    }

    /// About `account`.
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// With this outcome instead of `ok`.
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// With the fingerprint of the value of `field` the command handled (never the value).
    pub fn fingerprint(mut self, field: impl Into<String>, fingerprint: impl Into<String>) -> Self {
        self.fingerprints.insert(field.into(), fingerprint.into());
        self
    }
}

/// Who and where, filled in by the appending process.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub user: String,
    pub uid: Option<u32>,
    pub host: String,
    pub pid: u32,
}

/// `user@host` of this process, for records of who did something (a member added).
pub fn user_at_host() -> String {
    format!("{}@{}", crate::whoami::whoami(), host_name())
}

impl Origin {
    pub(crate) fn current() -> Self {
        Origin {
            // The same name a record's `by` carries (`whoami`), so the two agree.
            user: crate::whoami::whoami(),
            uid: uid(),
            host: host_name(),
            pid: std::process::id(),
        }
    }
}

/// When, by whom and where an event happened, given by the caller instead of taken from this
/// process: for [`AuditLog::append_stamped`](super::AuditLog::append_stamped), which builds
/// trails with known patterns (tests, benchmarks) and will carry events recorded elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// When it happened.
    pub time: std::time::SystemTime,
    /// Who did it (a user name).
    pub user: String,
    /// On which machine.
    pub host: String,
}

impl Stamp {
    pub(crate) fn origin(&self) -> Origin {
        Origin {
            user: self.user.clone(),
            uid: None,
            host: self.host.clone(),
            pid: 0,
        }
    }
}

/// [`clean`] without a copy when the text is already clean (the common case for user and host).
pub(super) fn clean_ref(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().count() <= MAX_TEXT && !text.chars().any(char::is_control) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(clean(text))
    }
}

/// Cuts free text short and replaces control characters, so one event stays one short line.
pub(super) fn clean(text: &str) -> String {
    text.chars()
        .take(MAX_TEXT)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(unix)]
fn uid() -> Option<u32> {
    Some(rustix::process::getuid().as_raw())
}

#[cfg(not(unix))]
fn uid() -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::format::Record;

    #[test]
    fn record_serialises_action_and_outcome_flat_in_snake_case() {
        let origin = Origin {
            user: "u".into(),
            uid: Some(1),
            host: "h".into(),
            pid: 2,
        };
        let ev = Event::new("login", Action::LoginFailed("totp\nrejected".into()))
            .account("acme")
            .outcome(Outcome::Error("provider said no".into()))
            .fingerprint("password", "ab");
        let zero = "0".repeat(64);
        let line = serde_json::to_string(&Record::new(
            &ev,
            &origin,
            std::time::SystemTime::now(),
            5,
            &zero,
            None,
        ))
        .unwrap();
        assert!(line.starts_with(r#"{"seq":5,"time":""#), "{line}");
        assert!(line.contains(r#""action":"login_failed","detail":"totp rejected""#));
        assert!(line.contains(r#""outcome":"error","reason":"provider said no""#));
        assert!(line.contains(r#""fingerprints":{"password":"ab"}"#));
        let ok = Event::new("add", Action::Add);
        let line = serde_json::to_string(&Record::new(
            &ok,
            &origin,
            std::time::SystemTime::now(),
            0,
            &zero,
            None,
        ))
        .unwrap();
        assert!(
            line.contains(r#""action":"add","outcome":"ok","prev""#),
            "{line}"
        );
    }
}
