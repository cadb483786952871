//! The identity as a systemd credential: `LoadCredentialEncrypted=keychain-identity:FILE` in a
//! service hands it over decrypted in `$CREDENTIALS_DIRECTORY/keychain-identity`, so a service
//! opens the records with no passphrase and no KDF at all (a file read per call).
//!
//! The credential is made once, as root, from the keychain's own key store:
//! `keychain unlock --systemd-credential | systemd-creds encrypt --name=keychain-identity -
//! /etc/credstore.encrypted/keychain-identity`. systemd-creds encrypts it with the host's
//! credential secret and, where there is one, the TPM2 (bound to this machine); systemd
//! decrypts it into a private, unswappable folder for each run of the service, readable by the
//! service's user, and removes it when the run ends.
//!
//! It feeds keychain as the kernel-keyring cache does: the keychain's key store stays what
//! `init` chose (a person still opens it with the passphrase). A credential that does not hold
//! this keychain's identity (the key was rotated) is an error, never a reason to try another way.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use super::{Identity, KeyStoreError};

/// The credential's name (`LoadCredentialEncrypted=keychain-identity:...`).
pub const CREDENTIAL_NAME: &str = "keychain-identity";

/// The largest credential read (an identity is one line of about 75 bytes).
const MAX_CREDENTIAL: u64 = 64 * 1024;

/// `<credentials>/keychain-identity` when systemd handed that credential over (`credentials`
/// is `$CREDENTIALS_DIRECTORY`).
pub fn path(credentials: Option<&Path>) -> Option<PathBuf> {
    let credentials = credentials.filter(|p| !p.as_os_str().is_empty())?;
    let path = credentials.join(CREDENTIAL_NAME);
    path.exists().then_some(path)
}

/// The identity in the credential at `path`, checked against the keychain's `recipient`.
pub fn load(path: &Path, recipient: &str) -> Result<Identity, KeyStoreError> {
    let fail = |reason: String| KeyStoreError::Credential {
        path: path.to_path_buf(),
        reason,
    };
    let file = crate::fsutil::read_secret_file(path, MAX_CREDENTIAL)
        .and_then(|f| f.private(path))
        .map_err(|e| fail(e.to_string()))?;
    let text = std::str::from_utf8(&file.bytes).map_err(|_| fail("not UTF-8 text".into()))?;
    let identity = super::file::parse_identity(text.trim()).ok_or_else(|| {
        fail("does not hold an age identity (one line starting with AGE-SECRET-KEY-1)".into())
    })?;
    if identity.to_public().to_string() != recipient {
        return Err(fail(
            "holds another identity than this keychain's (its public key is not config.json's): was the key rotated?"
                .into(),
        ));
    }
    Ok(identity)
}
