//! `keychain list`: accounts from their public headers, without the key; never a secret.

use clap::Args;
use serde_json::json;

use crate::clock;
use crate::cmd::Ctx;
use crate::error::{Error, Result};
use crate::record::{Header, SecretField};
use crate::store::StoreError;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the accounts whose name matches: a shell-style pattern (*, ?, [abc]); without
    /// wildcards, the names that contain it
    #[arg(value_name = "PATTERN")]
    pub pattern: Option<String>,
}

pub fn run(ctx: &Ctx, args: ListArgs) -> Result<()> {
    let (kc, json) = (&ctx.open()?, ctx.json());
    let now = kc.now();
    let wanted = NameFilter::new(args.pattern.as_deref())?;
    let list = crate::ops::list::list(kc, |name| wanted.matches(name))?;
    list.strays
        .iter()
        .for_each(|stray| super::warn_stray(stray));
    // Under --json, standard error carries one JSON object: the error returned below, which
    // then says why each record could not be read.
    if !json {
        for (_, e) in &list.unreadable {
            crate::output::err(&format!("error: {e}\n"))?;
            if let Error::Store(StoreError::WritableByOthers { fix, .. }) = e {
                crate::output::err(&format!("hint: {fix}\n"))?;
            }
        }
    }
    if json {
        crate::output::raw(to_json(&list.headers, now).as_bytes())?;
    } else {
        crate::output::out(&to_table(&list.headers, now))?;
    }
    for h in &list.headers {
        if let Some(new) = &h.moved_to {
            crate::output::err(&format!(
                "warning: '{}' is being renamed to '{new}' (an interrupted 'keychain mv'); finish it with: keychain mv {} {new}\n",
                h.name, h.name
            ))?;
        }
    }
    match list.unreadable_error(json) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `list PATTERN`: a shell-style glob over the name, or (without wildcards) a substring.
pub struct NameFilter(Option<glob::Pattern>);

impl NameFilter {
    pub fn new(pattern: Option<&str>) -> Result<Self> {
        let Some(pattern) = pattern else {
            return Ok(NameFilter(None));
        };
        let glob = if pattern.contains(['*', '?', '[']) {
            pattern.to_string()
        } else {
            format!("*{}*", glob::Pattern::escape(pattern))
        };
        glob::Pattern::new(&glob)
            .map(|p| NameFilter(Some(p)))
            .map_err(|e| {
                Error::usage_hint(
                    format!("'{pattern}' is not a valid pattern: {}", e.msg),
                    "use * for any characters, ? for one, [abc] for one of a set",
                )
            })
    }

    pub fn matches(&self, name: &str) -> bool {
        self.0.as_ref().is_none_or(|p| p.matches(name))
    }
}

fn to_json(rows: &[Header], now: i64) -> String {
    let accounts: Vec<_> = rows.iter().map(|h| crate::json::account(h, now)).collect();
    crate::json::document(json!({ "accounts": accounts }))
}

fn to_table(rows: &[Header], now: i64) -> String {
    let mut table = crate::table::Table::new(&["NAME", "PROVIDER", "USER", "SECRETS (AGE)"]);
    for h in rows {
        let secrets: Vec<String> = SecretField::ALL
            .iter()
            .filter_map(|f| {
                h.secrets
                    .get(f)
                    .map(|info| format!("{}({})", f.as_str(), clock::age(info.changed, now)))
            })
            .collect();
        table.row(vec![
            h.name.clone(),
            h.provider.kind.to_string(),
            h.user.clone(),
            secrets.join(" "),
        ]);
    }
    table.render()
}
