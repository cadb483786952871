//! The file-key cache: each record's age file key (the 16 bytes its X25519 stanza wraps), kept
//! sealed in the keychain folder, so that a command that opens every record (`audit`, through
//! [`super::Keychain::read_many`]) skips the X25519 agreement of a record it opened before.
//! Only the agreement: the record is still opened by age with that file key, so its header MAC,
//! its payload AEAD, the payload's hash of the public header, its name and the audit log's
//! write counter are all checked exactly as without the cache.
//!
//! # Threat model
//!
//! - **Reading the cache needs the identity.** The file is one ChaCha20-Poly1305 ciphertext
//!   under a key derived (HKDF-SHA256, its own label) from the identity's secret, with a fresh
//!   random salt per write (the key is used once, as age's payload key is). Whoever can read the
//!   file but has no identity learns its size (the number of records) and nothing else; whoever
//!   has the identity can unwrap every file key anyway. The file is written 0600.
//! - **Nothing in it is trusted.** A file that is not ours (another identity's, damaged,
//!   truncated, planted, a FIFO, too large) fails to unseal and is ignored: every record is then
//!   opened the slow way and the cache is written again. An entry is looked up by a hash of the
//!   record's name and of every stanza of its age header (the ephemeral share and the wrapped
//!   key), so a record rewritten (a new ephemeral key) or replaced has no entry and is opened
//!   the slow way. An entry that still gives a wrong file key (forged with the identity, or a
//!   bug) opens nothing: age refuses the header MAC (`InvalidMac`), exactly the error a
//!   tampered record gives, never a wrong secret; and then the record is opened again without
//!   the cache, so the cache can neither open a record nor refuse one that the slow way would
//!   not. An entry is kept only for a record that opened and passed every check.
//! - **Why rebuilding it is fine while a corrupt record is not.** A record is the only copy of
//!   its secrets, and its damage is evidence: it is reported and never overwritten. The cache
//!   holds nothing that the records and the identity do not give again: losing or overwriting
//!   it loses time, never data, and a damaged cache is evidence of nothing the records' own
//!   checks would not show. So it is replaced, atomically (a unique temporary file, fsync,
//!   rename, as every file other processes may write at the same time): two commands writing
//!   it at once leave one whole cache, either of them valid.
//! - **Bounded.** Each write holds the entries of the records the command opened, no more:
//!   entries of removed or rewritten records go at the next `audit`. Written only when that set
//!   changed, so a warm `audit` writes nothing. Not written into a folder other users can write.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use age::secrecy::ExposeSecret;
use age_core::format::{FileKey, Stanza};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::crypto::X25519Opener;

/// The cache's file name in the keychain folder.
pub const FILE_NAME: &str = "file-keys.cache";
const MAGIC: &[u8] = b"keychain-file-key-cache/1\n";
/// Labels the cache's root key, derived from the identity: no other key of keychain uses it.
const LABEL_ROOT: &[u8] = b"keychain file-key cache v1";
/// Labels the one-time key of one write, derived from the root key and that write's salt.
const LABEL_SEAL: &[u8] = b"keychain file-key cache seal v1";
/// Labels an entry's lookup hash.
const LABEL_ENTRY: &[u8] = b"keychain file-key cache entry v1";
const SALT_BYTES: usize = 32;
const ID_BYTES: usize = 32;
const KEY_BYTES: usize = 16;
const ENTRY_BYTES: usize = ID_BYTES + KEY_BYTES;
const TAG_BYTES: usize = 16;
/// A cache larger than this is not read (over a million records).
const MAX_FILE: u64 = 64 << 20;

type EntryId = [u8; ID_BYTES];
type Keys = HashMap<EntryId, Zeroizing<[u8; KEY_BYTES]>>;

/// The cache as loaded for one command, and the entries of the records it opened.
pub(crate) struct FileKeyCache {
    path: PathBuf,
    root: Zeroizing<[u8; 32]>,
    loaded: Keys,
    kept: Mutex<Keys>,
}

