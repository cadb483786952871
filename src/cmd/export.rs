//! `keychain export --recipient AGE_PUBLIC_KEY FILE`: every account with its secrets, encrypted
//! to one age public key, for a backup or a move to another machine.
//!
//! Format (documented in the man page of `import`): an age file whose plaintext is JSON
//! `{"format": "keychain-export/1", "exported": RFC 3339, "accounts": [{"header": {...},
//! "secrets": {"password": "...", ...}}]}`. Headers are the records' own (ages and last use
//! survive a restore). Access tokens are left out: they live minutes and a backup should hold no
//! more than it must; the restored account fetches a new one. Only `import` with the matching
//! identity reads it back.
//!
//! Order: every record is opened first (a damaged one fails the export before anything is
//! written), the export is recorded in the audit log (no audit, no export), then the file is
//! written atomically with mode 0600 through a unique temporary file beside it, never replacing
//! a file or link of that name (see `fsutil::write_output`). The plaintext lives in a zeroized buffer only.

use std::collections::BTreeMap;

use secrecy::ExposeSecret;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::audit::Event;
use crate::cli::ExportArgs;
use crate::config::parse_recipient;
use crate::error::{Error, Result};
use crate::fsutil::{Existing, FILE_MODE, write_output};
use crate::keychain::Keychain;
use crate::record::{Account, Header, SecretField};
use crate::trail::{self, Action};

pub const FORMAT: &str = "keychain-export/1";

#[derive(Serialize)]
struct ExportOut<'a> {
    format: &'static str,
    exported: String,
    accounts: Vec<AccountOut<'a>>,
}

#[derive(Serialize)]
struct AccountOut<'a> {
    header: Header,
    secrets: BTreeMap<SecretField, &'a str>,
}

pub fn run(kc: &Keychain, args: ExportArgs) -> Result<()> {
    let recipient = parse_recipient(&args.recipient)?;
    // Checked early so that nothing is audited for an export that cannot be written; the write
    // itself refuses an existing name atomically. `symlink_metadata`: a dangling link counts.
    if std::fs::symlink_metadata(&args.file).is_ok() {
        return Err(exists(&args.file));
    }

    let names = super::account_names(kc)?;
    // Every record is opened: one pass over the log for the replay checks, not one per account.
    kc.load_counters()?;
    let mut accounts: Vec<Account> = Vec::with_capacity(names.len());
    for name in &names {
        accounts.push(kc.read(name)?.0);
    }

    let out = ExportOut {
        format: FORMAT,
        exported: crate::clock::rfc3339(kc.now()),
        accounts: accounts.iter().map(account_out).collect(),
    };
    // Sized up front so that growing never leaves an unzeroized copy of a secret behind.
    let estimate = 64 * 1024 + accounts.len() * 16 * 1024;
    let mut plaintext = Zeroizing::new(Vec::with_capacity(estimate));
    serde_json::to_writer(&mut *plaintext, &out).expect("export serialises");
    let ciphertext = crate::crypto::encrypt(&plaintext, &[&recipient as &dyn age::Recipient])
        .map_err(|e| Error::usage(format!("cannot encrypt the export: {e}")))?;
    drop(out);
    drop(plaintext);

    let target = args.file.display().to_string();
    for name in &names {
        trail::record(
            kc,
            Event::new(format!("export to {target}"), Action::Export).account(name),
        )?;
    }
    if names.is_empty() {
        trail::record(
            kc,
            Event::new(format!("export to {target}"), Action::Export),
        )?;
    }
    write_output(&args.file, &ciphertext, FILE_MODE, Existing::Refuse).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            exists(&args.file)
        } else {
            Error::io(format!("cannot write {target}"), e)
        }
    })?;
    crate::output::after_save(crate::output::err(&format!(
        "Exported {} to {target}, encrypted to {}; restore with 'keychain import {target} --identity FILE'.\n",
        crate::output::count(names.len(), "account", "accounts"),
        args.recipient.trim()
    )));
    Ok(())
}

fn exists(path: &std::path::Path) -> Error {
    Error::usage_hint(
        format!("{} exists already", path.display()),
        "choose a new file name; an export never overwrites a file",
    )
}

/// An account as exported: its header without the access token's fields, and its secrets
/// except the access token.
fn account_out(account: &Account) -> AccountOut<'_> {
    let mut header = account.header.clone();
    header.secrets.remove(&SecretField::AccessToken);
    header.access_token_expires = None;
    header.access_token_issued = None;
    header.access_token_scope = None;
    header.access_token_type = None;
    let secrets = SecretField::ALL
        .iter()
        .filter(|f| **f != SecretField::AccessToken)
        .filter_map(|f| account.secret(*f).map(|v| (*f, v.expose_secret())))
        .collect();
    AccountOut { header, secrets }
}
