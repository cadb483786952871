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
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::secret::ct_eq_str;

const MAGIC: &[u8] = b"keychain-record/1\n";
/// The start of the line a shared record's member MAC is on ([`split_auth`]).
pub const AUTH_MAGIC: &[u8] = b"keychain-auth/1 ";
/// The longest authentication line read (a generation and 64 hex digits fit many times).
const MAX_AUTH_LINE: usize = 160;

/// The member MAC in front of a shared record: the group key generation it was made under and
/// the MAC itself (hex), over every byte after the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auth<'a> {
    /// The group key generation whose key made the MAC.
    pub generation: u64,
    /// The MAC, lowercase hex.
    pub mac: &'a str,
}

/// Splits off the authentication line of a shared record, when there is one: the line and the
/// record after it. A record without one (a local keychain's, or a shared one written before
/// records were authenticated) is returned whole with `None`.
pub fn split_auth(bytes: &[u8]) -> Result<(Option<Auth<'_>>, &[u8]), RecordError> {
    let Some(rest) = bytes.strip_prefix(AUTH_MAGIC) else {
        return Ok((None, bytes));
    };
    let damaged = || RecordError::BadHeader("the authentication line is damaged".into());
    let end = rest
        .iter()
        .take(MAX_AUTH_LINE)
        .position(|&b| b == b'\n')
        .ok_or_else(damaged)?;
    let line = std::str::from_utf8(&rest[..end]).map_err(|_| damaged())?;
    let (generation, mac) = line.split_once(' ').ok_or_else(damaged)?;
    let generation = generation
        .parse::<u64>()
        .ok()
        .filter(|_| generation.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(damaged)?;
    if mac.len() != 64 || !mac.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(damaged());
    }
    Ok((Some(Auth { generation, mac }), &rest[end + 1..]))
}

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

// re-export for the merge (issue 21): provider settings live with the providers.
pub use crate::providers::{Flow, ProviderSettings as Provider};

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
    pub provider: Provider,
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
    /// The header of a new account, created and updated at `now` (Unix seconds), with no
    /// secrets and no history.
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
    let (_, bytes) = split_auth(bytes)?;
    let rest = bytes.strip_prefix(MAGIC).ok_or(RecordError::BadMagic)?;
    let end = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| RecordError::BadHeader("no end of header".into()))?;
    Ok((&rest[..end], &rest[end + 1..]))
}

fn parse_header(header: &[u8]) -> Result<Header, RecordError> {
    serde_json::from_slice(header).map_err(|e| {
        unknown_provider(header)
            .unwrap_or_else(|| RecordError::BadHeader(format!("column {}", e.column())))
    })
}

/// A header that fails to parse only because a newer keychain wrote a provider kind this one
/// does not know is not damaged: say so, naming the kind (public, shortened).
fn unknown_provider(header: &[u8]) -> Option<RecordError> {
    let value: serde_json::Value = serde_json::from_slice(header).ok()?;
    let kind = value.get("provider")?.get("kind")?.as_str()?;
    kind.parse::<crate::providers::ProviderKind>()
        .is_err()
        .then(|| RecordError::UnknownProvider(kind.chars().take(64).collect()))
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

// re-export for the merge (issue 21): the helper lives in the base module `encoding`.
pub use crate::encoding::hex;

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Account, age::x25519::Identity) {
        let mut account = Account::new(Header::new(
            "acme",
            Provider::new(crate::providers::ProviderKind::Oidc),
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
    fn a_provider_kind_this_keychain_does_not_know_is_named_not_called_damage() {
        let newer =
            br#"{"name":"acme","provider":{"kind":"keycloak"},"user":"u","created":1,"updated":1}"#;
        let e = parse_header(newer).unwrap_err();
        assert!(
            matches!(&e, RecordError::UnknownProvider(k) if k == "keycloak"),
            "{e}"
        );
        // Anything else wrong stays damage, even beside a known kind.
        let damaged = br#"{"name":"acme","provider":{"kind":"oidc"},"user":7}"#;
        assert!(matches!(
            parse_header(damaged),
            Err(RecordError::BadHeader(_))
        ));
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
    fn an_authentication_line_is_split_off_and_a_damaged_one_is_an_error() {
        let (account, id) = sample();
        let bytes = seal(&account, &[&id.to_public()]).unwrap();
        let mac = "ab".repeat(32);
        let mut authed = format!("keychain-auth/1 7 {mac}\n").into_bytes();
        authed.extend_from_slice(&bytes);
        let (auth, rest) = split_auth(&authed).unwrap();
        assert_eq!(
            auth,
            Some(Auth {
                generation: 7,
                mac: &mac
            })
        );
        assert_eq!(rest, &bytes[..]);
        assert_eq!(open(&authed, "acme", &id).unwrap().header, account.header);
        assert_eq!(split_auth(&bytes).unwrap(), (None, &bytes[..]));
        for bad in [
            "keychain-auth/1 7\n".to_string(),
            format!("keychain-auth/1 +7 {mac}\n"),
            format!("keychain-auth/1 7 {}\n", "AB".repeat(32)),
            format!("keychain-auth/1 7 {mac}"),
        ] {
            let mut damaged = bad.into_bytes();
            damaged.extend_from_slice(&bytes);
            assert!(
                matches!(split_auth(&damaged), Err(RecordError::BadHeader(_))),
                "{}",
                String::from_utf8_lossy(&damaged[..20])
            );
        }
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
