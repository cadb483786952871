//! A second local copy of the pinned group key, sealed to this machine's identity with a
//! symmetric key (`group.key.sealed`), so that the fast path of a cached `login` opens the group
//! key without an X25519 agreement (issue 20, item 7: the agreement was ~0.9 M of the ~1.3 M
//! instructions a cached login on the shared store made beyond the local store's).
//!
//! # Threat model
//!
//! - **It opens exactly for whoever can open `group.key`.** The file is one ChaCha20-Poly1305
//!   ciphertext (age's own primitives) under a key derived (HKDF-SHA256, a label of its own) from
//!   this machine's identity secret and a fresh random salt per write, so the key of a write is
//!   used once (the zero nonce is then safe, as for age's payload key). Whoever has the
//!   identity opens `group.key` anyway; whoever has not learns nothing but the file's size.
//!   Written 0600, atomically (unique temporary file, fsync, rename), as `group.key`.
//! - **Nothing in it is trusted.** It is used only for the pinned generation, and only when the
//!   key inside is the one the pin names (its id, the same constant-time comparison
//!   [`super::cache::load`] makes after opening `group.key`): a file of another identity, another
//!   generation, damaged, truncated or planted fails to unseal or to match, and the key is then
//!   opened from `group.key` exactly as before. So the copy can neither give a key the pin does
//!   not name nor refuse one `group.key` would give.
//! - **Why it may be replaced while a corrupt record may not.** It holds nothing that
//!   `group.key` and the identity do not give again: a copy that does not open is evidence of
//!   nothing `group.key`'s own checks would not show, and losing or replacing it loses one
//!   X25519 agreement, never data. So after a slow opening it is written again.
//! - **A removed member** keeps the copy of the generation it was removed from, as it keeps
//!   `group.key` of that generation: the same key, opened with the same checks, used the same way
//!   (see `keychain::fast_login`: its write lands on a position already taken).
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::group::GroupKey;
use super::pin::Pin;
use crate::crypto::X25519Opener;

/// The sealed copy's file name in the keychain folder.
pub const SEALED_FILE: &str = "group.key.sealed";
const MAGIC: &[u8] = b"keychain-sealed-group-key/1\n";
/// Labels the copy's root key, derived from the identity: no other key of keychain uses it.
const LABEL_ROOT: &[u8] = b"keychain sealed group key v1";
/// Labels the one-time key of one write, derived from the root key and that write's salt.
const LABEL_SEAL: &[u8] = b"keychain sealed group key seal v1";
const SALT_BYTES: usize = 32;
/// The plaintext: the generation (8 bytes, big-endian), then the key (32 bytes).
const PLAIN_BYTES: usize = 8 + 32;
const TAG_BYTES: usize = 16;
const FILE_BYTES: usize = MAGIC.len() + SALT_BYTES + PLAIN_BYTES + TAG_BYTES;

fn path(dir: &Path) -> PathBuf {
    dir.join(SEALED_FILE)
}

/// The group key of the pinned generation `generation`: from the sealed copy when it holds the
/// key `pin` names, else from `group.key` ([`super::cache::load`], one X25519 agreement), after
/// which the sealed copy is written for next time. `None` when neither gives the pinned key (the
/// caller takes the normal path, which reads the store).
pub fn load_pinned(
    dir: &Path,
    opener: &X25519Opener,
    pin: &Pin,
    generation: u64,
) -> Option<GroupKey> {
    if pin.generation != Some(generation) {
        return None;
    }
    let pinned = pin.id.as_deref()?;
    let root = opener.derive_key(LABEL_ROOT);
    if let Some(key) = unseal(&root, generation, pinned, &read(dir)) {
        return Some(key);
    }
    let (_, key) = super::cache::load(dir, opener, pin, generation)?;
    save(dir, &root, generation, &key);
    Some(key)
}

/// The copy's bytes; none for a copy that is missing, unreadable, not a regular file or too
/// large (it then fails to unseal and is written again).
fn read(dir: &Path) -> Vec<u8> {
    crate::fsutil::read_regular(&path(dir), FILE_BYTES as u64 + 1).unwrap_or_default()
}

