//! Keys of the audit log: where they come from and how the MAC key moves forward.
//!
//! Everything here is derived from one 32-byte per-keychain secret that the caller unlocks.
//! Subkeys are separated by label so that a fingerprint can never be replayed as a MAC and the
//! other way round. This module must never write a key anywhere; the state file in `log.rs` is
//! the one place that holds the current MAC key on disk.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

type HmacSha256 = Hmac<Sha256>;

const LABEL_FINGERPRINT: &[u8] = b"keychain audit fingerprint v1";
const LABEL_MAC_ROOT: &[u8] = b"keychain audit mac v1";
const LABEL_EVOLVE: &[u8] = b"keychain audit evolve v1";
const LABEL_ANCHOR: &[u8] = b"keychain audit anchor v1";
const LABEL_INDEX: &[u8] = b"keychain audit counter index v1";
const LABEL_INDEX_PAD: &[u8] = b"keychain audit counter index key pad v1";

/// Keys for one keychain's audit log, derived from its 32-byte per-keychain secret.
///
/// Holds the fingerprint key and `k_0`, the first MAC key; appending needs neither (it uses the
/// state file), but adding fingerprints to an event and verifying the log do.
pub struct AuditKey {
    fingerprint: SecretBox<[u8; 32]>,
    mac_root: SecretBox<[u8; 32]>,
    /// Authenticates `audit.index` and hides the chain key it keeps (see `index.rs`): derived
    /// from the secret, never from the anchor, so a holder of `audit.anchor` cannot forge it.
    index: SecretBox<[u8; 32]>,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey([REDACTED])")
    }
}

/// Labels the per-keychain audit secret derived from the identity ([`AuditKey::of_identity`]).
const LABEL_IDENTITY: &[u8] = b"keychain audit secret v1";

/// The audit keys of the keychain whose identity this is.
pub fn audit_key(identity: &age::x25519::Identity) -> AuditKey {
    AuditKey::of_identity(identity)
}

