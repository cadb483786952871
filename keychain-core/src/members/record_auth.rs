//! Records of a shared keychain authenticated to its members: a MAC under the current group key
//! over the whole sealed record and the account's name.
//!
//! Sealing a record needs only public keys (age), and the member list is readable, so anyone
//! who can write the store (its operator, a removed member, any token with the policy) could
//! seal a record to the members. The MAC is what only a current member can make: it is keyed
//! from the group key of the member list's generation, which a removed member cannot open.
//!
//! Layout: one line in front of the record, `keychain-auth/1 GENERATION MAC\n`
//! ([`crate::record::split_auth`]); the MAC covers the generation, the account's name and every
//! byte after the line (the header with its write counter, the age ciphertext). So a record
//! copied to another account's path, a record of another keychain (another group key), a record
//! edited anywhere, or one MAC'd under a group key generation that `member rm` retired, is
//! refused ([`check`]) before anything in it is decrypted or used.
//!
//! "Current" is the member list's generation. Right after `member rm` rotated the group key,
//! the records still carry the retired generation's MAC until the remover has sealed each one
//! again; meanwhile only the remover reads them, and only the exact bytes it checked under the
//! old key before the rotation ([`Vouched`]); every other reader refuses them, and says that a
//! `member rm` is sealing them again. The set is kept in the machine's folder
//! ([`VOUCHED_FILE`]), so that the same command run again after an interruption finishes the
//! records still under the retired generation. A record without the line (written before records were
//! authenticated) is refused the same way, except by a `member` command, which checks that
//! nothing else is wrong with it and MACs it (the one-time upgrade the README describes).
//!
//! This module must never print, nor hold a key longer than the caller does.
#![deny(missing_docs)]

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use super::GroupKey;
use crate::record::{AUTH_MAGIC, split_auth};

/// Why a shared record is not a member's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No MAC line: written before records were authenticated, or by someone who is not a
    /// member.
    Missing,
    /// The MAC does not check under the group key of its generation: forged by someone who can
    /// write the store, copied from another account or another keychain, or edited.
    BadMac,
    /// MAC'd under a group key generation `member rm` has retired.
    Retired {
        /// The generation the record names.
        record: u64,
        /// The member list's generation.
        current: u64,
    },
    /// MAC'd under a generation newer than the member list this command read: a member was
    /// removed while it ran.
    Newer {
        /// The generation the record names.
        record: u64,
        /// The member list's generation.
        current: u64,
    },
    /// The MAC line itself does not parse.
    Damaged,
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthError::Missing => f.write_str(
                "the record carries no member's MAC: written before records were authenticated, or planted by someone who can write the store but is not a member",
            ),
            AuthError::BadMac => f.write_str(
                "the record's MAC does not check under the group key: it was not written by a member (forged by someone who can write the store, copied from another account or another keychain, or edited)",
            ),
            AuthError::Retired { record, current } => write!(
                f,
                "the record is MAC'd under group key generation {record}, which 'member rm' retired (the current one is {current}): an old record put back, or one a 'member rm' has not sealed again yet"
            ),
            AuthError::Newer { record, current } => write!(
                f,
                "the record is MAC'd under group key generation {record}, newer than the member list this command read ({current}): a member was removed while it ran, or the record was planted"
            ),
            AuthError::Damaged => f.write_str("the record's MAC line is damaged"),
        }
    }
}

impl std::error::Error for AuthError {}

impl crate::exit::Failure for AuthError {
    /// A record that is not a member's: an integrity failure, left untouched.
    fn class(&self) -> crate::exit::Class {
        crate::exit::Class::Integrity
    }

    /// What to do about it, for the error's hint.
    fn hint(&self) -> Option<String> {
        Some(
            match self {
            AuthError::Missing => {
                "nothing was decrypted or used. If the record was written by keychain before records were authenticated, a member authenticates every record once: 'keychain member list', then 'keychain member add RECIPIENT --name NAME' with one existing member's recipient and name (it seals every record again, with a MAC); otherwise find out who wrote it (OpenBao's audit device) and restore the account from an export"
            }
            AuthError::BadMac | AuthError::Damaged => {
                "nothing was decrypted or used; find out who wrote the record (OpenBao's audit device, 'keychain audit'), restore the account from an export ('keychain import FILE.age --replace'), and rotate its secrets if in doubt"
            }
            AuthError::Retired { .. } => {
                "nothing was decrypted or used; if a 'keychain member rm' is running, run this again when it is done; if it was interrupted, finish it on the machine that ran it (the same command again), or restore the account from an export ('keychain import FILE.age --replace'); otherwise an old record was put back: find out who did (OpenBao's audit device)"
            }
            AuthError::Newer { .. } => {
                "nothing was decrypted or used; run the command again; if it is refused again, the record was planted: restore the account from an export ('keychain import FILE.age --replace')"
            }
        }
        .into(),
        )
    }
}

