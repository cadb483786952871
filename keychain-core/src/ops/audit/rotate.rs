//! `audit rotate`: the live log moves to `audit.log.N`; the new log's first line continues seq,
//! key chain and hash chain, so `verify` still checks the whole history. Keep every rotated
//! file: verification needs them all, oldest first.

use std::path::PathBuf;

use crate::error::Result;
use crate::keychain::Keychain;

/// Rotates the keychain's audit log, waiting for its lock at most the configured lock timeout
/// (a login may be appending). Returns the new name of the old log, for the person to keep.
pub fn rotate(kc: &Keychain) -> Result<PathBuf> {
    Ok(crate::audit::log_of(&kc.dir, kc.clock())
        .waiting_at_most(kc.settings().lock_timeout)
        .rotate()?)
}
