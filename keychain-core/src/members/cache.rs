//! This machine's copy of the group key it trusts, wrapped as the store holds it (age-encrypted
//! to the members, this machine among them), in `group.key` next to the pin.
//!
//! A generation's key never changes (a `member add` wraps the same key to one more member), so
//! once a machine has opened the key its pin names, reading it from the store again at every
//! command cannot change the outcome: it saves a round trip on every cached `login`. The copy
//! is used only for the pinned generation and only when the key inside is the one the pin names;
//! anything else (missing, unreadable, another generation, another key) falls back to the store.
//! It holds nothing a person could use without this machine's identity.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use super::group::{GroupKey, WrappedGroup};
use super::pin::Pin;

/// The copy's file name in the keychain folder.
pub const CACHE_FILE: &str = "group.key";

fn path(dir: &Path) -> PathBuf {
    dir.join(CACHE_FILE)
}

/// The wrapped key of generation `generation` from the copy, opened, when it is the one `pin`
/// names; `None` otherwise (the caller reads the store).
pub fn load(
    dir: &Path,
    identity: &dyn age::Identity,
    pin: &Pin,
    generation: u64,
) -> Option<(WrappedGroup, GroupKey)> {
    if pin.generation != Some(generation) {
        return None;
    }
    let bytes = crate::fsutil::read_regular(&path(dir), 64 * 1024).ok()?;
    let wrapped = WrappedGroup::parse(&bytes).ok()?;
    if wrapped.generation != generation {
        return None;
    }
    let key = wrapped.open(identity).ok()?;
    let pinned = pin.id.as_deref()?;
    crate::secret::ct_eq_str(&key.id(), pinned).then_some((wrapped, key))
}

/// Keeps `wrapped` (checked against the pin by the caller) as the copy. A copy that cannot be
/// written costs a read next time, nothing else: the error is dropped.
pub fn save(dir: &Path, wrapped: &WrappedGroup) {
    let _ = crate::fsutil::write_atomic_unique(
        &path(dir),
        &wrapped.to_bytes(),
        crate::fsutil::FILE_MODE,
    );
}
