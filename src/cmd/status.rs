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
//!
//! The checks and their findings are the core's (`ops::status`); this file parses the
//! arguments, calls it and renders what it found.

use clap::Args;

use serde_json::{Value, json};

use crate::choice::Choice;
use crate::clock;
use crate::error::Result;
use crate::keychain::Keychain;
use crate::ops::status::{State, Status, StatusOptions, refresh_days_left};
use crate::outcome::{Outcome, nagios};
use crate::record::SecretField;
use crate::table::Table;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Check only these accounts: names, or shell-style patterns (*, ?, [abc]); a name that
    /// does not exist, or a pattern that matches none, is an unknown (exit 3)
    #[arg(value_name = "NAME|PATTERN", add = super::shared_args::account_names())]
    pub names: Vec<String>,
}

pub fn run(ctx: &super::Ctx, kc: &Keychain, args: StatusArgs) -> Result<Outcome> {
    let opts = StatusOptions { names: args.names };
    let status = crate::ops::status::check(kc, &opts, &mut |stray| super::warn_stray(stray))?;
    let worst = status.worst();
    if ctx.json() {
        crate::output::raw(to_json(kc, &status).as_bytes())?;
    } else {
        crate::output::out_with_severities(&to_text(kc, &status))?;
    }
    Ok(match worst {
        State::Ok => Outcome::Success,
        State::Warning => Outcome::Findings,
        state => Outcome::Failed(exit_code(state)),
    })
}

/// A state's exit status, as monitoring plugins give it.
fn exit_code(state: State) -> i32 {
    match state {
        State::Ok => nagios::OK,
        State::Warning => nagios::WARNING,
        State::Critical => nagios::CRITICAL,
        State::Unknown => nagios::UNKNOWN,
    }
}

fn to_json(kc: &Keychain, status: &Status) -> String {
    use crate::json;
    let now = status.checked;
    let accounts: Vec<Value> = status
        .accounts
        .iter()
        .map(|h| {
            let state = status.account_state(&h.name);
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
    let (kind, location) = match &kc.config.store {
        crate::store::StoreKind::Local => ("local", kc.dir.join("accounts").display().to_string()),
        shared @ crate::store::StoreKind::Openbao(_) => ("openbao", shared.to_string()),
    };
    let key_store = &status.key_store;
    let unlocked = status.unlocked_until;
    json::document(json!({
        // Nothing open: an acknowledged finding is listed but no longer counts.
        "ok": status.worst() == State::Ok,
        "state": status.worst().name(),
        "checked": json::time(now),
        "keychain": kc.dir.display().to_string(),
        "store": { "kind": kind, "location": location, "reachable": status.store_reachable },
        "key_store": { "kind": key_store.kind.to_string(), "answers": key_store.answers, "error": key_store.error },
        "unlocked": unlocked.is_some(),
        "unlocked_until": json::time_opt(unlocked.flatten()),
        "accounts": accounts,
        "findings": status.findings,
    }))
}

fn to_text(kc: &Keychain, status: &Status) -> String {
    use crate::output::{count, escape_value};
    let now = status.checked;
    let key_store = &status.key_store;
    let unlocked = status.unlocked_until;
    let findings = &status.findings;
    let mut out = String::new();
    out.push_str(&format!(
        "Keychain   {} ({}{})\n",
        escape_value(&kc.dir.display().to_string()),
        escape_value(&kc.config.store.to_string()),
        if status.store_reachable {
            ""
        } else {
            ": unreachable"
        }
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
            crate::text::duration(std::time::Duration::from_secs(
                t.saturating_sub(now).max(0) as u64 / 60 * 60
            ))
        ),
    });
    if !status.accounts.is_empty() {
        out.push('\n');
        let mut table = Table::new(&["ACCOUNT", "LAST LOGON", "RESULT", "REFRESH TOKEN", "STATE"]);
        for h in &status.accounts {
            let logon = h.last_logon.as_ref();
            let state = if h.moved_to.is_some() {
                "renaming".to_string()
            } else if h.logon_rejected.is_some() {
                "rejected".to_string()
            } else {
                status.account_state(&h.name).name().to_string()
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
    let open = findings.iter().filter(|f| f.is_open()).count();
    if findings.is_empty() {
        out.push_str("All well: nothing found that would stop a job.\n");
    } else if open == 0 {
        out.push_str("All well: every finding is acknowledged ('keychain audit ack').\n");
    }
    for f in findings {
        out.push_str(&finding_lines(f));
    }
    if !findings.is_empty() {
        let acknowledged = findings.len() - open;
        out.push_str(&format!(
            "{}{}.\n",
            count(findings.len(), "finding", "findings"),
            if acknowledged > 0 {
                format!(", {acknowledged} acknowledged")
            } else {
                String::new()
            }
        ));
    }
    out
}

/// A finding as `status` and the audit report print it: `SEVERITY  ACCOUNTS: CODE: MESSAGE`,
/// then its id and, once acknowledged, by whom and when.
pub fn finding_lines(f: &crate::ops::finding::Finding) -> String {
    use crate::output::escape_value;
    let accounts = if f.accounts.is_empty() {
        String::new()
    } else {
        format!("{}: ", escape_value(&f.accounts.join(", ")))
    };
    let mut out = format!(
        "{:8}  {accounts}{}: {}\n",
        f.severity.name(),
        f.code,
        escape_value(&f.message)
    );
    out.push_str(&format!("{:8}  {}\n", "", escape_value(&id_line(f))));
    out
}

/// The line under a finding: its id, the audit-log lines it rests on, and whether (by whom)
/// it was acknowledged.
pub fn id_line(f: &crate::ops::finding::Finding) -> String {
    const SHOWN: usize = 10;
    let mut line = format!("id {}", f.id);
    if !f.events.is_empty() {
        let mut seqs: Vec<String> = f.events.iter().take(SHOWN).map(u64::to_string).collect();
        if f.events.len() > SHOWN {
            seqs.push(format!("and {} more", f.events.len() - SHOWN));
        }
        line.push_str(&format!("; audit log seq {}", seqs.join(", ")));
    }
    match &f.acknowledged {
        Some(a) => line.push_str(&format!(
            "; acknowledged by {} at {} (audit log seq {})",
            a.by, a.at, a.seq
        )),
        None => line.push_str(&format!("; acknowledge with 'keychain audit ack {}'", f.id)),
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order of the states is the core's (`ops::status`); their exit codes are these.
    #[test]
    fn the_worst_state_is_the_exit_status() {
        assert_eq!(exit_code(State::Warning), 1);
        assert_eq!(exit_code(State::Critical), 2);
        assert_eq!(exit_code(State::Unknown), 3);
    }
}
