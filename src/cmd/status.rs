//! `keychain status`: will tonight's job work? For cron, monitoring and a person at a terminal.
//!
//! It says whether the key store answers (without ever prompting), whether and until when the
//! keychain is unlocked, where the records are, and per account the last logon and its result,
//! the refresh token's days left, the lockout guard and an interrupted rename. Each problem a
//! job would meet is a finding; exit 0 when there is none, 1 otherwise. It reads public headers
//! only, takes no lock and writes nothing.

use clap::Args;

use serde_json::{Value, json};

use crate::clock;
use crate::error::Result;
use crate::keychain::Keychain;
use crate::keystore::KeyStoreKind;
use crate::record::{Header, SecretField};
use crate::table::Table;

// The refresh token's idle rule is the report's: dead after 30 days (Exact Online's rule, used
// for all providers), a warning when idle more than 25.
use super::audit::{REFRESH_IDLE_DAYS, REFRESH_WARN_DAYS};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Set from the global --json (or KEYCHAIN_FORMAT=json) by `cmd::dispatch`
    #[arg(skip)]
    pub json: bool,
}

/// An unlock that ends within this many seconds is a warning: a daily job may run after it.
const UNLOCK_WARN_SECONDS: i64 = 24 * 3600;

struct Finding {
    /// `error`: the job fails; `warning`: it will soon, or needs a person.
    severity: &'static str,
    code: &'static str,
    account: Option<String>,
    message: String,
}

/// What the key store said when asked.
struct KeyStoreState {
    kind: KeyStoreKind,
    /// `None`: not asked, because it would need a passphrase prompt.
    answers: Option<bool>,
    error: Option<String>,
}

pub fn run(kc: &Keychain, args: StatusArgs) -> Result<crate::outcome::Outcome> {
    let now = kc.now();
    let mut findings = Vec::new();
    let key_store = ask_key_store(kc);
    let unlocked_until = unlocked_until(kc);
    keychain_findings(&key_store, unlocked_until, now, &mut findings);

    let mut accounts = Vec::new();
    for name in super::account_names(kc)? {
        match kc.peek(&name) {
            Ok(header) => {
                account_findings(&header, now, &mut findings);
                accounts.push(header);
            }
            Err(e) => findings.push(Finding {
                severity: "error",
                code: "record-unreadable",
                account: Some(name),
                message: e.to_string(),
            }),
        }
    }

    if args.json {
        let doc = to_json(kc, &key_store, unlocked_until, &accounts, &findings, now);
        crate::output::raw(doc.as_bytes())?;
    } else {
        crate::output::out_with_severities(&to_text(
            kc,
            &key_store,
            unlocked_until,
            &accounts,
            &findings,
            now,
        ))?;
    }
    Ok(crate::outcome::Outcome::findings_if(!findings.is_empty()))
}

/// Asks the configured store itself (not the unlock cache), never prompting: a passphrase store
/// is asked only when a job's passphrase file is there.
fn ask_key_store(kc: &Keychain) -> KeyStoreState {
    let kind = kc.config.key_store;
    if kind == KeyStoreKind::Passphrase && kc.settings().passphrase_file.is_none() {
        return KeyStoreState {
            kind,
            answers: None,
            error: None,
        };
    }
    let result = crate::keystore::for_kind(kind, &kc.dir, kc.settings())
        .load()
        .and_then(|identity| {
            if identity.to_public().to_string() == kc.config.recipient {
                Ok(())
            } else {
                Err(crate::keystore::KeyStoreError::WrongIdentity { store: kind })
            }
        });
    KeyStoreState {
        kind,
        answers: Some(result.is_ok()),
        error: result.err().map(|e| e.to_string()),
    }
}

/// When the `unlock` cache ends: `Some(None)` unlocked with an unknown end (an older cache),
/// `None` not unlocked.
fn unlocked_until(kc: &Keychain) -> Option<Option<i64>> {
    #[cfg(target_os = "linux")]
    {
        crate::keystore::kernel::cached_with_expiry(&kc.dir)
            .ok()
            .flatten()
            .filter(|c| c.identity.to_public().to_string() == kc.config.recipient)
            .map(|c| c.expires)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = kc;
        None
    }
}

