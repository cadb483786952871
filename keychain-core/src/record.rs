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
//! Nothing in this module ever formats a secret into a message.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::secret::ct_eq_str;

const MAGIC: &[u8] = b"keychain-record/1\n";

/// Why a record could not be read; each maps to exit code 7 (data integrity).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("not a keychain record (wrong first line); the file is damaged or not ours")]
    BadMagic,
    #[error("the header is damaged ({0})")]
    BadHeader(String),
    #[error(
        "the record is not encrypted to this keychain's key (wrong key, or a record from another keychain)"
    )]
    WrongKey,
    #[error("the encrypted part is damaged or truncated")]
    Corrupt,
    #[error("the header was changed after the record was written (tampered)")]
    HeaderTampered,
    #[error("the record belongs to account '{0}', not to this file name (swapped files?)")]
    WrongName(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretField {
    Password,
    TotpSecret,
    ClientSecret,
    RefreshToken,
    AccessToken,
}

impl SecretField {
    pub const ALL: [SecretField; 5] = [
        SecretField::Password,
        SecretField::TotpSecret,
        SecretField::ClientSecret,
        SecretField::RefreshToken,
        SecretField::AccessToken,
    ];

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

/// How the authorization is obtained at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flow {
    /// Authorization code with PKCE (S256).
    #[default]
    Code,
    /// Implicit grant: the access token comes back in the redirect's fragment.
    Implicit,
}

impl Flow {
    /// The name users type (`--flow code`) and see.
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Code => "code",
            Flow::Implicit => "implicit",
        }
    }
}

impl crate::choice::Choice for Flow {
    const ALL: &'static [Self] = &[Flow::Code, Flow::Implicit];
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn help(self) -> Option<&'static str> {
        Some(match self {
            Flow::Code => "Authorization code with PKCE (S256)",
            Flow::Implicit => {
                "Implicit grant: the access token comes back in the redirect's fragment"
            }
        })
    }
}

crate::choice_text!(Flow);

/// Provider settings: where and how to log on. No secrets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    /// `exact-nl` .. `exact-fr`, `oidc` or `oauth2`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default)]
    pub flow: Flow,
    /// Hosts beyond the account's own that may receive its credentials (`--allow-host`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_hosts: Vec<String>,
    /// Plain `http` to a host other than loopback was allowed with `--insecure-http`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_http: bool,
}

/// The public parameters of a TOTP secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotpParams {
    pub algorithm: crate::totp::Algorithm,
    pub digits: u32,
    pub period: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// When a secret was last set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SecretInfo {
    pub changed: i64,
}

/// The outcome of the last use of an account, for audits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub at: i64,
    pub by: String,
    pub action: String,
    pub ok: bool,
}

/// A password or one-time code the provider rejected: until it is cleared (a new password or
/// TOTP secret with `set`, or a successful `login --retry`), logons are refused locally, so a job
/// in cron cannot lock the account out by repeating a wrong password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub at: i64,
    pub by: String,
    /// The step the provider rejected (`password`, `one-time code`).
    pub step: String,
}

/// The public, authenticated part of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub name: String,
    pub provider: Provider,
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<TotpParams>,
    /// Which secrets are present and when each last changed.
    #[serde(default)]
    pub secrets: BTreeMap<SecretField, SecretInfo>,
    pub created: i64,
    pub updated: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_expires: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_issued: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_type: Option<String>,
    /// Last time the stored refresh token was issued or used: its idle expiry counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_active: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_use: Option<Usage>,
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
    pub fn new(name: &str, provider: Provider, user: String, now: i64) -> Self {
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
    pub fn get(&self, field: SecretField) -> Option<&SecretString> {
        self.values.get(&field)
    }
}

/// A whole account, opened.
#[derive(Debug)]
pub struct Account {
    pub header: Header,
    secrets: Secrets,
}

