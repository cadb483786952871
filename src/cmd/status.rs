//! `keychain status`: will tonight's job work? For cron, monitoring (Nagios, Icinga) and a person
//! at a terminal.
//!
//! It says whether the key store answers (without ever prompting), whether and until when the
//! keychain is unlocked, whether the audit log takes events (a login refuses to hand out a token
//! it cannot record), whether a shared store answers, and per account what a logon would need
//! and lacks (its provider's settings, a password, a redirect URI, a TOTP secret the provider
//! asks for), the last result, the lockout guard, the provider's error budget, the refresh
//! token's days left where the provider has an idle rule, and an interrupted rename. Each problem
//! is a finding with a state; the exit status is the worst one, as monitoring plugins give it:
//! 0 ok, 1 warning, 2 critical, 3 unknown (the check itself could not be made). It reads public
//! headers only and changes nothing; checking the audit log takes its lock for a moment (on a
//! shared keychain, OpenBao's lease), as a login does.

use clap::Args;

use serde_json::{Value, json};

use crate::clock;
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::keystore::KeyStoreKind;
use crate::outcome::{Outcome, nagios};
use crate::record::{Header, SecretField};
use crate::table::Table;

// A refresh token idle more than this many days (of its provider's idle rule, Exact's 30) is a
// warning, as the audit report says.
use super::audit::{REFRESH_IDLE_DAYS, REFRESH_WARN_DAYS};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Check only these accounts: names, or shell-style patterns (*, ?, [abc]); a name that
    /// does not exist, or a pattern that matches none, is an unknown (exit 3)
    #[arg(value_name = "NAME|PATTERN", add = super::shared_args::account_names())]
    pub names: Vec<String>,
    /// Set from the global --json (or KEYCHAIN_FORMAT=json) by `cmd::dispatch`
    #[arg(skip)]
    pub json: bool,
}

/// An unlock that ends within this many seconds is a warning: a daily job may run after it.
const UNLOCK_WARN_SECONDS: i64 = 24 * 3600;

/// A finding's state, in the monitoring plugins' words; ordered so that the worst is the
/// greatest (a critical finding outweighs a check that could not be made).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    Ok,
    Warning,
    Unknown,
    Critical,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Warning => "warning",
            State::Unknown => "unknown",
            State::Critical => "critical",
        }
    }

    /// The finding's severity in the audit report's words (`critical`, `high`), and `unknown`.
    fn severity(self) -> &'static str {
        match self {
            State::Ok => "info",
            State::Warning => "high",
            State::Unknown => "unknown",
            State::Critical => "critical",
        }
    }

    fn exit_code(self) -> i32 {
        match self {
            State::Ok => nagios::OK,
            State::Warning => nagios::WARNING,
            State::Critical => nagios::CRITICAL,
            State::Unknown => nagios::UNKNOWN,
        }
    }
}

