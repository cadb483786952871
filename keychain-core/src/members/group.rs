//! The group key: 32 random bytes that only members can open, from which the keys that
//! authenticate the member list and the shared audit trail are derived.
//!
//! Each generation of the group key is stored age-encrypted to the members of that generation
//! ([`WrappedGroup`]). A new generation (after `member rm`) carries a link: an HMAC of the new
//! key's id under the previous key, so that a member who trusted generation `g` can check that
//! generation `g + 1` was made by someone who held `g`, not planted by someone who can only
//! write to the store. This module must never write a key anywhere, nor print one.
#![deny(missing_docs)]

use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::encoding::hex;

type HmacSha256 = Hmac<Sha256>;

const LABEL_ID: &[u8] = b"keychain group id v1";
const LABEL_LIST: &[u8] = b"keychain group member list v1";
const LABEL_LINK: &[u8] = b"keychain group link v1";
const LABEL_AUDIT: &[u8] = b"keychain group audit v1";
const LABEL_RECORD: &[u8] = b"keychain group record v1";

/// One generation of the group key.
pub struct GroupKey(SecretBox<[u8; 32]>);

impl std::fmt::Debug for GroupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupKey([REDACTED])")
    }
}

impl GroupKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let key = GroupKey(SecretBox::new(Box::new(bytes)));
        bytes.zeroize();
        key
    }

    /// A second handle on the same key (the key itself is never cloned implicitly).
    pub fn from_opened(key: &GroupKey) -> Self {
        GroupKey(SecretBox::new(Box::new(*key.0.expose_secret())))
    }

    /// The key whose 32 bytes are `secret`, for [`super::sealed`]'s local copy (which checks
    /// it against the pin before use).
    pub(super) fn from_secret(secret: &[u8; 32]) -> Self {
        GroupKey(SecretBox::new(Box::new(*secret)))
    }

    /// The key's bytes, for [`super::sealed`] to seal to this machine's identity (never written
    /// anywhere in the clear).
    pub(super) fn secret(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }

    /// A public name of this key (a one-way hash): what a member pins to notice a replaced key.
    pub fn id(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(LABEL_ID);
        hasher.update(self.0.expose_secret());
        hex(&hasher.finalize())
    }

    /// HMAC under the subkey for `label`; separate labels keep a list MAC from ever passing
    /// as a link or an audit MAC.
    fn mac(&self, label: &[u8], parts: &[&[u8]]) -> String {
        let mut mac = self.subkey_hmac(label);
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        hex(&mac.finalize().into_bytes())
    }

    fn subkey_hmac(&self, label: &[u8]) -> HmacSha256 {
        let mut derive =
            HmacSha256::new_from_slice(self.0.expose_secret()).expect("HMAC takes any key length");
        derive.update(label);
        let mut subkey: [u8; 32] = derive.finalize().into_bytes().into();
        let mac = HmacSha256::new_from_slice(&subkey).expect("HMAC takes any key length");
        subkey.zeroize();
        mac
    }

    /// The MAC of a member list's bytes.
    pub fn mac_list(&self, generation: u64, list: &[u8]) -> String {
        self.mac(LABEL_LIST, &[&generation.to_be_bytes(), list])
    }

    /// The link from this key (generation `generation - 1`) to the next one.
    pub fn link_to(&self, generation: u64, next_id: &str) -> String {
        self.mac(LABEL_LINK, &[&generation.to_be_bytes(), next_id.as_bytes()])
    }

    /// The MAC of the record of account `name` as sealed (`record`: every byte of it, its
    /// header with the write counter included), under generation `generation`: what makes a
    /// record a member's, not the work of someone who can only write the store
    /// ([`super::record_auth`]).
    pub fn mac_record(&self, generation: u64, name: &str, record: &[u8]) -> String {
        self.mac(
            LABEL_RECORD,
            &[&generation.to_be_bytes(), name.as_bytes(), record],
        )
    }

    /// The secret the shared audit trail's MAC and fingerprint keys are derived from: every
    /// member can verify and append, nobody else can forge.
    pub fn audit_secret(&self) -> SecretBox<[u8; 32]> {
        let mut derive =
            HmacSha256::new_from_slice(self.0.expose_secret()).expect("HMAC takes any key length");
        derive.update(LABEL_AUDIT);
        SecretBox::new(Box::new(derive.finalize().into_bytes().into()))
    }

    /// Encrypts the key to `recipients` (the members of its generation).
    pub fn wrap(
        &self,
        generation: u64,
        recipients: &[age::x25519::Recipient],
        link: Option<String>,
    ) -> Result<WrappedGroup, age::EncryptError> {
        let recipients: Vec<&dyn age::Recipient> = recipients
            .iter()
            .map(|r| r as &dyn age::Recipient)
            .collect();
        let sealed = crate::crypto::encrypt(self.0.expose_secret(), &recipients)?;
        use base64::Engine;
        Ok(WrappedGroup {
            format: 1,
            generation,
            id: self.id(),
            link,
            sealed: base64::engine::general_purpose::STANDARD.encode(sealed),
        })
    }
}