fn keychain_findings(
    store: &KeyStoreState,
    unlocked: Option<Option<i64>>,
    now: i64,
    out: &mut Vec<Finding>,
) {
    let finding = |severity, code, message: String| Finding {
        severity,
        code,
        account: None,
        message,
    };
    let store_works = store.answers == Some(true);
    match (store_works, unlocked) {
        (true, _) => {}
        (false, None) => out.push(finding(
            "error",
            "key-store-unavailable",
            match (&store.answers, &store.error) {
                (None, _) => "locked: the passphrase store needs a passphrase and none is given to jobs; run 'keychain unlock', or give jobs KEYCHAIN_PASSPHRASE_FILE (or the systemd credential keychain-passphrase)".to_string(),
                (_, Some(e)) => format!("the {} key store does not answer and the keychain is not unlocked: {e}", store.kind),
                _ => format!("the {} key store does not answer", store.kind),
            },
        )),
        (false, Some(until)) => {
            let ends_soon = until.is_none_or(|t| t.saturating_sub(now) < UNLOCK_WARN_SECONDS);
            if ends_soon {
                out.push(finding(
                    "warning",
                    "unlock-ends",
                    format!(
                        "jobs work only while unlocked, which ends {}; the {} key store cannot answer them after that",
                        until.map_or("at an unknown time".to_string(), |t| format!("at {}", clock::rfc3339(t))),
                        store.kind
                    ),
                ));
            }
        }
    }
}

fn account_findings(h: &Header, now: i64, out: &mut Vec<Finding>) {
    let mut finding = |severity, code, message: String| {
        out.push(Finding {
            severity,
            code,
            account: Some(h.name.clone()),
            message,
        })
    };
    if let Some(new) = &h.moved_to {
        finding(
            "error",
            "interrupted-rename",
            format!(
                "being renamed to '{new}': logons are refused; finish with 'keychain mv {} {new}'",
                h.name
            ),
        );
    }
    if let Some(r) = &h.logon_rejected {
        finding(
            "error",
            "logon-rejected",
            format!(
                "the provider rejected the {} at {}: logons are refused until 'keychain set {} --password-file FILE' (or --totp-file) or 'keychain login {} --retry'",
                r.step,
                clock::rfc3339(r.at),
                h.name,
                h.name
            ),
        );
    }
    let has_password = h.has(SecretField::Password);
    match refresh_days_left(h, now) {
        Some(left) if left <= 0 && has_password => finding(
            "warning",
            "refresh-token-expired",
            "the refresh token is past its 30-day idle expiry: the next logon is headless (password and code)".into(),
        ),
        Some(left) if left <= 0 => finding(
            "error",
            "cannot-log-on",
            "the refresh token is past its 30-day idle expiry and there is no password to log on with".into(),
        ),
        // Idle more than REFRESH_WARN_DAYS, as the report and its documentation say.
        Some(left) if left < REFRESH_IDLE_DAYS - REFRESH_WARN_DAYS => finding(
            "warning",
            "refresh-token-idle",
            format!(
                "the refresh token expires in {} if unused: run 'keychain refresh --all' from cron",
                crate::output::count(left as usize, "day", "days")
            ),
        ),
        None if !has_password => finding(
            "error",
            "cannot-log-on",
            "neither a refresh token nor a password: the account cannot log on".into(),
        ),
        _ => {}
    }
}

/// Days until the refresh token's idle expiry; `None` without a refresh token.
fn refresh_days_left(h: &Header, now: i64) -> Option<i64> {
    let info = h.secrets.get(&SecretField::RefreshToken)?;
    let idle = clock::days_between(h.refresh_token_active.unwrap_or(info.changed), now);
    Some(REFRESH_IDLE_DAYS.saturating_sub(idle))
}

fn to_json(
    kc: &Keychain,
    store: &KeyStoreState,
    unlocked: Option<Option<i64>>,
    accounts: &[Header],
    findings: &[Finding],
    now: i64,
) -> String {
    use crate::json;
    let accounts: Vec<Value> = accounts
        .iter()
        .map(|h| {
            json!({
                "name": h.name,
                "provider": json::provider(&h.provider),
                "user": h.user,
                "last_logon": json::usage(h.last_logon.as_ref()),
                "last_use": json::usage(h.last_use.as_ref()),
                "refresh_token_days_left": refresh_days_left(h, now),
                "logon_rejected": json::rejection(h.logon_rejected.as_ref()),
                "moving_to": h.moved_to,
                "ok": !findings.iter().any(|f| f.account.as_deref() == Some(h.name.as_str())),
            })
        })
        .collect();
    let findings: Vec<Value> = findings
        .iter()
        .map(|f| json::finding(f.severity, f.code, f.account.as_deref(), &f.message))
        .collect();
    json::document(json!({
        "ok": findings.is_empty(),
        "checked": json::time(now),
        "keychain": kc.dir.display().to_string(),
        "store": { "kind": "local", "location": kc.dir.join("accounts").display().to_string() },
        "key_store": { "kind": store.kind.to_string(), "answers": store.answers, "error": store.error },
        "unlocked": unlocked.is_some(),
        "unlocked_until": json::time_opt(unlocked.flatten()),
        "accounts": accounts,
        "findings": findings,
    }))
}

