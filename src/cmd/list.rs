//! `keychain list`: accounts from their public headers, without the key; never a secret.

use serde_json::json;

use crate::cli::ListArgs;
use crate::clock;
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::record::{Header, SecretField};
use crate::store::StoreError;

pub fn run(kc: &Keychain, args: ListArgs) -> Result<()> {
    let now = kc.now();
    let wanted = NameFilter::new(args.pattern.as_deref())?;
    let mut rows = Vec::new();
    let mut damaged = Vec::new();
    let names: Vec<String> = super::account_names(kc)?
        .into_iter()
        .filter(|n| wanted.matches(n))
        .collect();
    for (name, header) in names.iter().zip(kc.peek_many(&names)) {
        match header {
            Ok(header) => rows.push(header),
            Err(e) => {
                // Under --json, standard error carries one JSON object: the error below, which
                // then says why each record could not be read.
                if args.json {
                    damaged.push(format!("{name} ({e})"));
                    continue;
                }
                crate::output::err(&format!("error: {e}\n"))?;
                if let Error::Store(StoreError::WritableByOthers { fix, .. }) = &e {
                    crate::output::err(&format!("hint: {fix}\n"))?;
                }
                damaged.push(name.clone());
            }
        }
    }
    if args.json {
        crate::output::raw(to_json(&rows, now).as_bytes())?;
    } else {
        crate::output::out(&to_table(&rows, now))?;
    }
    for h in &rows {
        if let Some(new) = &h.moved_to {
            crate::output::err(&format!(
                "warning: '{}' is being renamed to '{new}' (an interrupted 'keychain mv'); finish it with: keychain mv {} {new}\n",
                h.name, h.name
            ))?;
        }
    }
    if damaged.is_empty() {
        Ok(())
    } else {
        Err(Error::Integrity {
            path: kc.dir.join("accounts"),
            reason: format!(
                "{} could not be read: {}",
                crate::output::count(damaged.len(), "record", "records"),
                damaged.join(", ")
            ),
        })
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