/// How one generation of the group key is stored: public, except `sealed`, which only the
/// members of that generation can open.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrappedGroup {
    /// The format's version (1).
    pub format: u32,
    /// Which generation of the group key this is; 0 for the first.
    pub generation: u64,
    /// [`GroupKey::id`] of the sealed key; checked against the key once opened.
    pub id: String,
    /// [`GroupKey::link_to`] under the previous generation's key; `None` for generation 0.
    pub link: Option<String>,
    /// The age file, base64.
    pub sealed: String,
}

/// Why a wrapped group key could not be used.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Not encrypted to this identity: not (or no longer) a member.
    NotAMember,
    /// Not something keychain wrote, or its id does not match the key inside.
    Corrupt(&'static str),
}

impl WrappedGroup {
    /// As stored: JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a wrapped group key serialises")
    }

    /// Reads one as stored; anything else is [`OpenError::Corrupt`]. Checks nothing yet: see
    /// [`WrappedGroup::open`].
    pub fn parse(bytes: &[u8]) -> Result<Self, OpenError> {
        serde_json::from_slice(bytes).map_err(|_| OpenError::Corrupt("not a wrapped group key"))
    }

    /// Opens the key with this machine's identity and checks that it is the key the public
    /// `id` names.
    pub fn open(&self, identity: &dyn age::Identity) -> Result<GroupKey, OpenError> {
        use base64::Engine;
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(&self.sealed)
            .map_err(|_| OpenError::Corrupt("the sealed key is not base64"))?;
        let plain = crate::crypto::decrypt(&sealed, identity).map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => OpenError::NotAMember,
            _ => OpenError::Corrupt("the sealed key does not decrypt"),
        })?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| OpenError::Corrupt("the sealed key is not 32 bytes"))?;
        let key = GroupKey(SecretBox::new(Box::new(bytes)));
        if !crate::secret::ct_eq_str(&key.id(), &self.id) {
            return Err(OpenError::Corrupt(
                "the sealed key is not the one its id names",
            ));
        }
        Ok(key)
    }

    /// Whether `previous` (the key of generation `generation - 1`) made this generation.
    pub fn linked_from(&self, previous: &GroupKey) -> bool {
        self.link.as_deref().is_some_and(|link| {
            crate::secret::ct_eq_str(link, &previous.link_to(self.generation, &self.id))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_recipients_open_the_key_and_a_swapped_key_is_noticed() {
        let alice = age::x25519::Identity::generate();
        let mallory = age::x25519::Identity::generate();
        let key = GroupKey::generate();
        let wrapped = key.wrap(0, &[alice.to_public()], None).unwrap();
        assert_eq!(wrapped.open(&alice).unwrap().id(), key.id());
        assert_eq!(wrapped.open(&mallory).unwrap_err(), OpenError::NotAMember);

        // Mallory seals her own key to Alice but keeps the pinned id: refused on opening.
        let planted = GroupKey::generate()
            .wrap(0, &[alice.to_public(), mallory.to_public()], None)
            .unwrap();
        let swapped = WrappedGroup {
            id: key.id(),
            ..planted
        };
        assert!(matches!(swapped.open(&alice), Err(OpenError::Corrupt(_))));
    }

    #[test]
    fn a_new_generation_is_linked_only_by_the_key_before_it() {
        let alice = age::x25519::Identity::generate();
        let old = GroupKey::generate();
        let new = GroupKey::generate();
        let link = old.link_to(1, &new.id());
        let wrapped = new.wrap(1, &[alice.to_public()], Some(link)).unwrap();
        assert!(wrapped.linked_from(&old));
        assert!(!wrapped.linked_from(&GroupKey::generate()));
        let unlinked = new.wrap(1, &[alice.to_public()], None).unwrap();
        assert!(!unlinked.linked_from(&old));
    }

    #[test]
    fn debug_never_shows_the_key() {
        assert_eq!(
            format!("{:?}", GroupKey::generate()),
            "GroupKey([REDACTED])"
        );
    }
}
