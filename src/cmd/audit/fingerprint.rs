//! `keychain audit fingerprint NAME FIELD`: the fingerprint of a value read from standard input
//! (never from the command line), to answer "is this leaked value ours?" without the log ever
//! holding the value. Prints the fingerprint; says on standard error whether it is the current
//! value of NAME's FIELD and where the log mentions it (`ops::audit::fingerprint`, which records
//! the test before anything is printed). Exit 0 when the value is NAME's current FIELD, 1 when
//! it is not.

use clap::Args;

use secrecy::ExposeSecret;

use crate::error::{Error, Result};
use crate::input::SecretSource;
use crate::keychain::Keychain;
use crate::ops::audit::fingerprint::{FingerprintOptions, Fingerprinted, fingerprint};
use crate::record::SecretField;

use crate::cmd::shared_args::{RevealField, account_names};

#[derive(Debug, Args)]
pub struct FingerprintArgs {
    /// The account whose stored value the fingerprint is compared with
    #[arg(add = account_names())]
    pub name: String,
    /// The field the value belongs to
    #[arg(value_enum)]
    pub field: RevealField,
}

pub fn run(kc: &Keychain, args: FingerprintArgs, json: bool) -> Result<crate::outcome::Outcome> {
    let field = SecretField::from(args.field);
    let value = SecretSource::Stdin.read(field.as_str())?;
    if value.expose_secret().is_empty() {
        return Err(Error::usage_hint(
            format!("no {field} on standard input"),
            format!(
                "pipe the value in: keychain audit fingerprint {} {field} < FILE",
                args.name
            ),
        ));
    }
    let Fingerprinted {
        fingerprint,
        short,
        current,
        log: lines,
    } = fingerprint(
        kc,
        FingerprintOptions {
            name: args.name.clone(),
            field,
            value,
        },
    )?;
    if json {
        let seen: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| {
                // An account's name is `name` in every document; a line about no account
                // has none.
                let mut hit = serde_json::json!({
                    "file": l.file.display().to_string(),
                    "line": l.line,
                    "seq": l.seq,
                    "time": l.time,
                    "action": l.action,
                });
                if let Some(name) = &l.account {
                    hit["name"] = name.clone().into();
                }
                hit
            })
            .collect();
        crate::output::raw(
            crate::json::document(serde_json::json!({
                // `ok`: the value is NAME's current FIELD (the exit status 0).
                "ok": current == Some(true),
                "name": args.name,
                "field": field.as_str(),
                "fingerprint": fingerprint,
                "current": current,
                "log": seen,
            }))
            .as_bytes(),
        )?;
        return Ok(crate::outcome::Outcome::findings_if(current != Some(true)));
    }
    let seen: Vec<String> = lines
        .into_iter()
        .map(|l| {
            format!(
                "  {} line {} (seq {}, {}, {} {})",
                l.file.display(),
                l.line,
                l.seq,
                l.time,
                l.action,
                l.account.as_deref().unwrap_or("-")
            )
        })
        .collect();
    crate::output::out(&format!("{fingerprint}\n"))?;
    let verdict = match current {
        Some(true) => format!(
            "This is the current {field} of '{}' ('keychain show' displays it as {short}).\n",
            args.name
        ),
        Some(false) => format!(
            "This is not the current {field} of '{}' ('keychain show' would display it as {short}).\n",
            args.name
        ),
        None => format!(
            "There is no account '{}' now; compared with the log only.\n",
            args.name
        ),
    };
    crate::output::err(&verdict)?;
    if seen.is_empty() {
        crate::output::err(&format!(
            "The audit log holds no {field} with this fingerprint.\n"
        ))?;
    } else {
        crate::output::err(&format!(
            "The audit log holds this {field} fingerprint at:\n{}\n",
            seen.join("\n")
        ))?;
    }
    // Scripts ask "is this leaked value ours?" with the status: 0 yes, 1 no.
    Ok(crate::outcome::Outcome::findings_if(current != Some(true)))
}
