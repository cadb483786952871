//! A record's bytes: the optional authentication line, the magic line, the header line and the
//! age ciphertext of the payload (the header's SHA-256 and the secrets). Sealing and opening; the
//! layout is drawn in the module above.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{Account, Header, RecordError, SecretField, Secrets};
use crate::encoding::hex;
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

pub(super) fn parse_header(header: &[u8]) -> Result<Header, RecordError> {
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
