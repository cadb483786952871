//! Where a keychain lives and how it was set up.
//!
//! A keychain is a folder (`$XDG_DATA_HOME/keychain` unless `--dir`/`KEYCHAIN_DIR` says
//! otherwise) holding `config.json` (which key store holds the identity, and to whom records are
//! encrypted: no secrets), the account records and their locks. `config.json` is written once by
//! `keychain init` and never re-created when it cannot be read.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::fsutil;
use crate::keystore::{Identity, KeyStoreKind};
use crate::store::StoreKind;

/// The configuration's file name inside the keychain folder.
pub const CONFIG_FILE: &str = "config.json";
const FORMAT: u32 = 1;
/// Separates the configuration's MAC key from every other key derived from the identity.
const MAC_LABEL: &[u8] = b"keychain config mac v1";

/// Why the keychain folder or its configuration cannot be used. Names files, never values;
/// `error.rs` turns it into the top-level error with its advice.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No folder was given and neither `XDG_DATA_HOME` nor `HOME` is set.
    #[error("cannot find the keychain folder: neither XDG_DATA_HOME nor HOME is set")]
    NoFolder,
    /// No `config.json` in the folder: it holds no keychain.
    #[error("no keychain in {}", dir.display())]
    NotInitialised {
        /// The keychain folder.
        dir: PathBuf,
    },
    /// `init` found a configuration already there.
    #[error("a keychain already exists in {}", dir.display())]
    Exists {
        /// The keychain folder.
        dir: PathBuf,
    },
    /// Not an age X25519 public key (given, trimmed: a public key is no secret).
    #[error("'{0}' is not an age public key")]
    BadRecipient(String),
    /// `config.json` is not a configuration this version reads.
    #[error("{}: {reason}", path.display())]
    Corrupt {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong, citing a position, never the content.
        reason: String,
    },
    /// `config.json` does not authenticate under this keychain's identity.
    #[error("{}: {reason}", path.display())]
    Unauthenticated {
        /// The configuration file.
        path: PathBuf,
        /// Why it does not authenticate.
        reason: String,
    },
    /// Reading or writing `config.json` failed.
    #[error("{context}: {source}")]
    Io {
        /// What keychain was doing, naming the file.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl crate::exit::Failure for ConfigError {
    fn class(&self) -> crate::exit::Class {
        use crate::exit::Class;
        match self {
            ConfigError::NoFolder
            | ConfigError::NotInitialised { .. }
            | ConfigError::Exists { .. }
            | ConfigError::BadRecipient(_) => Class::Usage,
            ConfigError::Corrupt { .. } | ConfigError::Unauthenticated { .. } => Class::Integrity,
            ConfigError::Io { .. } => Class::Io,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            ConfigError::NoFolder => "give --dir DIR or set KEYCHAIN_DIR".into(),
            ConfigError::NotInitialised { .. } => {
                "run 'keychain init' first, or point --dir/KEYCHAIN_DIR at an existing keychain".into()
            }
            ConfigError::Exists { .. } => {
                "use it as it is, or choose another folder with --dir".into()
            }
            ConfigError::BadRecipient(_) => "an age public key starts with 'age1'; 'age-keygen -y KEYFILE' prints the one of a key file".into(),
            ConfigError::Corrupt { .. } => "the file was left untouched; check that it is the right file and that it is whole".into(),
            ConfigError::Unauthenticated { path, .. } => format!(
                "nothing was written; compare the recipients 'keychain audit' lists with the ones you chose; if they are right, run 'keychain audit seal-config' to authenticate them; otherwise restore {} from a backup",
                path.display()
            ),
            ConfigError::Io { .. } => return None,
        })
    }
}

// This module's results fail with a [`ConfigError`].
type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// The folder of the keychain to use: the flag or environment value (`KEYCHAIN_DIR`), else the
/// XDG data folder from `xdg_data_home` (`$XDG_DATA_HOME`) or `home` (`$HOME`), which the caller
/// reads.
pub fn resolve_dir(
    flag: Option<PathBuf>,
    xdg_data_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    if let Some(data) = xdg_data_home.filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(data).join("keychain"));
    }
    match home.filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/keychain")),
        None => Err(ConfigError::NoFolder),
    }
}

