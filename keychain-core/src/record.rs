//! One account as stored: a public, authenticated header and an age-encrypted payload.
//!
//! File layout (`<name>.kcr`):
//!
//! ```text
//! keychain-record/1\n
//! {header JSON on one line}\n
//! <age ciphertext of {"header_sha256": ..., "secrets": {...}}>
//! ```
//!
//! The header holds what `list` and audits need (provider, user, which secrets exist and when
//! they changed, last use), so an officer can list without unlocking. It is authenticated: the
//! encrypted payload carries the SHA-256 of the exact header bytes, and [`open`] refuses a record
//! whose header no longer matches, or whose header names another account (a swapped file).
//!
//! A record of a shared keychain carries one more line in front of all this, written and
//! checked by [`crate::members::record_auth`]: `keychain-auth/1 GENERATION MAC`, a member's MAC
//! under the group key over everything after it. [`peek`] and [`open`] skip that line (checking
//! it needs the group key, which this module never sees); [`split_auth`] gives it.
//! Nothing in this module ever formats a secret into a message.
#![deny(missing_docs)]

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::providers::ProviderSettings;

mod format;

pub use format::{AUTH_MAGIC, Auth, open, peek, seal, split_auth};

/// Why a record could not be read; each maps to exit code 7 (data integrity).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file does not start with `keychain-record/1`.
    #[error("not a keychain record (wrong first line); the file is damaged or not ours")]
    BadMagic,
    /// The header line is missing or is not a header; the text says where (a column), never
    /// what.
    #[error("the header is damaged ({0})")]
    BadHeader(String),
    /// The header names a provider kind this keychain does not know (a newer one wrote it).
    #[error(
        "the record's provider {0:?} is not one this keychain knows (written by a newer keychain? update keychain)"
    )]
    UnknownProvider(String),
    /// The ciphertext is not encrypted to the identity given.
    #[error(
        "the record is not encrypted to this keychain's key (wrong key, or a record from another keychain)"
    )]
    WrongKey,
    /// The ciphertext, or the payload inside it, cannot be read.
    #[error("the encrypted part is damaged or truncated")]
    Corrupt,
    /// The header's SHA-256 is not the one sealed in the payload.
    #[error("the header was changed after the record was written (tampered)")]
    HeaderTampered,
    /// The authentic header names another account (carried here) than the file name does.
    #[error("the record belongs to account '{0}', not to this file name (swapped files?)")]
    WrongName(String),
}

/// Why an account's TOTP generator cannot be made; names the account, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpUnusable {
    /// The account (named) holds no TOTP secret.
    #[error("account '{0}' has no TOTP secret")]
    Missing(String),
    /// The stored secret of the account (named) is not base32.
    #[error("{0}: the stored TOTP secret is not valid base32")]
    NotBase32(String),
    /// The header's TOTP parameters are out of range.
    #[error("account '{name}': {detail}")]
    BadParams {
        /// The account.
        name: String,
        /// Which parameter, as the TOTP parser says it.
        detail: String,
    },
}

impl crate::exit::Failure for TotpUnusable {
    fn class(&self) -> crate::exit::Class {
        match self {
            TotpUnusable::NotBase32(_) => crate::exit::Class::Integrity,
            _ => crate::exit::Class::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            TotpUnusable::Missing(name) => {
                format!("add one with 'keychain set {name} --totp-file FILE'")
            }
            TotpUnusable::NotBase32(_) => {
                "the file was left untouched; check that it is the right file and that it is whole"
                    .into()
            }
            TotpUnusable::BadParams { name, .. } => {
                format!("store the TOTP secret again with 'keychain set {name} --totp-file FILE'")
            }
        })
    }
}

/// The secrets an account can hold, each kept only in the encrypted payload. The header lists
/// which are present (and when each changed), never a value. The kebab-case names are the ones
/// records, `show --reveal` and the audit log use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretField {
    /// The password of the user at the provider's logon page.
    Password,
    /// The TOTP seed, base32, for the provider's second factor.
    TotpSecret,
    /// The OAuth2 client secret of the registered application.
    ClientSecret,
    /// The refresh token; for providers such as Exact, single-use and replaced at every
    /// refresh.
    RefreshToken,
    /// The last access token, served from the cache while it is valid.
    AccessToken,
}

impl SecretField {
    /// Every field, in the order `show` lists them.
    pub const ALL: [SecretField; 5] = [
        SecretField::Password,
        SecretField::TotpSecret,
        SecretField::ClientSecret,
        SecretField::RefreshToken,
        SecretField::AccessToken,
    ];

