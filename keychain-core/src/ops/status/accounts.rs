//! An account's findings: what a logon would need and lacks, its last result, the lockout
//! guard, the provider's error budget, the refresh token's days left and an interrupted rename.

use crate::clock;
use crate::clock::reference::Now;
use crate::record::{Header, SecretField};

// A refresh token idle more than this many days (of its provider's idle rule, Exact's 30) is a
// warning, as the audit report says.
use super::super::report::{REFRESH_IDLE_DAYS, REFRESH_WARN_DAYS};
use super::{Finding, Severity};

/// `h`'s token times on this machine's clock, as `login` judges them (see
/// [`Header::token_times_on_our_clock`]).
pub(super) fn on_our_clock(h: &Header, records: &Now) -> Header {
    h.token_times_on_our_clock(records)
}

/// `h`'s findings at `records` (the clock its records keep their times on, read now; see
/// [`on_our_clock`]).
pub(super) fn account_findings(h: &Header, records: &Now, out: &mut Vec<Finding>) {
    let name = h.name.as_str();
    let now = records.local;
    // The numbers are judged on our clock; each finding's id stays over the stored time, the
    // same on every member and at every check (an acknowledgement must keep matching it).
    let ours = on_our_clock(h, records);
    // Each finding's id is over its account and what it is about (a rename's target, the time
    // of a rejection or a failure, the idle spell), so an acknowledgement holds for this
    // occurrence only.
    let mut finding = |severity, code, subject: String, message| {
        out.push(Finding::new(severity, code, Some(name), message).about(&subject))
    };
    if let Some(new) = &h.moved_to {
        finding(
            Severity::Critical,
            "interrupted-rename",
            new.clone(),
            format!(
                "being renamed to '{new}': logons are refused; finish with 'keychain mv {name} {new}'"
            ),
        );
    }
    if let Some(r) = &h.logon_rejected {
        finding(
            Severity::Critical,
            "logon-rejected",
            r.at.to_string(),
            format!(
                "the provider rejected the {} at {}: logons are refused until 'keychain set {name} --password-file FILE' (or --totp-file) or 'keychain login {name} --retry'",
                r.step,
                clock::rfc3339(r.at),
            ),
        );
    }
    // The provider's own settings check, as `add` makes it: what every logon and refresh needs.
    if let Err(e) = crate::validate::provider(&h.provider, crate::providers::ProviderRule::Complete)
    {
        let hint = e.hint().unwrap_or_default();
        finding(
            Severity::Critical,
            "incomplete-settings",
            String::new(),
            format!("{e}: no logon or refresh can start; {hint} with 'keychain set {name}'"),
        );
    }

    let provider = h.provider.kind.provider();
    let days_left = refresh_days_left(&ours, now);
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
            Severity::Critical,
            "cannot-log-on",
            String::new(),
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
            Severity::High,
            "logon-incomplete",
            String::new(),
            format!(
                "once the refresh token is gone, the headless logon would fail: it needs {}; {fix}",
                lacks.join(", ")
            ),
        );
    }
    let idle_spell = h
        .refresh_token_active
        .or_else(|| h.secrets.get(&SecretField::RefreshToken).map(|i| i.changed))
        .unwrap_or_default()
        .to_string();
    match days_left {
        Some(left) if left <= 0 && lacks.is_empty() => finding(
            Severity::High,
            "refresh-token-expired",
            idle_spell.clone(),
            format!(
                "the refresh token is past its {}-day idle expiry: the next logon is headless (password and code)",
                provider
                    .refresh_token_idle_days()
                    .unwrap_or(REFRESH_IDLE_DAYS)
            ),
        ),
        // Idle more than REFRESH_WARN_DAYS, as the report and its documentation say.
        Some(left) if left > 0 && left < REFRESH_IDLE_DAYS - REFRESH_WARN_DAYS => finding(
            Severity::High,
            "refresh-token-idle",
            idle_spell,
            format!(
                "the refresh token expires in {} if unused: run 'keychain refresh --all' from cron",
                crate::text::count(left as usize, "day", "days")
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
                Severity::Critical,
                "last-logon-failed",
                last.at.to_string(),
                format!(
                    "the last headless logon failed ({} by {}): 'keychain login {name}' shows why",
                    clock::rfc3339(last.at),
                    last.by
                ),
            );
        } else if !logon_failed {
            finding(
                Severity::High,
                "last-login-failed",
                last.at.to_string(),
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
        let mut errors = ours.provider_errors.clone();
        if let Err(e) = admission.check_errors(&mut errors, now) {
            finding(
                Severity::High,
                "error-budget",
                String::new(),
                format!(
                    "{e}: logins wait until then ({})",
                    crate::exit::Failure::hint(&e).unwrap_or_default()
                ),
            );
        }
    }
}

/// Days until the refresh token's idle expiry, for a provider that has such a rule (Exact's 30
/// days); `None` without a refresh token or without the rule.
pub fn refresh_days_left(h: &Header, now: i64) -> Option<i64> {
    let days = h.provider.kind.provider().refresh_token_idle_days()?;
    let info = h.secrets.get(&SecretField::RefreshToken)?;
    let idle = clock::days_between(h.refresh_token_active.unwrap_or(info.changed), now);
    Some(days.saturating_sub(idle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ProviderSettings;
    use crate::providers::{ExactCountry, ProviderKind};
    use crate::record::{Account, Header};

    fn account(kind: ProviderKind, now: i64) -> Account {
        let mut provider = ProviderSettings::new(kind);
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
        account_findings(&account.header, &Now::local(now), &mut out);
        out.iter().map(|f| f.code).collect()
    }

    /// A shared keychain's member whose clock is `ahead` seconds off the store's, at `store_now`
    /// on the store's clock (as `login` reads it: `cache::now`).
    fn member(store_now: i64, ahead: i64) -> Now {
        use crate::clock::reference::Offset;
        let ours =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs((store_now + ahead) as u64);
        Now::at(ours, Some(Offset::between(-ahead, -ahead)))
    }

    /// Issue 19 (the clock class of issue 20): a shared record keeps its errors on the store's
    /// clock. A member behind judged them against its own `now` and showed the budget spent
    /// (logins "wait") after `login` had admitted again; a member ahead showed nothing while
    /// `login` still refused. Status now judges at the clock `login` reads.
    #[test]
    fn on_a_member_off_the_store_clock_status_shows_the_error_budget_as_login_judges_it() {
        let t = 1_700_000_000;
        let mut account = account(EXACT, t);
        let budget = |account: &Account, now: &Now| {
            let mut out = Vec::new();
            account_findings(&account.header, now, &mut out);
            out.iter().any(|f| f.code == "error-budget")
        };
        account.header.provider_errors = vec![t; crate::providers::exact::ERROR_BUDGET];
        for ahead in [-120, 0, 120] {
            // Ten seconds after the hour on the store's clock, login admits again; ten before,
            // it refuses.
            assert!(!budget(&account, &member(t + 3610, ahead)), "{ahead}");
            assert!(budget(&account, &member(t + 3590, ahead)), "{ahead}");
        }
        // What the member's own clock alone said (before): wrong both ways.
        assert!(budget(&account, &Now::local(t + 3610 - 120)));
        assert!(!budget(&account, &Now::local(t + 3590 + 120)));
    }

    /// The same for the refresh token's idle days: a member 2 minutes behind counted a day
    /// short just after a day's turn (no warning on day 26).
    #[test]
    fn on_a_member_behind_the_store_clock_idle_days_are_not_counted_short() {
        let t = 1_700_000_000;
        let mut account = account(EXACT, t);
        account.set_secret(SecretField::RefreshToken, Some("rt".to_string().into()), t);
        account.header.refresh_token_active = Some(t);
        let store_now = t + 26 * 86_400 + 60;
        for ahead in [-120, 0, 120] {
            let records = member(store_now, ahead);
            assert_eq!(
                refresh_days_left(&on_our_clock(&account.header, &records), records.local),
                Some(4),
                "{ahead}"
            );
            let mut out = Vec::new();
            account_findings(&account.header, &records, &mut out);
            assert!(
                out.iter().any(|f| f.code == "refresh-token-idle"),
                "{ahead}"
            );
        }
        assert_eq!(refresh_days_left(&account.header, store_now - 120), Some(5));
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

    /// The exit codes of these states are the CLI's (`cmd::status`); the order is the core's.
    #[test]
    fn the_worst_state_is_the_exit_status() {
        use super::super::State;
        assert!(State::Critical > State::Unknown && State::Unknown > State::Warning);
        // Status's severities map back to the states they always had.
        assert_eq!(State::of(Severity::High), State::Warning);
        assert_eq!(State::of(Severity::Unknown), State::Unknown);
        assert_eq!(State::of(Severity::Critical), State::Critical);
    }
}