/// The file in a machine's keychain folder that keeps what its last `member` command vouched
/// for ([`Vouched`]): the same command run again after an interruption, on this machine, can
/// still read the records it had not sealed again yet. Hashes only, never a record.
pub const VOUCHED_FILE: &str = "members-vouched.json";

/// The exact record bytes a member checked before a `member` command rotated the group key or
/// upgraded old records: only these are read under a retired generation (or without a MAC).
#[derive(Debug, Default)]
pub struct Vouched(HashSet<[u8; 32]>);

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VouchedFile {
    format: u32,
    sha256: Vec<String>,
}

impl Vouched {
    /// Vouches for `bytes` as read from the store.
    pub fn add(&mut self, bytes: &[u8]) {
        self.0.insert(Sha256::digest(bytes).into());
    }

    /// Whether `bytes` are exactly bytes vouched for.
    pub fn holds(&self, bytes: &[u8]) -> bool {
        self.0.contains(&<[u8; 32]>::from(Sha256::digest(bytes)))
    }

    /// What the last `member` command on this machine vouched for (empty when none did).
    pub fn load(dir: &std::path::Path) -> crate::error::Result<Self> {
        let path = dir.join(VOUCHED_FILE);
        let bytes = match crate::fsutil::read_regular(&path, 16 << 20) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vouched::default()),
            Err(e) => {
                return Err(crate::error::Error::io(
                    format!("cannot read {}", path.display()),
                    e,
                ));
            }
        };
        let corrupt = || {
            crate::error::Error::Integrity {
            path: path.clone(),
            reason: "not a list of vouched record hashes as keychain writes it; it was left untouched (remove it if no 'keychain member' command was interrupted)".into(),
        }
        };
        let file: VouchedFile = serde_json::from_slice(&bytes).map_err(|_| corrupt())?;
        let mut set = HashSet::new();
        for text in &file.sha256 {
            let mut hash = [0u8; 32];
            if text.len() != 64 {
                return Err(corrupt());
            }
            for (i, byte) in hash.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| corrupt())?;
            }
            set.insert(hash);
        }
        Ok(Vouched(set))
    }

    /// Keeps the set in `dir` for a run of the same command after an interruption.
    pub fn save(&self, dir: &std::path::Path) -> crate::error::Result<()> {
        let path = dir.join(VOUCHED_FILE);
        let mut sha256: Vec<String> = self.0.iter().map(|h| crate::encoding::hex(h)).collect();
        sha256.sort();
        let bytes = serde_json::to_vec(&VouchedFile { format: 1, sha256 })
            .expect("a list of strings serialises");
        crate::fsutil::write_atomic_unique(&path, &bytes, crate::fsutil::FILE_MODE)
            .map_err(|e| crate::error::Error::io(format!("cannot write {}", path.display()), e))
    }
}

/// `record` (as [`crate::record::seal`] made it) with its MAC line in front, under `key`, the
/// group key of `generation`.
pub fn seal(key: &GroupKey, generation: u64, name: &str, record: &[u8]) -> Vec<u8> {
    let mac = key.mac_record(generation, name, record);
    let mut out = Vec::with_capacity(AUTH_MAGIC.len() + 86 + record.len());
    out.extend_from_slice(AUTH_MAGIC);
    out.extend_from_slice(format!("{generation} {mac}\n").as_bytes());
    out.extend_from_slice(record);
    out
}

