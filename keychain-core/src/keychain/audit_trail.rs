//! What an opened keychain adds to its audit trail: the key secrets' fingerprints are keyed
//! with (a shared keychain's comes from its group key) and the trail's lines as data.
//!
//! A command that reveals a secret or hands out a token records the event **before** its
//! output: when the log cannot be written, nothing is printed. A change to a record is logged
//! in the same transaction as its write ([`Keychain::commit`]), with the record's write
//! counter. `keychain totp` is recorded too (one append). Read-only `list` and `show` without
//! `--reveal` are not recorded. (This was `trail.rs`; issue 21.)
#![deny(missing_docs)]

use secrecy::SecretString;

use super::Keychain;
use crate::audit::{AuditKey, Event, Line, fingerprint, short_fingerprint};
use crate::error::Result;
use crate::record::{Account, SecretField};

impl Keychain {
    /// `event` with the fingerprints of an account's secrets (password, TOTP secret, client
    /// secret, refresh token), for its add/set events.
    pub fn fingerprints(&self, account: &Account, mut event: Event) -> Result<Event> {
        let key = self.fingerprint_key()?;
        for field in [
            SecretField::Password,
            SecretField::TotpSecret,
            SecretField::ClientSecret,
            SecretField::RefreshToken,
        ] {
            if let Some(value) = account.secret(field) {
                event = event.fingerprint(field.as_str(), fingerprint(&key, field.as_str(), value));
            }
        }
        Ok(event)
    }

    /// The fingerprint of a secret under this keychain's fingerprint key
    /// ([`Keychain::fingerprint_key`]), for matching leaked values.
    pub fn fingerprint_of(&self, field: &str, value: &SecretString) -> Result<String> {
        Ok(fingerprint(&self.fingerprint_key()?, field, value))
    }

    /// How a secret is shown to a person: `fp:` and the first 6 hex digits of its audit
    /// fingerprint (see [`short_fingerprint`]).
    pub fn short_fingerprint_of(&self, field: SecretField, value: &SecretString) -> Result<String> {
        Ok(short_fingerprint(
            &self.fingerprint_of(field.as_str(), value)?,
        ))
    }

    /// The key secrets' fingerprints are keyed with. A shared keychain's comes from the current
    /// group key, which every member holds: the same value gives the same fingerprint on every
    /// machine, so an officer can compare what two machines show (`fp:...`) and what the shared
    /// trail holds. It changes when a member is removed (the group key is rotated: a removed
    /// member must not be able to test guesses against new fingerprints). Any other keychain's
    /// comes from its own identity. The group key is the one this machine's pin names; the
    /// member list need not authenticate for a fingerprint (reading goes on when a planted list
    /// stops sealing).
    pub fn fingerprint_key(&self) -> Result<AuditKey> {
        if self.trail_in_store()
            && let Some(shared) = self.shared()
        {
            let secret = match self.members() {
                Ok(Some(opened)) => Some(opened.key.audit_secret()),
                _ => shared.trail_secrets(self.identity()?)?.pop().flatten(),
            };
            if let Some(secret) = secret {
                return Ok(AuditKey::derive(&secret));
            }
        }
        Ok(AuditKey::of_identity(self.identity()?))
    }

    /// Every parseable line of the trail, rotated files first (a shared keychain's: this
    /// machine's copy, brought up to date first).
    pub fn audit_lines(&self) -> Result<Vec<Line>> {
        let files = self.trail()?.files()?;
        Ok(crate::audit::lines::read_files(files)?)
    }
}
