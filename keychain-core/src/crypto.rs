//! age encryption of whole buffers, the one place keychain calls age's stream API.
#![deny(missing_docs)]

use std::io::{Read, Write};

use zeroize::Zeroizing;

/// Encrypts `plaintext` to every recipient.
pub fn encrypt(
    plaintext: &[u8],
    recipients: &[&dyn age::Recipient],
) -> Result<Vec<u8>, age::EncryptError> {
    let encryptor = age::Encryptor::with_recipients(recipients.iter().copied())?;
    let mut out = Vec::with_capacity(plaintext.len() + 256);
    let mut writer = encryptor.wrap_output(&mut out)?;
    writer.write_all(plaintext)?;
    writer.finish()?;
    Ok(out)
}

/// Decrypts an age file held in memory; the plaintext is zeroized when dropped.
pub fn decrypt(
    ciphertext: &[u8],
    identity: &dyn age::Identity,
) -> Result<Zeroizing<Vec<u8>>, age::DecryptError> {
    let decryptor = age::Decryptor::new_buffered(ciphertext)?;
    let mut reader = decryptor.decrypt(std::iter::once(identity))?;
    // Sized up front so that growing the buffer leaves no unzeroized copies behind.
    let mut plaintext = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    reader.read_to_end(&mut plaintext)?;
    Ok(plaintext)
}

/// An X25519 identity whose public key is derived once. age's own `x25519::Identity` derives
/// it again for every stanza it unwraps (a base-point multiplication, a quarter of the work of
/// opening a record); `audit` on 10,000 records did that 10,000 times. The unwrapping is age's
/// step for step (c2sp.org/age, the X25519 recipient stanza): the same canonical stanza checks,
/// the same refusal of a non-contributory share, HKDF-SHA256 over the ephemeral share and this
/// public key, ChaCha20-Poly1305 of the file key. Build one per command that opens many records.
///
/// A command that opens one record can give the public key `config.json` names
/// ([`X25519Opener::with_public_hint`]) and skip the derivation altogether (a tenth of an
/// unlocked `totp`'s instructions). The hint is not trusted: a stanza it does not open is tried
/// again with the derived key, so a wrong hint costs the derivation and changes no result.
pub struct X25519Opener {
    secret: x25519_dalek::StaticSecret,
    /// The public key as the caller believes it; tried first.
    hint: Option<x25519_dalek::PublicKey>,
    /// The public key derived from the secret, at first need.
    derived: std::sync::OnceLock<x25519_dalek::PublicKey>,
    /// X25519 agreements made so far (one per stanza tried): what a file-key cache saves,
    /// counted for its tests (one relaxed increment beside a scalar multiplication).
    agreements: std::sync::atomic::AtomicU64,
}

const X25519_TAG: &str = "X25519";
const X25519_LABEL: &[u8] = b"age-encryption.org/v1/X25519";
const FILE_KEY_BYTES: usize = 16;

impl X25519Opener {
    /// The opener of `identity`'s records, its public key derived now.
    pub fn new(identity: &age::x25519::Identity) -> Self {
        let opener = Self::with_public_hint(identity, "");
        opener.derived_public();
        opener
    }