impl FileKeyCache {
    /// The cache of the keychain in `dir` under `opener`'s identity; empty when there is none
    /// or it does not unseal (it is then written again by [`FileKeyCache::save`]).
    pub(crate) fn load(dir: &Path, opener: &X25519Opener) -> Self {
        Self::load_file(dir.join(FILE_NAME), opener)
    }

    /// A cache kept in the file `path` instead of the keychain folder's [`FILE_NAME`]: the
    /// fast path of a cached `login` on a shared keychain keeps one per copy of a record
    /// (`keychain::fast_login`), so that opening one record reads and writes one entry, never
    /// the whole keychain's.
    pub(crate) fn load_file(path: PathBuf, opener: &X25519Opener) -> Self {
        let root = opener.derive_key(LABEL_ROOT);
        let loaded = crate::fsutil::read_regular(&path, MAX_FILE)
            .ok()
            .and_then(|bytes| unseal(&root, &bytes))
            .unwrap_or_default();
        Self {
            path,
            root,
            loaded,
            kept: Mutex::default(),
        }
    }

    /// Runs `open` (the whole opening and checking of record `name`) with an identity that
    /// answers from the cache, else with `opener`. When it fails after the cache answered, it
    /// runs again without the cache: the cache never decides whether a record opens.
    pub(crate) fn open<T, E>(
        &self,
        opener: &X25519Opener,
        name: &str,
        open: impl Fn(&dyn age::Identity) -> Result<T, E>,
    ) -> Result<T, E> {
        let cached = Cached::new(Some(self), opener, name);
        let mut result = open(&cached);
        let mut used = cached.used.into_inner();
        if result.is_err() && used.as_ref().is_some_and(|u| u.from_cache) {
            let slow = Cached::new(None, opener, name);
            result = open(&slow);
            used = slow.used.into_inner();
        }
        if let (Ok(_), Some(used)) = (&result, used) {
            self.kept
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(used.id, used.key);
        }
        result
    }

    /// Writes the entries of the records opened, when they are not what was loaded. A cache
    /// that cannot be written is no error: the next command opens the slow way.
    pub(crate) fn save(self) {
        let kept = self
            .kept
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let unchanged = kept.len() == self.loaded.len()
            && kept.iter().all(|(id, key)| {
                self.loaded
                    .get(id)
                    .is_some_and(|old| old.as_slice() == key.as_slice())
            });
        if unchanged || folder_writable_by_others(&self.path) {
            return;
        }
        let sealed = seal(&self.root, &kept);
        let _ = crate::fsutil::write_atomic_unique(&self.path, &sealed, 0o600);
    }
}

fn folder_writable_by_others(path: &Path) -> bool {
    let dir = crate::fsutil::parent_of(path);
    std::fs::metadata(&dir).map_or(true, |meta| {
        crate::fsutil::writable_by_others(&dir, &meta).is_some()
    })
}

/// The file key one opening used, and whether the cache gave it.
struct Used {
    id: EntryId,
    key: Zeroizing<[u8; KEY_BYTES]>,
    from_cache: bool,
}

/// The identity one record is opened with: the cache's entry for its stanzas, else the opener.
struct Cached<'a> {
    cache: Option<&'a FileKeyCache>,
    opener: &'a X25519Opener,
    name: &'a str,
    used: RefCell<Option<Used>>,
}

impl<'a> Cached<'a> {
    fn new(cache: Option<&'a FileKeyCache>, opener: &'a X25519Opener, name: &'a str) -> Self {
        Self {
            cache,
            opener,
            name,
            used: RefCell::new(None),
        }
    }
}

impl age::Identity for Cached<'_> {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        self.opener.unwrap_stanza(stanza)
    }

    fn unwrap_stanzas(&self, stanzas: &[Stanza]) -> Option<Result<FileKey, age::DecryptError>> {
        let id = entry_id(self.name, stanzas);
        if let Some(key) = self.cache.and_then(|cache| cache.loaded.get(&id)) {
            *self.used.borrow_mut() = Some(Used {
                id,
                key: key.clone(),
                from_cache: true,
            });
            return Some(Ok(FileKey::init_with_mut(|k| k.copy_from_slice(&**key))));
        }
        let opened = self.opener.unwrap_stanzas(stanzas);
        if let Some(Ok(file_key)) = &opened {
            *self.used.borrow_mut() = Some(Used {
                id,
                key: Zeroizing::new(*file_key.expose_secret()),
                from_cache: false,
            });
        }
        opened
    }
}

