//! The local pin: which group key generation (and which key, by id) this machine last trusted.
//!
//! Kept in the machine's own keychain folder (`group.pin`, 0600) and MAC'd under a key derived
//! from the machine's identity, so that someone who can write the folder but not open the key
//! store cannot move it. With the pin, a group key replaced in the store (same generation, other
//! key) or rolled back is refused; a newer generation is accepted only when every step from the
//! pinned one is linked by the key before it (see [`super::group`]). The pin also holds the
//! member list's serial and digest: an older list (the one from before a `member add`, with the
//! same generation and a valid MAC) or another list of the same serial is refused.
//!
//! A pin only ever moves forward: [`save_newer`] takes a lock, reads the pin again, and keeps
//! the newer of the two, so that two processes of one machine cannot move it back.
#![deny(missing_docs)]

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::keystore::Identity;

/// The pin's file name in the keychain folder.
pub const PIN_FILE: &str = "group.pin";
/// The lock taken while the pin is read again and moved forward.
const LOCK_FILE: &str = "group.pin.lock";
const LABEL: &[u8] = b"keychain group pin v1";

/// What a machine trusts: nothing yet (joined, waiting to be added), or one generation's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// `None` between `init --join` and the first time this machine opens the group key.
    pub generation: Option<u64>,
    /// The trusted key's public id ([`super::GroupKey::id`]); `None` with `generation`.
    pub id: Option<String>,
    /// The serial of the newest member list this machine accepted (`None` in pins written
    /// before lists had one).
    pub serial: Option<u64>,
    /// [`super::MemberList::digest`] of that list.
    pub list: Option<String>,
}

impl Pin {
    /// A pin of nothing yet: joined, waiting for the join code.
    pub fn none() -> Self {
        Pin {
            generation: None,
            id: None,
            serial: None,
            list: None,
        }
    }

    /// Whether `self` is older than `other` (a lower generation, or a lower list serial).
    fn older_than(&self, other: &Pin) -> bool {
        (self.generation, self.serial) < (other.generation, other.serial)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    generation: Option<u64>,
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    serial: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    list: Option<String>,
    mac: String,
}

/// Why the pin cannot be used.
#[derive(Debug)]
pub enum PinError {
    /// The pin file (given) is missing: this machine never joined, or it was removed.
    Missing(PathBuf),
    /// The pin file (given) is not what keychain wrote or does not authenticate under this
    /// machine's identity: edited, or copied from another machine.
    Forged(PathBuf),
    /// The pin file (given) could not be read or written.
    Io(PathBuf, std::io::Error),
}

/// The pin file of the keychain folder `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(PIN_FILE)
}

fn mac(identity: &Identity, pin: &Pin) -> String {
    let secret = identity.to_string();
    let mut derive = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes any key length");
    derive.update(LABEL);
    let key = zeroize::Zeroizing::new(<[u8; 32]>::from(derive.finalize().into_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(&*key).expect("HMAC takes any key length");
    // A pin written before lists had a serial is MAC'd over (generation, id) only.
    let text = match (&pin.serial, &pin.list) {
        (None, None) => serde_json::to_vec(&(pin.generation, &pin.id)),
        (serial, list) => serde_json::to_vec(&(pin.generation, &pin.id, serial, list)),
    }
    .expect("a pin serialises");
    mac.update(&text);
    crate::encoding::hex(&mac.finalize().into_bytes())
}

/// Reads and authenticates the pin.
pub fn load(dir: &Path, identity: &Identity) -> Result<Pin, PinError> {
    let path = path(dir);
    let bytes = match crate::fsutil::read_regular(&path, 4096) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(PinError::Missing(path)),
        Err(e) => return Err(PinError::Io(path, e)),
    };
    let stored: Stored =
        serde_json::from_slice(&bytes).map_err(|_| PinError::Forged(path.clone()))?;
    let pin = Pin {
        generation: stored.generation,
        id: stored.id,
        serial: stored.serial,
        list: stored.list,
    };
    if !crate::secret::ct_eq_str(&stored.mac, &mac(identity, &pin)) {
        return Err(PinError::Forged(path));
    }
    Ok(pin)
}

/// Writes the pin atomically (0600).
pub fn save(dir: &Path, identity: &Identity, pin: &Pin) -> Result<(), PinError> {
    let path = path(dir);
    let stored = Stored {
        generation: pin.generation,
        id: pin.id.clone(),
        serial: pin.serial,
        list: pin.list.clone(),
        mac: mac(identity, pin),
    };
    let bytes = serde_json::to_vec(&stored).expect("a pin serialises");
    crate::fsutil::write_atomic_unique(&path, &bytes, crate::fsutil::FILE_MODE)
        .map_err(|e| PinError::Io(path, e))
}

/// Saves `pin` unless the pin on disk, read again under the pin's lock, is already newer
/// (another process of this machine accepted a newer list meanwhile): a pin never moves back.
pub fn save_newer(dir: &Path, identity: &Identity, pin: &Pin) -> Result<(), PinError> {
    let lock_path = dir.join(LOCK_FILE);
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(crate::fsutil::FILE_MODE)
        .open(&lock_path)
        .map_err(|e| PinError::Io(lock_path.clone(), e))?;
    lock.lock().map_err(|e| PinError::Io(lock_path, e))?;
    match load(dir, identity) {
        Ok(on_disk) if pin.older_than(&on_disk) => Ok(()),
        Ok(_) | Err(PinError::Missing(_)) => save(dir, identity, pin),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_moved_without_the_identity_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let me = Identity::generate();
        let pin = Pin {
            generation: Some(3),
            id: Some("ab".into()),
            serial: Some(4),
            list: Some("cd".into()),
        };
        save(dir.path(), &me, &pin).unwrap();
        assert_eq!(load(dir.path(), &me).unwrap(), pin);
        assert!(matches!(
            load(dir.path(), &Identity::generate()),
            Err(PinError::Forged(_))
        ));
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        std::fs::write(
            path(dir.path()),
            text.replace("\"generation\":3", "\"generation\":2"),
        )
        .unwrap();
        assert!(matches!(load(dir.path(), &me), Err(PinError::Forged(_))));
        let text = text.replace("\"serial\":4", "\"serial\":3");
        std::fs::write(path(dir.path()), text).unwrap();
        assert!(matches!(load(dir.path(), &me), Err(PinError::Forged(_))));
    }

    #[test]
    fn a_pin_never_moves_back() {
        let dir = tempfile::tempdir().unwrap();
        let me = Identity::generate();
        let newer = Pin {
            generation: Some(1),
            id: Some("ab".into()),
            serial: Some(5),
            list: Some("cd".into()),
        };
        save_newer(dir.path(), &me, &newer).unwrap();
        let older = Pin {
            serial: Some(4),
            list: Some("ef".into()),
            ..newer.clone()
        };
        save_newer(dir.path(), &me, &older).unwrap();
        assert_eq!(load(dir.path(), &me).unwrap(), newer);
    }
}
