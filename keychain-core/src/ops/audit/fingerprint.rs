//! `audit fingerprint NAME FIELD`: the fingerprint of a value the person holds, to answer "is
//! this leaked value ours?" without the log ever holding the value. Says whether it is the
//! current value of NAME's FIELD and where the log mentions it. Testing a value against a
//! stored secret is recorded in the audit log before the answer is returned.

use secrecy::{ExposeSecret, SecretString};

use crate::audit::{Action, Event, Line};
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::record::SecretField;
use crate::secret::ct_eq_str;

/// The value to fingerprint and the account field to compare it with.
pub struct FingerprintOptions {
    /// The account whose stored value the fingerprint is compared with (not validated: an
    /// account that is not there is compared with the log only).
    pub name: String,
    /// The field the value belongs to.
    pub field: SecretField,
    /// The value, never empty (the front end says where it should have come from).
    pub value: SecretString,
}

/// What `fingerprint` found.
#[derive(Debug)]
pub struct Fingerprinted {
    /// The whole keyed fingerprint of the value.
    pub fingerprint: String,
    /// Its short form, as `show` displays it (`fp:3f9a1c`).
    pub short: String,
    /// Whether the value is the account's current field; `None` when there is no such
    /// account now.
    pub current: Option<bool>,
    /// The audit log lines that hold this field's fingerprint, oldest first.
    pub log: Vec<Line>,
}

/// Fingerprints `options.value`, compares it with the account's current field, records the
/// test and lists the log lines holding the fingerprint.
pub fn fingerprint(kc: &Keychain, options: FingerprintOptions) -> Result<Fingerprinted> {
    let field = options.field;
    let value = normalise(field, options.value)?;
    let fingerprint = kc.fingerprint_of(field.as_str(), &value)?;
    drop(value);

    let current = match kc.read(&options.name) {
        Ok((account, _)) => Some(match account.secret(field) {
            Some(stored) => ct_eq_str(&kc.fingerprint_of(field.as_str(), stored)?, &fingerprint),
            None => false,
        }),
        Err(Error::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    // Recorded before the answer is given: no audit, no answer.
    kc.log_event(
        Event::new(
            "audit fingerprint",
            Action::Fingerprint(field.as_str().into()),
        )
        .account(&options.name),
    )?;

    let log: Vec<_> = kc
        .audit_lines()?
        .into_iter()
        .filter(|l| {
            l.fingerprints
                .get(field.as_str())
                .is_some_and(|f| ct_eq_str(f, &fingerprint))
        })
        .collect();
    let short = crate::audit::short_fingerprint(&fingerprint);
    Ok(Fingerprinted {
        fingerprint,
        short,
        current,
        log,
    })
}

/// TOTP secrets are stored as canonical base32, so an otpauth URI or lower-case copy of the same
/// seed fingerprints the same.
fn normalise(field: SecretField, value: SecretString) -> Result<SecretString> {
    if field != SecretField::TotpSecret {
        return Ok(value);
    }
    crate::totp::TotpSecret::parse(value.expose_secret())
        .map(|t| t.secret_base32())
        .map_err(|e| {
            let message = format!("the TOTP secret on standard input is not usable: {e}");
            match crate::exit::Failure::hint(&e) {
                Some(hint) => Error::usage_hint(message, hint),
                None => Error::usage(message),
            }
        })
}