/// Checks that `bytes`, read as account `name`'s record, were MAC'd by a member under `key`,
/// the group key of `generation` (the member list's): see the module documentation. Bytes in
/// `vouched` pass whatever their MAC line says.
pub fn check(
    bytes: &[u8],
    name: &str,
    key: &GroupKey,
    generation: u64,
    vouched: Option<&Vouched>,
) -> Result<(), AuthError> {
    let verdict = verify(bytes, name, key, generation);
    match verdict {
        Err(AuthError::Missing | AuthError::Retired { .. })
            if vouched.is_some_and(|v| v.holds(bytes)) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// [`check`] without vouched bytes: the MAC of the current generation, and nothing else.
pub fn verify(bytes: &[u8], name: &str, key: &GroupKey, generation: u64) -> Result<(), AuthError> {
    let (auth, record) = split_auth(bytes).map_err(|_| AuthError::Damaged)?;
    let auth = auth.ok_or(AuthError::Missing)?;
    if auth.generation > generation {
        return Err(AuthError::Newer {
            record: auth.generation,
            current: generation,
        });
    }
    if auth.generation < generation {
        return Err(AuthError::Retired {
            record: auth.generation,
            current: generation,
        });
    }
    let expected = key.mac_record(generation, name, record);
    if crate::secret::ct_eq_str(auth.mac, &expected) {
        Ok(())
    } else {
        Err(AuthError::BadMac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &[u8] = b"keychain-record/1\n{\"name\":\"acme\"}\nciphertext";

    #[test]
    fn only_the_current_key_for_this_name_and_these_bytes_passes() {
        let key = GroupKey::generate();
        let sealed = seal(&key, 3, "acme", RECORD);
        assert_eq!(verify(&sealed, "acme", &key, 3), Ok(()));
        // Another account's path, another keychain's key, an edited byte.
        assert_eq!(verify(&sealed, "other", &key, 3), Err(AuthError::BadMac));
        let other = GroupKey::generate();
        assert_eq!(verify(&sealed, "acme", &other, 3), Err(AuthError::BadMac));
        let mut edited = sealed.clone();
        *edited.last_mut().unwrap() ^= 1;
        assert_eq!(verify(&edited, "acme", &key, 3), Err(AuthError::BadMac));
        // A generation claimed falsely: the MAC covers it.
        let relabelled = String::from_utf8(sealed.clone()).unwrap().replacen(
            "keychain-auth/1 3 ",
            "keychain-auth/1 4 ",
            1,
        );
        assert_eq!(
            verify(relabelled.as_bytes(), "acme", &key, 4),
            Err(AuthError::BadMac)
        );
        assert_eq!(verify(RECORD, "acme", &key, 3), Err(AuthError::Missing));
    }

    #[test]
    fn a_retired_generation_passes_only_for_bytes_vouched_for() {
        let old = GroupKey::generate();
        let new = GroupKey::generate();
        let sealed = seal(&old, 0, "acme", RECORD);
        assert_eq!(
            verify(&sealed, "acme", &new, 1),
            Err(AuthError::Retired {
                record: 0,
                current: 1
            })
        );
        let mut vouched = Vouched::default();
        assert!(check(&sealed, "acme", &new, 1, Some(&vouched)).is_err());
        vouched.add(&sealed);
        assert_eq!(check(&sealed, "acme", &new, 1, Some(&vouched)), Ok(()));
        // Another record under the retired key, by its other holder (the removed member).
        let forged = seal(&old, 0, "acme", b"keychain-record/1\n{}\nforged");
        assert!(check(&forged, "acme", &new, 1, Some(&vouched)).is_err());
        // Vouching never excuses a bad MAC of the current generation.
        let bad = seal(&GroupKey::generate(), 1, "acme", RECORD);
        vouched.add(&bad);
        assert_eq!(
            check(&bad, "acme", &new, 1, Some(&vouched)),
            Err(AuthError::BadMac)
        );
    }

    #[test]
    fn vouched_hashes_survive_in_the_folder_and_a_damaged_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!Vouched::load(dir.path()).unwrap().holds(RECORD));
        let mut vouched = Vouched::default();
        vouched.add(RECORD);
        vouched.save(dir.path()).unwrap();
        let loaded = Vouched::load(dir.path()).unwrap();
        assert!(loaded.holds(RECORD) && !loaded.holds(b"another record"));
        std::fs::write(
            dir.path().join(VOUCHED_FILE),
            b"{\"format\":1,\"sha256\":[\"zz\"]}",
        )
        .unwrap();
        assert!(Vouched::load(dir.path()).is_err());
    }
}