/// What `config.json` holds: public keys and settings, never a secret. It decides where
/// secrets go, so it is authenticated (a MAC keyed from the identity) before it is used.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The file format's version; any other than this version's is refused, not guessed at.
    pub format: u32,
    /// Which key store holds the identity that decrypts the records.
    pub key_store: KeyStoreKind,
    /// The public key of this keychain's own identity: every record is encrypted to it.
    pub recipient: String,
    /// Further public keys every record is also encrypted to (e.g. a security officer's escrow key).
    #[serde(default)]
    pub escrow_recipients: Vec<String>,
    /// When `keychain init` wrote it, in Unix seconds.
    pub created: i64,
    /// Where the records live: this folder (the default, not written) or a shared OpenBao.
    /// Under the MAC: whoever could point a keychain at another server could collect its writes.
    #[serde(default, skip_serializing_if = "StoreKind::is_local")]
    pub store: StoreKind,
    /// HMAC-SHA256 over the rest of the configuration under a key derived from the identity:
    /// whoever can write `config.json` but cannot open the records cannot add a recipient.
    /// Checked before any record is sealed; absent in keychains made before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl Config {
    /// A new configuration, `created` at that Unix time.
    pub fn new(
        key_store: KeyStoreKind,
        recipient: String,
        escrow_recipients: Vec<String>,
        created: i64,
    ) -> Self {
        Config {
            format: FORMAT,
            key_store,
            recipient,
            escrow_recipients,
            created,
            store: StoreKind::Local,
            mac: None,
        }
    }

    /// Parses the bytes of a `config.json`; the reason names a position, never the content.
    pub fn parse(bytes: &[u8]) -> std::result::Result<Config, String> {
        let config: Config = serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "not a valid keychain configuration (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        if config.format != FORMAT {
            return Err(format!(
                "configuration format {} is not supported by this version",
                config.format
            ));
        }
        Ok(config)
    }

    /// The MAC of everything but the MAC itself, under the identity's configuration key.
    fn compute_mac(&self, identity: &Identity) -> String {
        let unsigned = Config {
            mac: None,
            ..self.clone()
        };
        let bytes = serde_json::to_vec(&unsigned).expect("configuration serialises");
        let id = identity.to_string();
        let mut key = Hmac::<Sha256>::new_from_slice(id.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
        key.update(MAC_LABEL);
        let key = zeroize::Zeroizing::new(<[u8; 32]>::from(key.finalize().into_bytes()));
        let mut mac = Hmac::<Sha256>::new_from_slice(&*key).expect("HMAC takes any key length");
        mac.update(&bytes);
        crate::encoding::hex(&mac.finalize().into_bytes())
    }

    /// Authenticates the configuration under the identity (at `init`, or by an officer after
    /// checking the recipients with `keychain audit`).
    pub fn seal(&mut self, identity: &Identity) {
        self.mac = Some(self.compute_mac(identity));
    }

    /// Why the configuration cannot be trusted with this identity, if it cannot: its own
    /// recipient is not the identity's, or the MAC is missing or does not match (a recipient
    /// was added or changed by someone who cannot open the records).
    pub fn authentication_problem(&self, identity: &Identity) -> Option<String> {
        if identity.to_public().to_string() != self.recipient.trim() {
            return Some(
                "its recipient is not this keychain's key: the configuration was replaced".into(),
            );
        }
        match &self.mac {
            None => Some(
                "it is not authenticated (made before keychain authenticated its configuration, or the MAC was removed)"
                    .into(),
            ),
            Some(mac) if !crate::secret::ct_eq_str(mac, &self.compute_mac(identity)) => Some(
                "its MAC does not match: it was changed by someone who cannot open the records (a planted escrow recipient?)"
                    .into(),
            ),
            Some(_) => None,
        }
    }

    /// Refuses (exit 7) a configuration that does not authenticate under `identity`.
    pub fn check(&self, dir: &Path, identity: &Identity) -> Result<()> {
        match self.authentication_problem(identity) {
            None => Ok(()),
            Some(reason) => Err(ConfigError::Unauthenticated {
                path: Config::path(dir),
                reason,
            }),
        }
    }

    /// Writes the configuration over the existing one (after `seal`).
    pub fn replace(&self, dir: &Path) -> Result<()> {
        let path = Config::path(dir);
        let bytes = serde_json::to_vec_pretty(self).expect("configuration serialises");
        fsutil::write_atomic_unique(&path, &bytes, fsutil::FILE_MODE).map_err(|source| {
            ConfigError::Io {
                context: format!("cannot write {}", path.display()),
                source,
            }
        })
    }

    /// The configuration file of the keychain in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(CONFIG_FILE)
    }

    /// Reads the configuration; a missing one means the keychain was never initialised.
    pub fn load(dir: &Path) -> Result<Config> {
        let path = Config::path(dir);
        // Never a blocking open: a FIFO planted as the configuration is refused, not waited on.
        let bytes = match crate::fsutil::read_regular(&path, 1024 * 1024) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::NotInitialised {
                    dir: dir.to_path_buf(),
                });
            }
            Err(source) => {
                return Err(ConfigError::Io {
                    context: format!("cannot read {}", path.display()),
                    source,
                });
            }
        };
        Config::parse(&bytes).map_err(|reason| ConfigError::Corrupt { path, reason })
    }

    /// Writes the configuration of a new keychain; refuses to replace an existing one.
    pub fn create(&self, dir: &Path) -> Result<()> {
        let path = Config::path(dir);
        if path.exists() {
            return Err(ConfigError::Exists {
                dir: dir.to_path_buf(),
            });
        }
        let bytes = serde_json::to_vec_pretty(self).expect("configuration serialises");
        fsutil::write_atomic(&path, &bytes).map_err(|source| ConfigError::Io {
            context: format!("cannot write {}", path.display()),
            source,
        })
    }

    /// All recipients a record must be encrypted to.
    pub fn all_recipients(&self) -> Result<Vec<age::x25519::Recipient>> {
        std::iter::once(&self.recipient)
            .chain(&self.escrow_recipients)
            .map(|r| parse_recipient(r))
            .collect()
    }
}