    /// The field's name in records and on the command line (`totp-secret`).
    pub fn as_str(self) -> &'static str {
        match self {
            SecretField::Password => "password",
            SecretField::TotpSecret => "totp-secret",
            SecretField::ClientSecret => "client-secret",
            SecretField::RefreshToken => "refresh-token",
            SecretField::AccessToken => "access-token",
        }
    }
}

impl std::fmt::Display for SecretField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The public parameters of a TOTP secret.
///
/// They sit in the header so `list` and audits can show them without the key; the seed stays in
/// the payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotpParams {
    /// The HMAC hash.
    pub algorithm: crate::totp::Algorithm,
    /// Digits of a code, 6 to 8 (checked when read back, see [`Account::totp`]).
    pub digits: u32,
    /// Seconds per time step.
    pub period: u64,
    /// Who issued the secret, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The account the secret belongs to at the issuer, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// When a secret was last set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SecretInfo {
    /// Unix seconds.
    pub changed: i64,
}

/// The outcome of the last use of an account, for audits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Unix seconds.
    pub at: i64,
    /// The OS user who ran the command ([`crate::whoami::whoami`]).
    pub by: String,
    /// The audit action it was (`login_cache`, `login_refresh`, `login_failed`, ...).
    pub action: String,
    /// Whether it succeeded.
    pub ok: bool,
}

/// A password or one-time code the provider rejected: until it is cleared (a new password or
/// TOTP secret with `set`, or a successful `login --retry`), logons are refused locally, so a job
/// in cron cannot lock the account out by repeating a wrong password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// Unix seconds.
    pub at: i64,
    /// The OS user whose run was rejected.
    pub by: String,
    /// The step the provider rejected (`password`, `one-time code`).
    pub step: String,
}

/// The public, authenticated part of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The account's name, also its file name; [`open`] refuses a header naming another.
    pub name: String,
    /// Where and how to log on.
    pub provider: ProviderSettings,
    /// The user name at the provider (logon code or e-mail address).
    pub user: String,
    /// The TOTP secret's parameters, present when the account has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<TotpParams>,
    /// Which secrets are present and when each last changed.
    #[serde(default)]
    pub secrets: BTreeMap<SecretField, SecretInfo>,
    /// When the account was added (Unix seconds).
    pub created: i64,
    /// When the account's settings or secrets last changed (Unix seconds); use alone does not
    /// count.
    pub updated: i64,
    /// When the cached access token expires (Unix seconds), as the provider's `expires_in` said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_expires: Option<i64>,
    /// When the cached access token was obtained (Unix seconds): Exact's once-per-570-seconds
    /// rule counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_issued: Option<i64>,
    /// The scope the provider granted with the cached token, when it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_scope: Option<String>,
    /// The token type the provider gave (`Bearer`), when it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_type: Option<String>,
    /// Last time the stored refresh token was issued or used: its idle expiry counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_active: Option<i64>,
    /// The last `login` written to the record: a new token or a failure (a cache hit writes
    /// nothing; the audit log has every use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_use: Option<Usage>,
    /// The last `login` that got a new access token from the provider, or the last headless
    /// logon that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_logon: Option<Usage>,
    /// The last TOTP time step submitted to the provider: never submit it twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_totp_step: Option<u64>,
    /// Times of errors the provider counted against this account (for its error budget).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provider_errors: Vec<i64>,
    // Logon safety (issue 8).
    /// Set when the provider rejected the password or code; see [`Rejection`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logon_rejected: Option<Rejection>,
    /// How many times the record was written, raised by every write: the audit log records it,
    /// so an older copy put back (a replay) has a lower counter than the log's and is refused.
    /// Records written before counters existed read as 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub writes: u64,
    /// Set by `keychain mv` on the old record before the new one is written: a record that
    /// carries it is being renamed, and logons of it are refused (one refresh token must never
    /// be used under two names). `keychain mv OLD NEW` again finishes an interrupted move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
}