struct Finding {
    /// `critical`: the job fails; `warning`: it will soon, or needs a person; `unknown`: it
    /// cannot be told from here now.
    state: State,
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

/// Whether the store of records answered (a shared one may not).
struct StoreState {
    reachable: bool,
}

pub fn run(ctx: &super::Ctx, kc: &Keychain, args: StatusArgs) -> Result<Outcome> {
    let now = kc.now();
    let mut findings = Vec::new();
    let key_store = ask_key_store(kc);
    let unlocked_until = unlocked_until(kc);
    keychain_findings(&key_store, unlocked_until, now, &mut findings);

    let mut store = StoreState { reachable: true };
    let names = match super::account_names(kc) {
        Ok(all) => select(all, &args.names)?,
        Err(e) if is_unreachable(&e) => {
            store.reachable = false;
            findings.push(Finding {
                state: State::Unknown,
                code: "store-unreachable",
                account: None,
                message: format!(
                    "{e}; jobs get only tokens still valid in this machine's copy until it answers again"
                ),
            });
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    if store.reachable {
        audit_log_findings(kc, &mut findings);
    }

    let mut accounts = Vec::new();
    for name in names {
        match kc.peek(&name) {
            Ok(header) => {
                account_findings(&header, now, &mut findings);
                accounts.push(header);
            }
            Err(e) if is_unreachable(&e) => findings.push(Finding {
                state: State::Unknown,
                code: "store-unreachable",
                account: Some(name),
                message: e.to_string(),
            }),
            Err(e) => findings.push(Finding {
                state: State::Critical,
                code: "record-unreadable",
                account: Some(name),
                message: e.to_string(),
            }),
        }
    }

    let worst = findings.iter().map(|f| f.state).max().unwrap_or(State::Ok);
    if ctx.json() {
        let doc = to_json(
            kc,
            &key_store,
            &store,
            unlocked_until,
            &accounts,
            &findings,
            worst,
            now,
        );
        crate::output::raw(doc.as_bytes())?;
    } else {
        crate::output::out_with_severities(&to_text(
            kc,
            &key_store,
            &store,
            unlocked_until,
            &accounts,
            &findings,
            now,
        ))?;
    }
    Ok(match worst {
        State::Ok => Outcome::Success,
        State::Warning => Outcome::Findings,
        state => Outcome::Failed(state.exit_code()),
    })
}

/// The shared store could not be asked (down, unreachable, sealed): a finding, not a failure.
fn is_unreachable(e: &Error) -> bool {
    matches!(e, Error::Store(crate::store::StoreError::Bao(b)) if b.is_unavailable())
}

/// The accounts `wanted` names (all without any): a name must exist; a pattern must match one.
fn select(all: Vec<String>, wanted: &[String]) -> Result<Vec<String>> {
    if wanted.is_empty() {
        return Ok(all);
    }
    let mut chosen: Vec<String> = Vec::new();
    for item in wanted {
        let matched: Vec<&String> = if item.contains(['*', '?', '[']) {
            let pattern = glob::Pattern::new(item)
                .map_err(|e| Error::usage(format!("'{item}' is not a valid pattern: {}", e.msg)))?;
            all.iter().filter(|n| pattern.matches(n)).collect()
        } else {
            crate::store::validate_name(item)?;
            all.iter().filter(|n| *n == item).collect()
        };
        if matched.is_empty() {
            return Err(if item.contains(['*', '?', '[']) {
                Error::usage_hint(
                    format!("no account matches '{item}'"),
                    "'keychain list' shows every account",
                )
            } else {
                Error::NotFound(item.clone())
            });
        }
        for name in matched {
            if !chosen.contains(name) {
                chosen.push(name.clone());
            }
        }
    }
    Ok(chosen)
}

/// A login refuses to hand out a token it cannot record: a log that does not take events now
/// stops every job.
fn audit_log_findings(kc: &Keychain, out: &mut Vec<Finding>) {
    if let Err(e) = kc.check_audit() {
        // A shared trail needs the key: a key store that does not answer is its own finding.
        if matches!(e, Error::KeyStore(_)) {
            return;
        }
        let state = if is_unreachable(&e) {
            State::Unknown
        } else {
            State::Critical
        };
        out.push(Finding {
            state,
            code: "audit-log",
            account: None,
            message: match e.hint() {
                Some(hint) => format!("logins are refused: {e} ({hint})"),
                None => format!("logins are refused: {e}"),
            },
        });
    }
}

/// Asks the configured store itself (not the unlock cache), never prompting: a passphrase store
/// is asked only when a job's passphrase file is there.
fn ask_key_store(kc: &Keychain) -> KeyStoreState {
    let kind = kc.config.key_store;
    // The job's own way in, when it needs no KDF to tell (the service's identity credential,
    // the key derived from this very passphrase file): the answer without scrypt's cost.
    if let Some(result) = crate::keystore::answers_without_kdf(&kc.dir, &kc.config, kc.settings()) {
        return KeyStoreState {
            kind,
            answers: Some(result.is_ok()),
            error: result.err().map(|e| e.to_string()),
        };
    }
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
    let finding = |state, code, message: String| Finding {
        state,
        code,
        account: None,
        message,
    };
    let store_works = store.answers == Some(true);
    match (store_works, unlocked) {
        (true, _) => {}
        (false, None) => out.push(finding(
            State::Critical,
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
                    State::Warning,
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
    let name = h.name.as_str();
    let mut finding = |state, code, message: String| {
        out.push(Finding {
            state,
            code,
            account: Some(h.name.clone()),
            message,
        })
    };
    if let Some(new) = &h.moved_to {
        finding(
            State::Critical,
            "interrupted-rename",
            format!(
                "being renamed to '{new}': logons are refused; finish with 'keychain mv {name} {new}'"
            ),
        );
    }
    if let Some(r) = &h.logon_rejected {
        finding(
            State::Critical,
            "logon-rejected",
            format!(
                "the provider rejected the {} at {}: logons are refused until 'keychain set {name} --password-file FILE' (or --totp-file) or 'keychain login {name} --retry'",
                r.step,
                clock::rfc3339(r.at),
            ),
        );
    }
    // The provider's own settings check, as `add` makes it: what every logon and refresh needs.
    if let Err(e) = crate::validate::provider(&h.provider, crate::validate::ProviderRule::Complete)
    {
        let hint = e.hint().unwrap_or_default();
        finding(
            State::Critical,
            "incomplete-settings",
            format!("{e}: no logon or refresh can start; {hint} with 'keychain set {name}'"),
        );
    }

    let provider = h.provider.kind.provider();
    let days_left = refresh_days_left(h, now);
    let has_refresh_token = h.has(SecretField::RefreshToken);
    // A logon is needed at the next login when there is no refresh token or it is past its
    // provider's idle expiry; later, whenever the refresh token is lost (used elsewhere, revoked).
    let logon_needed = !has_refresh_token || days_left.is_some_and(|left| left <= 0);
    let mut lacks = Vec::new();
    if !h.has(SecretField::Password) {
        lacks.push("a password (--password-file)");
    }
    if h.provider.redirect_uri.is_none() {
        lacks.push("a redirect URI (--redirect-uri)");
    }
    if provider.requires_totp() && !h.has(SecretField::TotpSecret) {
        lacks.push("a TOTP secret, which the provider asks for at every logon (--totp-file)");
    }
    let fix = format!("add with 'keychain set {name}' what is missing");
    if logon_needed && !lacks.is_empty() {
        finding(
            State::Critical,
            "cannot-log-on",
            format!(
                "{}: a headless logon needs {}; {fix}",
                if has_refresh_token {
                    "the refresh token is past its idle expiry"
                } else {
                    "there is no refresh token"
                },
                lacks.join(", ")
            ),
        );
    } else if h.has(SecretField::Password) && !lacks.is_empty() {
        // Meant to log on headlessly, but could not: the job fails the day the refresh
        // token is lost.
        finding(
            State::Warning,
            "logon-incomplete",
            format!(
                "once the refresh token is gone, the headless logon would fail: it needs {}; {fix}",
                lacks.join(", ")
            ),
        );
    }
    match days_left {
        Some(left) if left <= 0 && lacks.is_empty() => finding(
            State::Warning,
            "refresh-token-expired",
            format!(
                "the refresh token is past its {}-day idle expiry: the next logon is headless (password and code)",
                provider
                    .refresh_token_idle_days()
                    .unwrap_or(REFRESH_IDLE_DAYS)
            ),
        ),
        // Idle more than REFRESH_WARN_DAYS, as the report and its documentation say.
        Some(left) if left > 0 && left < REFRESH_IDLE_DAYS - REFRESH_WARN_DAYS => finding(
            State::Warning,
            "refresh-token-idle",
            format!(
                "the refresh token expires in {} if unused: run 'keychain refresh --all' from cron",
                crate::output::count(left as usize, "day", "days")
            ),
        ),
        _ => {}
    }

    // The last result: a job that failed last time is likely to fail again.
    if let Some(last) = h.last_use.as_ref().filter(|u| !u.ok) {
        let logon_failed = h
            .last_logon
            .as_ref()
            .is_some_and(|l| !l.ok && l.at == last.at);
        if logon_failed && h.logon_rejected.is_none() {
            finding(
                State::Critical,
                "last-logon-failed",
                format!(
                    "the last headless logon failed ({} by {}): 'keychain login {name}' shows why",
                    clock::rfc3339(last.at),
                    last.by
                ),
            );
        } else if !logon_failed {
            finding(
                State::Warning,
                "last-login-failed",
                format!(
                    "the last login failed ({}, {} by {}): 'keychain login {name}' shows whether it still does",
                    last.action,
                    clock::rfc3339(last.at),
                    last.by
                ),
            );
        }
    }
    let admission = provider.admission();
    if admission.counts_errors() {
        let mut errors = h.provider_errors.clone();
        if let Err(e) = admission.check_errors(&mut errors, now) {
            finding(
                State::Warning,
                "error-budget",
                format!("{e}: logins wait until then ({})", e.hint()),
            );
        }
    }
}

/// Days until the refresh token's idle expiry, for a provider that has such a rule (Exact's 30
/// days); `None` without a refresh token or without the rule.
fn refresh_days_left(h: &Header, now: i64) -> Option<i64> {
    let days = h.provider.kind.provider().refresh_token_idle_days()?;
    let info = h.secrets.get(&SecretField::RefreshToken)?;
    let idle = clock::days_between(h.refresh_token_active.unwrap_or(info.changed), now);
    Some(days.saturating_sub(idle))
}

/// The worst state among an account's findings.
fn account_state(name: &str, findings: &[Finding]) -> State {
    findings
        .iter()
        .filter(|f| f.account.as_deref() == Some(name))
        .map(|f| f.state)
        .max()
        .unwrap_or(State::Ok)
}

#[allow(clippy::too_many_arguments)]
fn to_json(
    kc: &Keychain,
    key_store: &KeyStoreState,
    store: &StoreState,
    unlocked: Option<Option<i64>>,
    accounts: &[Header],
    findings: &[Finding],
    worst: State,
    now: i64,
) -> String {
    use crate::json;
    let accounts: Vec<Value> = accounts
        .iter()
        .map(|h| {
            let state = account_state(&h.name, findings);
            json!({
                "name": h.name,
                "provider": json::provider(&h.provider),
                "user": h.user,
                "last_logon": json::usage(h.last_logon.as_ref()),
                "last_use": json::usage(h.last_use.as_ref()),
                "refresh_token": h.has(SecretField::RefreshToken),
                "refresh_token_days_left": refresh_days_left(h, now),
                "logon_rejected": json::rejection(h.logon_rejected.as_ref()),
                "moving_to": h.moved_to,
                "ok": state == State::Ok,
                "state": state.name(),
            })
        })
        .collect();
    let findings: Vec<Value> = findings
        .iter()
        .map(|f| json::finding(f.state.severity(), f.code, f.account.as_deref(), &f.message))
        .collect();
    let (kind, location) = match &kc.config.store {
        crate::config::StoreKind::Local => ("local", kc.dir.join("accounts").display().to_string()),
        shared @ crate::config::StoreKind::Openbao(_) => ("openbao", shared.to_string()),
    };
    json::document(json!({
        "ok": findings.is_empty(),
        "state": worst.name(),
        "checked": json::time(now),
        "keychain": kc.dir.display().to_string(),
        "store": { "kind": kind, "location": location, "reachable": store.reachable },
        "key_store": { "kind": key_store.kind.to_string(), "answers": key_store.answers, "error": key_store.error },
        "unlocked": unlocked.is_some(),
        "unlocked_until": json::time_opt(unlocked.flatten()),
        "accounts": accounts,
        "findings": findings,
    }))
}

fn to_text(
    kc: &Keychain,
    key_store: &KeyStoreState,
    store: &StoreState,
    unlocked: Option<Option<i64>>,
    accounts: &[Header],
    findings: &[Finding],
    now: i64,
) -> String {
    use crate::output::{count, escape_value};
    let mut out = String::new();
    out.push_str(&format!(
        "Keychain   {} ({}{})\n",
        escape_value(&kc.dir.display().to_string()),
        escape_value(&kc.config.store.to_string()),
        if store.reachable { "" } else { ": unreachable" }
    ));
    let answer = match (key_store.answers, &key_store.error) {
        (Some(true), _) => "answers".to_string(),
        (Some(false), Some(e)) => format!("does not answer: {}", crate::table::error_class(e)),
        (Some(false), None) => "does not answer".to_string(),
        (None, _) => "not asked (it would need a passphrase)".to_string(),
    };
    out.push_str(&format!("Key store  {}: {answer}\n", key_store.kind));
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
                "renaming".to_string()
            } else if h.logon_rejected.is_some() {
                "rejected".to_string()
            } else {
                account_state(&h.name, findings).name().to_string()
            };
            let refresh_token = match refresh_days_left(h, now) {
                Some(d) if d <= 0 => "expired".to_string(),
                Some(d) => format!("{} left", count(d as usize, "day", "days")),
                None if h.has(SecretField::RefreshToken) => "present".to_string(),
                None => String::new(),
            };
            table.row(vec![
                h.name.clone(),
                logon.map(|u| clock::rfc3339(u.at)).unwrap_or_default(),
                logon
                    .map(|u| if u.ok { "ok" } else { "failed" }.to_string())
                    .unwrap_or_default(),
                refresh_token,
                state,
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
                "{:8}  {}{}: {}\n",
                f.state.severity(),
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
    use crate::providers::{ExactCountry, ProviderKind};
    use crate::record::{Account, Header, Provider};

    fn account(kind: ProviderKind, now: i64) -> Account {
        let mut provider = Provider::new(kind);
        provider.client_id = Some("cli".into());
        provider.redirect_uri = Some("http://127.0.0.1:8765/callback".into());
        provider.authorize_url = Some("http://127.0.0.1:9/auth".into());
        provider.token_url = Some("http://127.0.0.1:9/token".into());
        let mut account = Account::new(Header::new("a", provider, "u".into(), now));
        account.set_secret(SecretField::Password, Some("pw".to_string().into()), now);
        account
    }

    fn findings_at_idle(kind: ProviderKind, days: i64) -> Vec<&'static str> {
        let now = 1_700_000_000;
        let mut account = account(kind, now);
        account.set_secret(
            SecretField::RefreshToken,
            Some("rt-1".to_string().into()),
            now,
        );
        if kind.provider().requires_totp() {
            account.set_secret(
                SecretField::TotpSecret,
                Some("JBSWY3DPEHPK3PXP".to_string().into()),
                now,
            );
        }
        account.header.refresh_token_active = Some(now - days * 86_400);
        let mut out = Vec::new();
        account_findings(&account.header, now, &mut out);
        out.iter().map(|f| f.code).collect()
    }

    const EXACT: ProviderKind = ProviderKind::Exact(ExactCountry::Nl);

    /// Regression (merge of issues 10 and 14): status warned at 25 idle days, the report (and
    /// the documentation) from more than 25; both now keep one rule.
    #[test]
    fn status_warns_of_an_idle_refresh_token_as_the_report_does() {
        assert!(!findings_at_idle(EXACT, 25).contains(&"refresh-token-idle"));
        assert!(findings_at_idle(EXACT, 26).contains(&"refresh-token-idle"));
    }

    /// Regression (issue 18, item 4): the 30-day idle rule is Exact's; an OAuth2 account's
    /// refresh token, 40 days unused, is no finding.
    #[test]
    fn the_idle_rule_is_only_for_providers_that_have_it() {
        assert_eq!(findings_at_idle(EXACT, 40), ["refresh-token-expired"]);
        assert!(findings_at_idle(ProviderKind::Oauth2, 40).is_empty());
        assert!(findings_at_idle(ProviderKind::Oauth2, 26).is_empty());
    }

    #[test]
    fn the_worst_state_is_the_exit_status() {
        assert!(State::Critical > State::Unknown && State::Unknown > State::Warning);
        assert_eq!(State::Warning.exit_code(), 1);
        assert_eq!(State::Critical.exit_code(), 2);
        assert_eq!(State::Unknown.exit_code(), 3);
    }
}
