//! One row per account: what is stored, how old it is, and its use from the audit log's lines.

use std::collections::BTreeMap;

use crate::audit::lines::Line;
use crate::clock;
use crate::keychain::Keychain;
use crate::record::{Header, SecretField};

use super::DAY;
use super::model::{AccountRow, RecipientRow, RefreshInfo, Use};

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

pub(super) fn recipients(kc: &Keychain) -> Vec<RecipientRow> {
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

pub(super) fn days(since: i64, now: i64) -> i64 {
    clock::days_between(since, now)
}

/// `mine`: the account's lines of the log, in log order.
pub(super) fn row(h: &Header, mine: &[&Line], now: i64) -> AccountRow {
    let age = |f: SecretField| h.secrets.get(&f).map(|i| days(i.changed, now));
    let refresh_token = h.secrets.get(&SecretField::RefreshToken).map(|info| {
        // A shared record's last use is on the store's clock: read, counted and shown on ours
        // (issue 19), as `status`, `show` and `list` show it.
        let active = h.refresh_token_active.map_or(
            info.changed,
            crate::ops::login::stored_time_on_our_clock_early,
        );
        let idle = days(active, now);
        // Only a provider with an idle rule (Exact's 30 days) lets an unused token die.
        let idle_rule = h.provider.kind.provider().refresh_token_idle_days();
        RefreshInfo {
            age_days: days(info.changed, now),
            idle_days: idle,
            active,
            days_left: idle_rule.map(|rule| rule.saturating_sub(idle)),
            expires_at: idle_rule.map(|rule| active.saturating_add(rule.saturating_mul(DAY))),
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

/// What became of a use, from its log line: `ok`, or the failure and its reason.
pub(super) fn result_of(l: &Line) -> String {
    match (l.action.as_str(), l.outcome.as_str()) {
        ("login_failed", _) => format!("failed: {}", l.detail.as_deref().unwrap_or("")),
        ("chain_broken", _) => "refresh token rejected".into(),
        (_, "ok") => "ok".into(),
        _ => format!("error: {}", l.reason.as_deref().unwrap_or("")),
    }
}