impl Header {
    /// This header with its token times on this machine's clock, judged as `login` judges
    /// them. A shared keychain's records keep them on the store's clock (`records`, see
    /// `Keychain::records_clock`); read against our own clock they would be off by this
    /// machine's offset to the store (issue 19: a member 2 minutes behind saw an error budget
    /// spent that `login` no longer counted, and a refresh token's idle days a day short at a
    /// day's turn). A local keychain's come back unchanged.
    pub fn token_times_on_our_clock(&self, records: &crate::clock::reference::Now) -> Header {
        let mut h = self.clone();
        // The error budget's hour counts to the earliest reference time (as `login`): on our
        // clock an error lasts as late as it can.
        for t in &mut h.provider_errors {
            *t = records.to_local_late(*t);
        }
        // Idle days are never counted short; a token's end never shown later than it is.
        h.refresh_token_active = h.refresh_token_active.map(|t| records.to_local(t));
        h.access_token_expires = h.access_token_expires.map(|t| records.to_local(t));
        h.access_token_issued = h.access_token_issued.map(|t| records.to_local_late(t));
        h
    }

    /// The other way: a header whose token times are on this machine's clock (an export, a
    /// settings file's refresh token) with them on the clock `records` keeps them on, each
    /// moved the way that keeps its rule safe: an error lasts as late as it can, a refresh
    /// token's idle days are never counted short, an access token ends as early as it can and
    /// its issue counts as late as it can. A local keychain's come back unchanged.
    pub fn token_times_on_records_clock(&self, records: &crate::clock::reference::Now) -> Header {
        let mut h = self.clone();
        for t in &mut h.provider_errors {
            *t = records.from_local_late(*t);
        }
        h.refresh_token_active = h.refresh_token_active.map(|t| records.from_local(t));
        h.access_token_expires = h.access_token_expires.map(|t| records.from_local(t));
        h.access_token_issued = h.access_token_issued.map(|t| records.from_local_late(t));
        h
    }

    /// The header of a new account, created and updated at `now` (Unix seconds), with no
    /// secrets and no history.
    pub fn new(name: &str, provider: ProviderSettings, user: String, now: i64) -> Self {
        Header {
            name: name.to_string(),
            provider,
            user,
            totp: None,
            secrets: BTreeMap::new(),
            created: now,
            updated: now,
            access_token_expires: None,
            access_token_issued: None,
            access_token_scope: None,
            access_token_type: None,
            refresh_token_active: None,
            last_use: None,
            last_logon: None,
            last_totp_step: None,
            provider_errors: Vec::new(),
            logon_rejected: None,
            writes: 0,
            moved_to: None,
        }
    }

    /// Whether the account holds `field`, known without the key.
    pub fn has(&self, field: SecretField) -> bool {
        self.secrets.contains_key(&field)
    }
}

/// The secret part of a record. `Debug` shows which secrets are present, never their values.
#[derive(Default)]
pub struct Secrets {
    values: BTreeMap<SecretField, SecretString>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl Secrets {
    /// The value of `field`, if present.
    pub fn get(&self, field: SecretField) -> Option<&SecretString> {
        self.values.get(&field)
    }
}

/// A whole account, opened.
#[derive(Debug)]
pub struct Account {
    /// The public part. Changes to it are authenticated only when the account is sealed again.
    pub header: Header,
    secrets: Secrets,
}

impl Account {
    /// An account with `header` and no secrets yet.
    pub fn new(header: Header) -> Self {
        Account {
            header,
            secrets: Secrets::default(),
        }
    }

    /// The value of `field`, if the account holds it.
    pub fn secret(&self, field: SecretField) -> Option<&SecretString> {
        self.secrets.get(field)
    }

    /// The account's TOTP generator, from the stored secret and its parameters.
    pub fn totp(&self) -> Result<crate::totp::TotpSecret, TotpUnusable> {
        let name = || self.header.name.clone();
        let secret = self
            .secret(SecretField::TotpSecret)
            .ok_or_else(|| TotpUnusable::Missing(name()))?;
        let totp = crate::totp::TotpSecret::parse(secret.expose_secret())
            .map_err(|_| TotpUnusable::NotBase32(name()))?;
        // The parameters come from the header: from a backup or an older version, they are
        // numbers from outside like any other, checked before any code is computed.
        match &self.header.totp {
            Some(p) => totp
                .with_params(p.algorithm, p.digits, p.period)
                .map_err(|e| TotpUnusable::BadParams {
                    name: name(),
                    detail: e.to_string(),
                }),
            None => Ok(totp),
        }
    }

    /// Sets (or with `None` removes) a secret, recording when it changed.
    pub fn set_secret(&mut self, field: SecretField, value: Option<SecretString>, now: i64) {
        match value {
            Some(v) => {
                self.secrets.values.insert(field, v);
                self.header
                    .secrets
                    .insert(field, SecretInfo { changed: now });
            }
            None => {
                self.secrets.values.remove(&field);
                self.header.secrets.remove(&field);
            }
        }
        self.header.updated = now;
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests;