impl Account {
    pub fn new(header: Header) -> Self {
        Account {
            header,
            secrets: Secrets::default(),
        }
    }

    pub fn secret(&self, field: SecretField) -> Option<&SecretString> {
        self.secrets.get(field)
    }

    /// The account's TOTP generator, from the stored secret and its parameters.
    pub fn totp(&self) -> crate::error::Result<crate::totp::TotpSecret> {
        use crate::error::Error;
        let secret = self.secret(SecretField::TotpSecret).ok_or_else(|| {
            Error::usage_hint(
                format!("account '{}' has no TOTP secret", self.header.name),
                format!(
                    "add one with 'keychain set {} --totp-file FILE'",
                    self.header.name
                ),
            )
        })?;
        let totp = crate::totp::TotpSecret::parse(secret.expose_secret()).map_err(|_| {
            Error::Integrity {
                path: self.header.name.clone().into(),
                reason: "the stored TOTP secret is not valid base32".into(),
            }
        })?;
        // The parameters come from the header: from a backup or an older version, they are
        // numbers from outside like any other, checked before any code is computed.
        match &self.header.totp {
            Some(p) => totp
                .with_params(p.algorithm, p.digits, p.period)
                .map_err(|e| {
                    Error::usage_hint(
                        format!("account '{}': {e}", self.header.name),
                        format!(
                            "store the TOTP secret again with 'keychain set {} --totp-file FILE'",
                            self.header.name
                        ),
                    )
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

#[derive(Serialize)]
struct PayloadOut<'a> {
    header_sha256: String,
    secrets: BTreeMap<SecretField, &'a str>,
}

#[derive(Deserialize)]
struct PayloadIn {
    header_sha256: String,
    secrets: BTreeMap<SecretField, SecretString>,
}

/// Encodes and encrypts an account to the given recipients.
pub fn seal(
    account: &Account,
    recipients: &[&dyn age::Recipient],
) -> Result<Vec<u8>, age::EncryptError> {
    let header = serde_json::to_vec(&account.header).expect("header serialises");
    let payload = PayloadOut {
        header_sha256: hex(&Sha256::digest(&header)),
        secrets: account
            .secrets
            .values
            .iter()
            .map(|(k, v)| (*k, v.expose_secret()))
            .collect(),
    };
    // Sized generously so serialising never reallocates and leaves a copy of a secret behind.
    let mut plaintext = Zeroizing::new(Vec::with_capacity(64 * 1024));
    serde_json::to_writer(&mut *plaintext, &payload).expect("payload serialises");
    let ciphertext = crate::crypto::encrypt(&plaintext, recipients)?;
    let mut out = Vec::with_capacity(MAGIC.len() + header.len() + 1 + ciphertext.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&header);
    out.push(b'\n');
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Splits a record into its header bytes and ciphertext.
fn split(bytes: &[u8]) -> Result<(&[u8], &[u8]), RecordError> {
    let rest = bytes.strip_prefix(MAGIC).ok_or(RecordError::BadMagic)?;
    let end = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| RecordError::BadHeader("no end of header".into()))?;
    Ok((&rest[..end], &rest[end + 1..]))
}

fn parse_header(header: &[u8]) -> Result<Header, RecordError> {
    serde_json::from_slice(header)
        .map_err(|e| RecordError::BadHeader(format!("column {}", e.column())))
}

/// Reads the public header without the key. It is not authenticated until [`open`] succeeds.
pub fn peek(bytes: &[u8]) -> Result<Header, RecordError> {
    let (header, _) = split(bytes)?;
    parse_header(header)
}

/// Decrypts a record and checks that its header is authentic and names `expected_name`.
pub fn open(
    bytes: &[u8],
    expected_name: &str,
    identity: &dyn age::Identity,
) -> Result<Account, RecordError> {
    let (header_bytes, ciphertext) = split(bytes)?;
    let plaintext = crate::crypto::decrypt(ciphertext, identity).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => RecordError::WrongKey,
        _ => RecordError::Corrupt,
    })?;
    let payload: PayloadIn =
        serde_json::from_slice(&plaintext).map_err(|_| RecordError::Corrupt)?;
    if !ct_eq_str(&payload.header_sha256, &hex(&Sha256::digest(header_bytes))) {
        return Err(RecordError::HeaderTampered);
    }
    let header = parse_header(header_bytes)?;
    if header.name != expected_name {
        return Err(RecordError::WrongName(header.name));
    }
    Ok(Account {
        header,
        secrets: Secrets {
            values: payload.secrets,
        },
    })
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Account, age::x25519::Identity) {
        let mut account = Account::new(Header::new(
            "acme",
            Provider {
                kind: "oidc".into(),
                ..Default::default()
            },
            "dwho".into(),
            100,
        ));
        account.set_secret(
            SecretField::Password,
            Some(SecretString::from("canary-pw-4711")),
            100,
        );
        (account, age::x25519::Identity::generate())
    }

    #[test]
    fn sealed_record_round_trips_and_holds_no_plaintext_secret() {
        let (account, id) = sample();
        let bytes = seal(&account, &[&id.to_public()]).unwrap();
        assert!(!bytes.windows(14).any(|w| w == b"canary-pw-4711"));
        let opened = open(&bytes, "acme", &id).unwrap();
        assert_eq!(
            opened
                .secret(SecretField::Password)
                .unwrap()
                .expose_secret(),
            "canary-pw-4711"
        );
        assert_eq!(opened.header, account.header);
        assert_eq!(peek(&bytes).unwrap().user, "dwho");
    }

    #[test]
    fn header_without_a_write_counter_reads_as_zero_and_one_with_it_round_trips() {
        let old =
            br#"{"name":"acme","provider":{"kind":"oidc"},"user":"u","created":1,"updated":1}"#;
        assert_eq!(parse_header(old).unwrap().writes, 0);
        let (mut account, id) = sample();
        account.header.writes = 41;
        let bytes = seal(&account, &[&id.to_public()]).unwrap();
        assert_eq!(open(&bytes, "acme", &id).unwrap().header.writes, 41);
    }

    #[test]
    fn edited_header_is_detected_when_opened() {
        let (account, id) = sample();
        let bytes = seal(&account, &[&id.to_public()]).unwrap();
        let at = bytes
            .windows(4)
            .position(|w| w == b"dwho")
            .expect("user name in the header");
        let mut tampered = bytes.clone();
        tampered[at..at + 4].copy_from_slice(b"evil");
        assert_eq!(peek(&tampered).unwrap().user, "evil");
        assert!(matches!(
            open(&tampered, "acme", &id),
            Err(RecordError::HeaderTampered)
        ));
    }

    #[test]
    fn record_opened_under_another_name_is_refused() {
        let (account, id) = sample();
        let bytes = seal(&account, &[&id.to_public()]).unwrap();
        assert!(matches!(
            open(&bytes, "other", &id),
            Err(RecordError::WrongName(_))
        ));
    }

    #[test]
    fn wrong_key_is_reported_as_such() {
        let (account, id) = sample();
        let bytes = seal(&account, &[&id.to_public()]).unwrap();
        let other = age::x25519::Identity::generate();
        assert!(matches!(
            open(&bytes, "acme", &other),
            Err(RecordError::WrongKey)
        ));
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error_not_a_panic() {
        let (account, id) = sample();
        let bytes = seal(&account, &[&id.to_public()]).unwrap();
        for len in 0..bytes.len() {
            assert!(
                open(&bytes[..len], "acme", &id).is_err(),
                "truncated to {len}"
            );
        }
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x01;
            // A flip inside the JSON header may still parse (e.g. a changed letter) but then the
            // header hash no longer matches; every flip must fail one way or another.
            assert!(open(&flipped, "acme", &id).is_err(), "bit flipped at {i}");
        }
    }
}