/// The identity the key stores must find: the configured key store and public key.
impl<'a> From<&'a Config> for crate::keystore::Expected<'a> {
    fn from(config: &'a Config) -> Self {
        crate::keystore::Expected {
            key_store: config.key_store,
            recipient: &config.recipient,
        }
    }
}

/// Parses an age X25519 public key (`age1...`).
pub fn parse_recipient(text: &str) -> Result<age::x25519::Recipient> {
    text.trim()
        .parse()
        .map_err(|_| ConfigError::BadRecipient(text.trim().to_string()))
}

#[cfg(test)]
mod store_kind_tests {
    use super::*;
    use crate::store::openbao::{AuthSettings, OpenBaoSettings};

    #[test]
    fn a_local_keychain_config_is_written_as_before_and_an_openbao_one_round_trips() {
        let mut config = Config::new(KeyStoreKind::File, "age1x".into(), vec![], 0);
        let local = serde_json::to_string(&config).unwrap();
        assert!(!local.contains("\"store\""), "{local}");
        config.store = StoreKind::Openbao(OpenBaoSettings {
            addr: "https://bao:8200".into(),
            mount: "kv".into(),
            path: "acme".into(),
            ca_cert: None,
            auth: AuthSettings::TokenFile {
                token_file: "/etc/kc/token".into(),
            },
        });
        let shared = serde_json::to_vec(&config).unwrap();
        assert_eq!(Config::parse(&shared).unwrap().store, config.store);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_is_the_flag_else_xdg_data_home_else_home_and_empty_means_unset() {
        let os = |v: &str| Some(std::ffi::OsString::from(v));
        let dir = |flag: Option<&str>, xdg, home| resolve_dir(flag.map(PathBuf::from), xdg, home);
        assert_eq!(
            dir(Some("/k"), os("/x"), os("/h")).unwrap(),
            PathBuf::from("/k")
        );
        assert_eq!(
            dir(None, os("/x"), os("/h")).unwrap(),
            PathBuf::from("/x/keychain")
        );
        assert_eq!(
            dir(None, os(""), os("/h")).unwrap(),
            PathBuf::from("/h/.local/share/keychain")
        );
        let e = crate::error::Error::from(dir(None, None, os("")).unwrap_err());
        assert_eq!(e.exit_code(), crate::exit::USAGE);
        assert_eq!(
            e.hint().as_deref(),
            Some("give --dir DIR or set KEYCHAIN_DIR")
        );
    }
}