    /// The opener of `identity`'s records, trying `recipient` (`age1...`, as `config.json` holds
    /// it) as its public key before deriving it; anything that is not a recipient is no hint.
    pub fn with_public_hint(identity: &age::x25519::Identity, recipient: &str) -> Self {
        use age::secrecy::ExposeSecret;
        use bech32::FromBase32;
        let encoded = identity.to_string();
        let (_, data, _) =
            bech32::decode(encoded.expose_secret()).expect("age encodes its identity in Bech32");
        let mut bytes = Zeroizing::new(Vec::<u8>::from_base32(&data).expect("5-bit groups"));
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&bytes[..32]);
        bytes.iter_mut().for_each(|b| *b = 0);
        let hint = bech32::decode(recipient.trim())
            .ok()
            .filter(|(hrp, _, _)| hrp == "age")
            .and_then(|(_, data, _)| Vec::<u8>::from_base32(&data).ok())
            .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
            .map(x25519_dalek::PublicKey::from);
        Self {
            secret: x25519_dalek::StaticSecret::from(*key),
            hint,
            derived: std::sync::OnceLock::new(),
            agreements: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many X25519 agreements this opener has made.
    pub fn agreements(&self) -> u64 {
        self.agreements.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A 32-byte key for `label`'s own use, derived from this identity's secret (HKDF-SHA256,
    /// the label as its info): whoever holds it cannot go back to the identity, and keys of
    /// different labels are unrelated.
    pub fn derive_key(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        let secret = Zeroizing::new(self.secret.to_bytes());
        Zeroizing::new(age_core::primitives::hkdf(&[], label, &*secret))
    }

    fn derived_public(&self) -> &x25519_dalek::PublicKey {
        self.derived
            .get_or_init(|| x25519_dalek::PublicKey::from(&self.secret))
    }

    /// The file key in `body` if `public` is this identity's public key and the stanza is ours.
    fn unwrap_with(
        &self,
        epk: &x25519_dalek::PublicKey,
        shared: &x25519_dalek::SharedSecret,
        public: &x25519_dalek::PublicKey,
        body: &[u8],
    ) -> Option<age_core::format::FileKey> {
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(epk.as_bytes());
        salt[32..].copy_from_slice(public.as_bytes());
        let key = Zeroizing::new(age_core::primitives::hkdf(
            &salt,
            X25519_LABEL,
            shared.as_bytes(),
        ));
        // Not ours (another recipient's stanza) is no error: the next stanza is tried.
        age_core::primitives::aead_decrypt(&key, FILE_KEY_BYTES, body)
            .ok()
            .map(|plain| {
                let plain = Zeroizing::new(plain);
                age_core::format::FileKey::init_with_mut(|file_key| {
                    file_key.copy_from_slice(&plain)
                })
            })
    }
}

impl X25519Opener {
    /// age's X25519 stanza unwrap, step for step, with `public` as this identity's public key.
    fn unwrap_one(
        &self,
        stanza: &age_core::format::Stanza,
        public: &x25519_dalek::PublicKey,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        use base64::Engine;
        use subtle::ConstantTimeEq;
        if stanza.tag != X25519_TAG {
            return None;
        }
        let invalid = || Some(Err(age::DecryptError::InvalidHeader));
        let [share] = &stanza.args[..] else {
            return invalid();
        };
        // Canonical unpadded base64 of exactly 32 bytes, as age requires.
        let mut buf = [0u8; 33];
        let epk: [u8; 32] =
            match base64::engine::general_purpose::STANDARD_NO_PAD.decode_slice(share, &mut buf) {
                Ok(32) => buf[..32].try_into().expect("32 bytes"),
                _ => return invalid(),
            };
        if stanza.body.len() != FILE_KEY_BYTES + 16 {
            return invalid();
        }
        let epk = x25519_dalek::PublicKey::from(epk);
        let shared = self.secret.diffie_hellman(&epk);
        self.agreements
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if bool::from(shared.as_bytes().iter().fold(0, |acc, b| acc | b).ct_eq(&0)) {
            return invalid();
        }
        self.unwrap_with(&epk, &shared, public, &stanza.body)
            .map(Ok)
    }
}

impl age::Identity for X25519Opener {
    fn unwrap_stanza(
        &self,
        stanza: &age_core::format::Stanza,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        self.unwrap_one(stanza, self.derived_public())
    }

    /// The hint first, over every stanza. Only the opening depends on the public key (every
    /// refusal of a malformed stanza does not), so a stanza the hint opens is exactly the one
    /// age would open; anything else (nothing opened, or a malformed stanza first) is decided
    /// again exactly as age decides it, with the derived key, unless the hint is that key.
    fn unwrap_stanzas(
        &self,
        stanzas: &[age_core::format::Stanza],
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        if let Some(hint) = &self.hint {
            let first = stanzas.iter().find_map(|s| self.unwrap_one(s, hint));
            if matches!(first, Some(Ok(_))) || hint == self.derived_public() {
                return first;
            }
        }
        stanzas
            .iter()
            .find_map(|s| self.unwrap_one(s, self.derived_public()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The opener opens what age's own identity opens, refuses what it refuses (another key),
    /// and a file sealed to several recipients is opened by the one stanza that is ours.
    #[test]
    fn the_opener_opens_exactly_what_ages_identity_opens() {
        let me = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let opener = X25519Opener::new(&me);
        let plaintext = b"secret payload".to_vec();
        let to_me = encrypt(&plaintext, &[&me.to_public()]).unwrap();
        let to_both = encrypt(&plaintext, &[&other.to_public(), &me.to_public()]).unwrap();
        let to_other = encrypt(&plaintext, &[&other.to_public()]).unwrap();
        for sealed in [&to_me, &to_both] {
            assert_eq!(*decrypt(sealed, &opener).unwrap(), plaintext);
            assert_eq!(*decrypt(sealed, &me).unwrap(), plaintext);
        }
        assert!(matches!(
            decrypt(&to_other, &opener),
            Err(age::DecryptError::NoMatchingKeys)
        ));
        // A damaged stanza body: age's identity and the opener agree that it is not theirs.
        let mut damaged = to_me.clone();
        let at = damaged.windows(4).position(|w| w == b"\n-> ").unwrap_or(0);
        let body = at + damaged[at + 1..].iter().position(|&b| b == b'\n').unwrap() + 2;
        damaged[body] ^= 1;
        assert_eq!(
            format!("{:?}", decrypt(&damaged, &opener).err()),
            format!("{:?}", decrypt(&damaged, &me).err())
        );
    }

    /// With the right public key as hint (config.json's recipient) the key is never derived;
    /// with a wrong or unreadable hint the opener still opens exactly what age opens.
    #[test]
    fn a_public_hint_saves_the_derivation_and_a_wrong_one_changes_nothing() {
        let me = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let plaintext = b"secret payload".to_vec();
        let to_me = encrypt(&plaintext, &[&me.to_public()]).unwrap();
        let to_both = encrypt(&plaintext, &[&other.to_public(), &me.to_public()]).unwrap();
        let to_other = encrypt(&plaintext, &[&other.to_public()]).unwrap();

        let hinted = X25519Opener::with_public_hint(&me, &me.to_public().to_string());
        assert_eq!(*decrypt(&to_me, &hinted).unwrap(), plaintext);
        assert!(
            hinted.derived.get().is_none(),
            "the hint served: nothing derived"
        );

        for hint in [
            other.to_public().to_string(),
            "not a key".into(),
            String::new(),
        ] {
            let opener = X25519Opener::with_public_hint(&me, &hint);
            for sealed in [&to_me, &to_both] {
                assert_eq!(
                    *decrypt(sealed, &opener).unwrap(),
                    plaintext,
                    "hint {hint:?}"
                );
            }
            assert!(matches!(
                decrypt(&to_other, &opener),
                Err(age::DecryptError::NoMatchingKeys)
            ));
        }
    }
}
