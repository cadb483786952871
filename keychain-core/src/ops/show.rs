//! `show`: one account with a short fingerprint of each secret, or exactly one secret revealed.
//!
//! A person recognises a secret by its fingerprint (`fp:3f9a1c`, the start of the audit log's
//! keyed HMAC, which `audit fingerprint` prints whole), never by a part of it: the last
//! characters of a password are often the guessable part.

use secrecy::SecretString;

use crate::audit::Action;
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::name::AccountName;
use crate::record::{Account, SecretField};

/// Which account to show, and whether to reveal one secret instead.
#[derive(Debug, Clone)]
pub struct ShowOptions {
    /// The account.
    pub name: AccountName,
    /// The one secret to reveal; `None` shows the account with fingerprints.
    pub reveal: Option<SecretField>,
}

/// What `show` found.
pub enum Shown {
    /// The account, with the short fingerprint of every secret it holds (tokens included), as
    /// of `now`; its token times on this machine's clock.
    Account {
        /// The account read.
        account: Box<Account>,
        /// `(field, fp:...)` for each secret held, in [`SecretField::ALL`]'s order.
        fingerprints: Vec<(SecretField, String)>,
        /// The time the ages are counted to.
        now: i64,
    },
    /// The secret asked for, recorded in the audit log before it is handed out.
    Secret(SecretString),
}

/// Shows the account `options.name`, or reveals one of its secrets.
pub fn show(kc: &Keychain, options: &ShowOptions) -> Result<Shown> {
    let name = &options.name;
    let (mut account, _) = kc.read(name)?;
    if let Some(field) = options.reveal {
        let value = account
            .secret(field)
            .ok_or_else(|| Error::usage(format!("account '{name}' has no {field} stored")))?;
        // Recorded before it is handed out: no audit, no secret.
        kc.log_event(Event::new("show", Action::Reveal(field.as_str().into())).account(name))?;
        return Ok(Shown::Secret(value.clone()));
    }
    let now = kc.now();
    // Shown on this machine's clock, as `status` shows them: a shared keychain keeps its token
    // times on the store's.
    account.header = account.header.token_times_on_our_clock(&kc.records_clock());
    let fingerprints = fingerprints(kc, &account)?;
    Ok(Shown::Account {
        account: Box::new(account),
        fingerprints,
        now,
    })
}

/// The short fingerprint of every secret the account holds, tokens included.
fn fingerprints(kc: &Keychain, account: &Account) -> Result<Vec<(SecretField, String)>> {
    let mut shown = Vec::new();
    for field in SecretField::ALL {
        if let Some(value) = account.secret(field) {
            shown.push((field, kc.short_fingerprint_of(field, value)?));
        }
    }
    Ok(shown)
}
