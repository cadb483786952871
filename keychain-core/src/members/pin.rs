//! The local pin: which group key generation (and which key, by id) this machine last trusted.
//!
//! Kept in the machine's own keychain folder (`group.pin`, 0600) and MAC'd under a key derived
//! from the machine's identity, so that someone who can write the folder but not open the key
//! store cannot move it. With the pin, a group key replaced in the store (same generation, other
//! key) or rolled back is refused; a newer generation is accepted only when every step from the
//! pinned one is linked by the key before it (see [`super::group`]).
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::keystore::Identity;

/// The pin's file name in the keychain folder.
pub const PIN_FILE: &str = "group.pin";
const LABEL: &[u8] = b"keychain group pin v1";

/// What a machine trusts: nothing yet (joined, waiting to be added), or one generation's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// `None` between `init --join` and the first time this machine opens the group key.
    pub generation: Option<u64>,
    /// The trusted key's public id ([`super::GroupKey::id`]); `None` with `generation`.
    pub id: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    generation: Option<u64>,
    id: Option<String>,
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

fn mac(identity: &Identity, generation: Option<u64>, id: Option<&str>) -> String {
    let secret = identity.to_string();
    let mut derive = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes any key length");
    derive.update(LABEL);
    let key = zeroize::Zeroizing::new(<[u8; 32]>::from(derive.finalize().into_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(&*key).expect("HMAC takes any key length");
    let text = serde_json::to_vec(&(generation, id)).expect("a pin serialises");
    mac.update(&text);
    crate::record::hex(&mac.finalize().into_bytes())
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
    let expected = mac(identity, stored.generation, stored.id.as_deref());
    if !crate::secret::ct_eq_str(&stored.mac, &expected) {
        return Err(PinError::Forged(path));
    }
    Ok(Pin {
        generation: stored.generation,
        id: stored.id,
    })
}

/// Writes the pin atomically (0600).
pub fn save(dir: &Path, identity: &Identity, pin: &Pin) -> Result<(), PinError> {
    let path = path(dir);
    let stored = Stored {
        generation: pin.generation,
        id: pin.id.clone(),
        mac: mac(identity, pin.generation, pin.id.as_deref()),
    };
    let bytes = serde_json::to_vec(&stored).expect("a pin serialises");
    crate::fsutil::write_atomic_unique(&path, &bytes, crate::fsutil::FILE_MODE)
        .map_err(|e| PinError::Io(path, e))
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
    }
}