/// The lookup hash of a record's entry: its name and every stanza of its age header, each
/// field length-prefixed (no two different headers hash the same input).
fn entry_id(name: &str, stanzas: &[Stanza]) -> EntryId {
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    field(LABEL_ENTRY);
    field(name.as_bytes());
    field(&(stanzas.len() as u64).to_le_bytes());
    for stanza in stanzas {
        field(stanza.tag.as_bytes());
        field(&(stanza.args.len() as u64).to_le_bytes());
        for arg in &stanza.args {
            field(arg.as_bytes());
        }
        field(&stanza.body);
    }
    hash.finalize().into()
}

/// The one-time key of a write whose salt is `salt`.
fn seal_key(root: &[u8; 32], salt: &[u8]) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(age_core::primitives::hkdf(salt, LABEL_SEAL, root))
}

/// MAGIC, a random salt, then the entries (id, file key) under ChaCha20-Poly1305 with the key
/// of that salt.
fn seal(root: &[u8; 32], keys: &Keys) -> Vec<u8> {
    use rand::RngCore;
    let mut salt = [0u8; SALT_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let mut plain = Zeroizing::new(Vec::with_capacity(keys.len() * ENTRY_BYTES));
    for (id, key) in keys {
        plain.extend_from_slice(id);
        plain.extend_from_slice(&**key);
    }
    let sealed = age_core::primitives::aead_encrypt(&seal_key(root, &salt), &plain);
    let mut out = Vec::with_capacity(MAGIC.len() + SALT_BYTES + sealed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&sealed);
    out
}

/// The entries of a sealed cache; `None` for anything that is not one sealed under `root`.
fn unseal(root: &[u8; 32], bytes: &[u8]) -> Option<Keys> {
    let rest = bytes.strip_prefix(MAGIC)?;
    if rest.len() < SALT_BYTES + TAG_BYTES {
        return None;
    }
    let (salt, sealed) = rest.split_at(SALT_BYTES);
    let plain = Zeroizing::new(
        age_core::primitives::aead_decrypt(&seal_key(root, salt), sealed.len() - TAG_BYTES, sealed)
            .ok()?,
    );
    if plain.len() % ENTRY_BYTES != 0 {
        return None;
    }
    Some(
        plain
            .chunks_exact(ENTRY_BYTES)
            .map(|entry| {
                let (id, key) = entry.split_at(ID_BYTES);
                let mut file_key = Zeroizing::new([0u8; KEY_BYTES]);
                file_key.copy_from_slice(key);
                (id.try_into().expect("32 bytes"), file_key)
            })
            .collect(),
    )
}

#[cfg(test)]
pub(crate) mod testing {
    //! What the cache tests forge and inspect: the sealed entries, with the identity.
    use super::*;

    /// The entries of the cache in `dir`, unsealed with `opener`'s identity.
    pub fn entries(dir: &Path, opener: &X25519Opener) -> Option<Vec<(EntryId, [u8; KEY_BYTES])>> {
        let bytes = std::fs::read(dir.join(FILE_NAME)).ok()?;
        let keys = unseal(&opener.derive_key(LABEL_ROOT), &bytes)?;
        Some(keys.into_iter().map(|(id, key)| (id, *key)).collect())
    }

    /// Writes `entries` as the cache in `dir`, sealed under `opener`'s identity (a forgery
    /// only the identity's holder could make).
    pub fn write(dir: &Path, opener: &X25519Opener, entries: &[(EntryId, [u8; KEY_BYTES])]) {
        let keys: Keys = entries
            .iter()
            .map(|(id, key)| (*id, Zeroizing::new(*key)))
            .collect();
        let sealed = seal(&opener.derive_key(LABEL_ROOT), &keys);
        std::fs::write(dir.join(FILE_NAME), sealed).unwrap();
    }
}