impl AuditKey {
    /// The audit keys of the keychain whose identity this is. The per-keychain audit secret is
    /// derived from the identity, so it needs no storage of its own and whoever can open the
    /// records can verify the log.
    pub fn of_identity(identity: &age::x25519::Identity) -> Self {
        let id = identity.to_string();
        let mut mac = HmacSha256::new_from_slice(id.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(LABEL_IDENTITY);
        let secret = SecretBox::new(Box::new(<[u8; 32]>::from(mac.finalize().into_bytes())));
        AuditKey::derive(&secret)
    }

    /// Derives the audit keys from the per-keychain secret.
    pub fn derive(secret: &SecretBox<[u8; 32]>) -> Self {
        AuditKey {
            fingerprint: hmac_key(secret.expose_secret(), LABEL_FINGERPRINT),
            mac_root: hmac_key(secret.expose_secret(), LABEL_MAC_ROOT),
            index: hmac_key(secret.expose_secret(), LABEL_INDEX),
        }
    }

    /// HMAC-SHA256 of the counter index's body, as hex.
    pub(crate) fn mac_index(&self, body: &[u8]) -> String {
        let mut mac = new_hmac(self.index.expose_secret());
        mac.update(LABEL_INDEX);
        mac.update(body);
        hex(&mac.finalize().into_bytes())
    }

    /// The chain key `k_seq` masked (or unmasked: the same XOR) for keeping in the counter
    /// index: XOR with a pad that only the secret gives, one pad per seq. The key at a seq is
    /// fixed by `k_0`, so a pad is never used for two different keys.
    pub(crate) fn mask_chain_key(&self, seq: u64, key: &[u8; 32]) -> [u8; 32] {
        let mut mac = new_hmac(self.index.expose_secret());
        mac.update(LABEL_INDEX_PAD);
        mac.update(&seq.to_be_bytes());
        let mut pad: [u8; 32] = mac.finalize().into_bytes().into();
        let mut out = [0u8; 32];
        for (o, (k, p)) in out.iter_mut().zip(key.iter().zip(pad.iter())) {
            *o = k ^ p;
        }
        pad.zeroize();
        out
    }

    /// `k_0`, the MAC key of the line with seq 0.
    pub(crate) fn mac_root(&self) -> MacKey {
        MacKey(SecretBox::new(Box::new(*self.mac_root.expose_secret())))
    }

    /// The MAC key of the line with the given seq: `k_0` moved forward `seq` times.
    #[cfg(test)]
    pub(crate) fn mac_key_at(&self, seq: u64) -> MacKey {
        let mut key = self.mac_root();
        for _ in 0..seq {
            key = key.next();
        }
        key
    }
}

/// HMAC-SHA256 fingerprint of a secret value under the keychain's fingerprint key, as hex.
///
/// Equal values in the same field of the same keychain give equal fingerprints, so an officer who
/// holds a leaked value and the keychain's secret can find where it was used, while the log never
/// holds the value. The field name is part of the input so that a password and a token that happen
/// to be equal do not show as linked.
pub fn fingerprint(key: &AuditKey, field: &str, value: &SecretString) -> String {
    let mut mac = new_hmac(key.fingerprint.expose_secret());
    mac.update(&(field.len() as u64).to_be_bytes());
    mac.update(field.as_bytes());
    mac.update(value.expose_secret().as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// How a secret is shown to a person: `fp:` and the first 6 hex digits of its full hex
/// fingerprint ([`fingerprint`]).
///
/// 24 bits are enough to tell a handful of values apart and to match the full fingerprint that
/// `keychain audit fingerprint` prints, and they say nothing about the value to anyone without
/// the keychain's key (who could read the value itself anyway).
pub fn short_fingerprint(full: &str) -> String {
    format!("fp:{}", &full[..SHORT_FINGERPRINT_HEX.min(full.len())])
}

const SHORT_FINGERPRINT_HEX: usize = 6;

/// One MAC key of the evolving chain `k_{i+1} = SHA-256(label || k_i)`.
pub(crate) struct MacKey(SecretBox<[u8; 32]>);

impl MacKey {
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        MacKey(SecretBox::new(Box::new(bytes)))
    }

    pub(crate) fn expose(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }

    /// The next key in the chain. A one-way hash, so holding `k_i` gives no earlier key.
    pub(crate) fn next(&self) -> MacKey {
        let mut hasher = Sha256::new();
        hasher.update(LABEL_EVOLVE);
        hasher.update(self.0.expose_secret());
        let mut out: [u8; 32] = hasher.finalize().into();
        let key = MacKey::from_bytes(out);
        out.zeroize();
        key
    }

    /// HMAC-SHA256 of a log line (without its `mac` field), as hex.
    pub(crate) fn mac_line(&self, unsigned_line: &[u8]) -> String {
        let mut mac = new_hmac(self.expose());
        mac.update(unsigned_line);
        hex(&mac.finalize().into_bytes())
    }

    /// Checks a line's MAC in constant time.
    pub(crate) fn verify_line(&self, unsigned_line: &[u8], mac_hex: &str) -> bool {
        crate::secret::ct_eq_str(&self.mac_line(unsigned_line), mac_hex)
    }

    /// HMAC-SHA256 over an anchor's content (next seq and last hash), as hex.
    pub(crate) fn mac_anchor(&self, next_seq: u64, last_hash: &str) -> String {
        let mut mac = new_hmac(self.expose());
        mac.update(LABEL_ANCHOR);
        mac.update(&next_seq.to_be_bytes());
        mac.update(last_hash.as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

fn new_hmac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts any key length")
}

fn hmac_key(secret: &[u8; 32], label: &[u8]) -> SecretBox<[u8; 32]> {
    let mut mac = new_hmac(secret);
    mac.update(label);
    let mut out: [u8; 32] = mac.finalize().into_bytes().into();
    let key = SecretBox::new(Box::new(out));
    out.zeroize();
    key
}

/// SHA-256 of a whole log line, as hex: the `prev` of the line after it.
pub(crate) fn line_hash(line: &[u8]) -> String {
    hex(&Sha256::digest(line))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

pub(crate) fn unhex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> AuditKey {
        AuditKey::derive(&SecretBox::new(Box::new([byte; 32])))
    }

    #[test]
    fn fingerprints_are_equal_for_equal_values_and_differ_across_keys_and_values() {
        let v = SecretString::from("hunter2-canary");
        assert_eq!(
            fingerprint(&key(1), "password", &v),
            fingerprint(&key(1), "password", &v)
        );
        assert_ne!(
            fingerprint(&key(1), "password", &v),
            fingerprint(&key(2), "password", &v)
        );
        assert_ne!(
            fingerprint(&key(1), "password", &v),
            fingerprint(&key(1), "password", &SecretString::from("hunter3-canary"))
        );
        assert_ne!(
            fingerprint(&key(1), "password", &v),
            fingerprint(&key(1), "refresh_token", &v)
        );
        assert_eq!(fingerprint(&key(1), "password", &v).len(), 64);
    }

    #[test]
    fn mac_key_evolves_one_way_and_reproducibly() {
        let k = key(7);
        let k2 = k.mac_key_at(2);
        assert_eq!(k2.expose(), k.mac_root().next().next().expose());
        assert_ne!(k2.expose(), k.mac_key_at(1).expose());
    }

    #[test]
    fn debug_of_audit_key_redacts() {
        assert_eq!(format!("{:?}", key(3)), "AuditKey([REDACTED])");
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0xabu8; 32];
        assert_eq!(unhex32(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex32("zz"), None);
    }
}
