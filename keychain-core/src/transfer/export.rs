//! The export format, written: every account with its secrets, encrypted to one age public key,
//! for a backup or a move to another machine.
//!
//! An export is an age file whose plaintext is JSON `{"format": "keychain-export/1",
//! "exported": RFC 3339, "accounts": [{"header": {...}, "secrets": {"password": "...", ...}}]}`
//! ([`FORMAT`] names the version; a reader refuses any other). Headers are the records' own
//! (ages and last use survive a restore), their token times on the exporting machine's clock
//! (a shared keychain keeps them on the store's; an import converts them back). Access tokens are left out: they live minutes and a
//! backup should hold no more than it must; the restored account fetches a new one. Only
//! [`super::import`] with the matching identity reads it back.
//!
//! Order: every record is opened first (a damaged one fails the export before anything is
//! written), the export is recorded in the audit log (no audit, no export), then the caller
//! writes the ciphertext (a file, atomically with mode 0600, or standard output). The plaintext
//! lives in a zeroized buffer only.

use secrecy::ExposeSecret;
use serde::Serialize;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

use crate::audit::Action;
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::record::{Account, Header, SecretField};

/// The version of the export format this keychain writes and reads.
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

/// The export of the accounts `names`, encrypted to `recipient`: the bytes to write to
/// `target` (a file's name, or "standard output", as the audit line names it). Every record is
/// opened first (a damaged one fails the export before anything is recorded), then the export
/// is recorded in the audit log (no audit, no export); the caller writes the bytes only after
/// this returns, and checks before calling that they can be written (see the command line's
/// one rule for output files).
pub fn export(
    kc: &Keychain,
    names: &[String],
    recipient: &age::x25519::Recipient,
    target: &str,
) -> Result<Vec<u8>> {
    // Every record is opened: one pass over the log for the replay checks, not one per account.
    kc.load_counters()?;
    let mut accounts: Vec<Account> = Vec::with_capacity(names.len());
    for name in names {
        accounts.push(kc.read(name)?.0);
    }
    // An export carries its token times on this machine's clock, as its `exported` stamp: a
    // shared keychain's records keep them on the store's (read after the store answered).
    let records = kc.records_clock();
    for account in &mut accounts {
        account.header = account.header.token_times_on_our_clock(&records);
    }
    let ciphertext = seal(&accounts, kc.now(), recipient)?;
    drop(accounts);

    for name in names {
        kc.log_event(Event::new(format!("export to {target}"), Action::Export).account(name))?;
    }
    if names.is_empty() {
        kc.log_event(Event::new(format!("export to {target}"), Action::Export))?;
    }
    Ok(ciphertext)
}

/// The export of `accounts` made at `now`, encrypted to `recipient`: the bytes of the file.
pub fn seal(accounts: &[Account], now: i64, recipient: &age::x25519::Recipient) -> Result<Vec<u8>> {
    let out = ExportOut {
        format: FORMAT,
        exported: crate::clock::rfc3339(now),
        accounts: accounts.iter().map(account_out).collect(),
    };
    // Sized up front so that growing never leaves an unzeroized copy of a secret behind.
    let estimate = 64 * 1024 + accounts.len() * 16 * 1024;
    let mut plaintext = Zeroizing::new(Vec::with_capacity(estimate));
    serde_json::to_writer(&mut *plaintext, &out).expect("export serialises");
    crate::crypto::encrypt(&plaintext, &[recipient as &dyn age::Recipient])
        .map_err(|e| Error::usage(format!("cannot encrypt the export: {e}")))
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