fn to_text(
    kc: &Keychain,
    store: &KeyStoreState,
    unlocked: Option<Option<i64>>,
    accounts: &[Header],
    findings: &[Finding],
    now: i64,
) -> String {
    use crate::output::{count, escape_value};
    let mut out = String::new();
    out.push_str(&format!(
        "Keychain   {} ({})\n",
        escape_value(&kc.dir.display().to_string()),
        escape_value(&kc.config.store.to_string())
    ));
    let answer = match (store.answers, &store.error) {
        (Some(true), _) => "answers".to_string(),
        (Some(false), Some(e)) => format!("does not answer: {}", crate::table::error_class(e)),
        (Some(false), None) => "does not answer".to_string(),
        (None, _) => "not asked (it would need a passphrase)".to_string(),
    };
    out.push_str(&format!("Key store  {}: {answer}\n", store.kind));
    out.push_str(&match unlocked {
        None => "Unlocked   no\n".to_string(),
        Some(None) => "Unlocked   yes, until an unknown time\n".to_string(),
        Some(Some(t)) => format!(
            "Unlocked   until {} (in {})\n",
            clock::rfc3339(t),
            humantime::format_duration(std::time::Duration::from_secs(
                t.saturating_sub(now).max(0) as u64 / 60 * 60
            ))
        ),
    });
    if !accounts.is_empty() {
        out.push('\n');
        let mut table = Table::new(&["ACCOUNT", "LAST LOGON", "RESULT", "REFRESH TOKEN", "STATE"]);
        for h in accounts {
            let logon = h.last_logon.as_ref();
            let state = if h.moved_to.is_some() {
                "renaming"
            } else if h.logon_rejected.is_some() {
                "rejected"
            } else if findings
                .iter()
                .any(|f| f.account.as_deref() == Some(h.name.as_str()))
            {
                "check"
            } else {
                "ok"
            };
            table.row(vec![
                h.name.clone(),
                logon.map(|u| clock::rfc3339(u.at)).unwrap_or_default(),
                logon
                    .map(|u| if u.ok { "ok" } else { "failed" }.to_string())
                    .unwrap_or_default(),
                refresh_days_left(h, now)
                    .map(|d| {
                        if d <= 0 {
                            "expired".to_string()
                        } else {
                            format!("{} left", count(d as usize, "day", "days"))
                        }
                    })
                    .unwrap_or_default(),
                state.to_string(),
            ]);
        }
        out.push_str(&table.render());
    }
    out.push('\n');
    if findings.is_empty() {
        out.push_str("All well: nothing found that would stop a job.\n");
    } else {
        for f in findings {
            out.push_str(&format!(
                "{:7}  {}{}: {}\n",
                f.severity,
                f.account
                    .as_deref()
                    .map(|a| format!("{}: ", escape_value(a)))
                    .unwrap_or_default(),
                f.code,
                f.message
            ));
        }
        out.push_str(&format!(
            "{}.\n",
            count(findings.len(), "finding", "findings")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Account, Header, Provider};

    fn findings_at_idle(days: i64) -> Vec<&'static str> {
        let now = 1_700_000_000;
        let mut account = Account::new(Header::new(
            "a",
            Provider::new(crate::providers::ProviderKind::Oauth2),
            "u".into(),
            now,
        ));
        account.set_secret(
            SecretField::RefreshToken,
            Some("rt-1".to_string().into()),
            now,
        );
        account.header.refresh_token_active = Some(now - days * 86_400);
        let mut out = Vec::new();
        account_findings(&account.header, now, &mut out);
        out.iter().map(|f| f.code).collect()
    }

    /// Regression (merge of issues 10 and 14): status warned at 25 idle days, the report (and
    /// the documentation) from more than 25; both now keep one rule.
    #[test]
    fn status_warns_of_an_idle_refresh_token_as_the_report_does() {
        assert!(!findings_at_idle(25).contains(&"refresh-token-idle"));
        assert!(findings_at_idle(26).contains(&"refresh-token-idle"));
    }
}
