//! Findings about one account: its lockout guard, plain http, its refresh token's idle expiry,
//! its password's age and a missing second factor.

use crate::clock;
use crate::record::{Header, SecretField};

use super::model::AccountRow;
use super::{Finding, REFRESH_IDLE_DAYS, REFRESH_WARN_DAYS, ReportOptions, Severity};

/// Issue 8: a recorded rejection (logons are refused until a person acts) and an account that
/// sends credentials over plain http.
pub(super) fn logon_safety_findings(h: &Header, out: &mut Vec<Finding>) {
    let name = Some(h.name.as_str());
    if let Some(r) = &h.logon_rejected {
        out.push(Finding::new(
            Severity::High,
            "logon-rejected",
            name,
            format!(
                "the provider rejected the {} at {} (run by {}); keychain refuses logons until the password or TOTP secret is changed with 'keychain set' or one 'keychain login --retry'",
                r.step,
                clock::rfc3339(r.at),
                r.by
            ),
        ).about(&r.at.to_string()));
    }
    if h.provider.insecure_http {
        out.push(Finding::new(
            Severity::Medium,
            "insecure-http",
            name,
            "the account was allowed (--insecure-http) to send its credentials over plain http to a host other than loopback".into(),
        ));
    }
}

pub(super) fn account_findings(
    h: &Header,
    a: &AccountRow,
    args: &ReportOptions,
    out: &mut Vec<Finding>,
) {
    let name = Some(h.name.as_str());
    logon_safety_findings(h, out);
    if let Some(rt) = &a.refresh_token
        && let Some(days_left) = rt.days_left
    {
        // Only for a provider with an idle rule (Exact's 30 days); one finding per idle spell.
        let rule = h
            .provider
            .kind
            .provider()
            .refresh_token_idle_days()
            .unwrap_or(REFRESH_IDLE_DAYS);
        if days_left <= 0 {
            out.push(
                Finding::new(
                    Severity::High,
                    "refresh-token-expired",
                    name,
                    format!(
                        "the refresh token has been idle {}: past the provider's {rule}-day idle expiry; the next logon must be headless",
                        crate::text::count(rt.idle_days.max(0) as usize, "day", "days"),
                    ),
                )
                .about(&rt.active.to_string()),
            );
        } else if rt.idle_days > REFRESH_WARN_DAYS.min(rule - 1) {
            out.push(
                Finding::new(
                    Severity::Medium,
                    "refresh-token-idle",
                    name,
                    format!(
                        "the refresh token has been idle {}: it expires in {}; run 'keychain refresh --all' from cron",
                        crate::text::count(rt.idle_days.max(0) as usize, "day", "days"),
                        crate::text::count(days_left.max(0) as usize, "day", "days")
                    ),
                )
                .about(&rt.active.to_string()),
            );
        }
    }
    if let Some(age) = a.password_age_days
        && age > i64::from(args.max_password_age)
    {
        out.push(
            Finding::new(
                Severity::Medium,
                "password-old",
                name,
                format!(
                    "the password is {age} days old (more than --max-password-age {})",
                    args.max_password_age
                ),
            )
            // Acknowledged for this password: a new one that grows old is a new finding.
            .about(
                &h.secrets
                    .get(&SecretField::Password)
                    .map_or(0, |i| i.changed)
                    .to_string(),
            ),
        );
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
        out.push(Finding::new(
            severity,
            "no-second-factor",
            name,
            format!("no TOTP secret: {why}"),
        ));
    }
}
