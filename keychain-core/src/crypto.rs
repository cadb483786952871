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
pub struct X25519Opener {
    secret: x25519_dalek::StaticSecret,
    public: x25519_dalek::PublicKey,
}

const X25519_TAG: &str = "X25519";
const X25519_LABEL: &[u8] = b"age-encryption.org/v1/X25519";
const FILE_KEY_BYTES: usize = 16;

impl X25519Opener {
    /// The opener of `identity`'s records.
    pub fn new(identity: &age::x25519::Identity) -> Self {
        use age::secrecy::ExposeSecret;
        use bech32::FromBase32;
        let encoded = identity.to_string();
        let (_, data, _) =
            bech32::decode(encoded.expose_secret()).expect("age encodes its identity in Bech32");
        let mut bytes = Zeroizing::new(Vec::<u8>::from_base32(&data).expect("5-bit groups"));
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&bytes[..32]);
        bytes.iter_mut().for_each(|b| *b = 0);
        let secret = x25519_dalek::StaticSecret::from(*key);
        let public = x25519_dalek::PublicKey::from(&secret);
        Self { secret, public }
    }
}

impl age::Identity for X25519Opener {
    fn unwrap_stanza(
        &self,
        stanza: &age_core::format::Stanza,
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
        if bool::from(shared.as_bytes().iter().fold(0, |acc, b| acc | b).ct_eq(&0)) {
            return invalid();
        }
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(epk.as_bytes());
        salt[32..].copy_from_slice(self.public.as_bytes());
        let key = Zeroizing::new(age_core::primitives::hkdf(
            &salt,
            X25519_LABEL,
            shared.as_bytes(),
        ));
        // Not ours (another recipient's stanza) is no error: the next stanza is tried.
        age_core::primitives::aead_decrypt(&key, FILE_KEY_BYTES, &stanza.body)
            .ok()
            .map(|plain| {
                let plain = Zeroizing::new(plain);
                Ok(age_core::format::FileKey::init_with_mut(|file_key| {
                    file_key.copy_from_slice(&plain)
                }))
            })
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
}