/// The key in `bytes` if they are a copy sealed under `root` for `generation` whose key is the
/// one `pinned` names.
fn unseal(root: &[u8; 32], generation: u64, pinned: &str, bytes: &[u8]) -> Option<GroupKey> {
    let rest = bytes.strip_prefix(MAGIC)?;
    if rest.len() != SALT_BYTES + PLAIN_BYTES + TAG_BYTES {
        return None;
    }
    let (salt, sealed) = rest.split_at(SALT_BYTES);
    let plain = Zeroizing::new(
        age_core::primitives::aead_decrypt(&seal_key(root, salt), PLAIN_BYTES, sealed).ok()?,
    );
    let (sealed_generation, secret) = plain.split_at(8);
    if sealed_generation != generation.to_be_bytes() {
        return None;
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    bytes.copy_from_slice(secret);
    let key = GroupKey::from_secret(&bytes);
    crate::secret::ct_eq_str(&key.id(), pinned).then_some(key)
}

/// Writes the copy of `key` (the pinned key of `generation`, checked by the caller). A copy
/// that cannot be written costs an agreement next time, nothing else: the error is dropped.
fn save(dir: &Path, root: &[u8; 32], generation: u64, key: &GroupKey) {
    use rand::RngCore;
    let mut salt = [0u8; SALT_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let mut plain = Zeroizing::new([0u8; PLAIN_BYTES]);
    plain[..8].copy_from_slice(&generation.to_be_bytes());
    plain[8..].copy_from_slice(key.secret());
    let sealed = age_core::primitives::aead_encrypt(&seal_key(root, &salt), &*plain);
    let mut out = Vec::with_capacity(FILE_BYTES);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&sealed);
    let _ = crate::fsutil::write_atomic_unique(&path(dir), &out, crate::fsutil::FILE_MODE);
}

/// The one-time key of a write whose salt is `salt`.
fn seal_key(root: &[u8; 32], salt: &[u8]) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(age_core::primitives::hkdf(salt, LABEL_SEAL, root))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opener(identity: &age::x25519::Identity) -> X25519Opener {
        X25519Opener::new(identity)
    }

    /// A keychain folder holding `group.key` of generation 0 sealed to `identity`, and its pin.
    fn folder(identity: &age::x25519::Identity) -> (tempfile::TempDir, Pin, GroupKey) {
        let dir = tempfile::tempdir().unwrap();
        let key = GroupKey::generate();
        let wrapped = key.wrap(0, &[identity.to_public()], None).unwrap();
        super::super::cache::save(dir.path(), &wrapped);
        let pin = Pin {
            generation: Some(0),
            id: Some(key.id()),
            ..Pin::none()
        };
        (dir, pin, key)
    }

    #[test]
    fn the_sealed_copy_is_written_after_a_slow_opening_and_then_opens_without_an_agreement() {
        let alice = age::x25519::Identity::generate();
        let (dir, pin, key) = folder(&alice);
        let first = opener(&alice);
        assert_eq!(
            load_pinned(dir.path(), &first, &pin, 0).unwrap().id(),
            key.id()
        );
        assert_eq!(first.agreements(), 1);
        assert!(dir.path().join(SEALED_FILE).exists());
        let second = opener(&alice);
        assert_eq!(
            load_pinned(dir.path(), &second, &pin, 0).unwrap().id(),
            key.id()
        );
        assert_eq!(second.agreements(), 0, "the sealed copy needs no agreement");
        // Not even `group.key` is needed any more: the sealed copy is checked against the pin.
        std::fs::remove_file(dir.path().join(super::super::cache::CACHE_FILE)).unwrap();
        assert!(load_pinned(dir.path(), &opener(&alice), &pin, 0).is_some());
    }

    #[test]
    fn a_copy_of_another_identity_another_key_or_another_generation_gives_nothing() {
        let alice = age::x25519::Identity::generate();
        let mallory = age::x25519::Identity::generate();
        let (dir, pin, key) = folder(&alice);
        let root = opener(&alice).derive_key(LABEL_ROOT);
        let sealed = path(dir.path());

        // Another identity's copy (Mallory seals the right key under her own identity).
        save(
            dir.path(),
            &opener(&mallory).derive_key(LABEL_ROOT),
            0,
            &key,
        );
        assert!(unseal(&root, 0, &key.id(), &std::fs::read(&sealed).unwrap()).is_none());

        // Alice's own copy of another key than the pin names, or of another generation.
        save(dir.path(), &root, 0, &GroupKey::generate());
        assert!(unseal(&root, 0, &key.id(), &std::fs::read(&sealed).unwrap()).is_none());
        save(dir.path(), &root, 1, &key);
        assert!(unseal(&root, 0, &key.id(), &std::fs::read(&sealed).unwrap()).is_none());

        // A damaged copy: every byte flipped in turn is refused.
        save(dir.path(), &root, 0, &key);
        let good = std::fs::read(&sealed).unwrap();
        assert!(unseal(&root, 0, &key.id(), &good).is_some());
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 1;
            assert!(unseal(&root, 0, &key.id(), &bad).is_none(), "byte {i}");
        }
        assert!(unseal(&root, 0, &key.id(), &good[..good.len() - 1]).is_none());

        // Whatever the copy holds, the pinned key comes back (from `group.key`), and the copy is
        // written again.
        std::fs::write(&sealed, b"not a sealed key").unwrap();
        let fresh = opener(&alice);
        assert_eq!(
            load_pinned(dir.path(), &fresh, &pin, 0).unwrap().id(),
            key.id()
        );
        assert_eq!(fresh.agreements(), 1);
        assert!(unseal(&root, 0, &key.id(), &std::fs::read(&sealed).unwrap()).is_some());
    }

    #[test]
    fn nothing_for_a_generation_the_pin_does_not_name() {
        let alice = age::x25519::Identity::generate();
        let (dir, pin, _) = folder(&alice);
        assert!(load_pinned(dir.path(), &opener(&alice), &pin, 0).is_some());
        assert!(load_pinned(dir.path(), &opener(&alice), &pin, 1).is_none());
        let unpinned = Pin {
            id: None,
            ..pin.clone()
        };
        assert!(load_pinned(dir.path(), &opener(&alice), &unpinned, 0).is_none());
    }
}
