//! Creating a keychain: a new identity in the chosen key store, the folder's sealed
//! configuration, the store (files here, or a shared keychain on OpenBao) and the audit trail.
//!
//! [`create`] checks everything the caller asked for before it creates anything, so a typo or a
//! wrong server leaves no half-made keychain behind. It never prints: what a person should be told
//! (the recipient, a mount that does not require check-and-set, a join still to be completed) comes
//! back in [`Initialized`].
#![deny(missing_docs)]

use std::path::Path;

use crate::audit::Action;
use crate::audit::Event;
use crate::clock::SharedClock;
use crate::config::{Config, parse_recipient};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::keystore::passphrase::PassphraseKeyStore;
use crate::keystore::{self, Identity, KeyStoreError, KeyStoreKind};
use crate::settings::Settings;
use crate::store::StoreError;
use crate::store::StoreKind;
use crate::store::openbao::setup::{CasRequired, Prepared, prepare};

/// What a new keychain should be.
#[derive(Debug)]
pub struct InitRequest {
    /// Where the identity that opens the records is kept.
    pub key_store: KeyStoreKind,
    /// Age public keys every record is also encrypted to (escrow), as typed.
    pub recipients: Vec<String>,
    /// Where the records live.
    pub store: StoreKind,
    /// Join an existing shared keychain instead of starting one (OpenBao only).
    pub join: bool,
}

/// The keychain just created, and what its creator should be told.
#[derive(Debug)]
pub struct Initialized {
    /// The keychain's own age recipient (public key).
    pub recipient: String,
    /// The escrow recipients, trimmed, as stored in the configuration.
    pub escrow_recipients: Vec<String>,
    /// Where the records live.
    pub store: StoreKind,
    /// What the person should hear about the OpenBao server's set-up (nothing for a local one).
    pub server: ServerNotes,
    /// Set after `join`: this machine is not a member yet; a member must add it.
    pub joined: Option<Joined>,
}

/// What `init` found on the OpenBao server that the person should hear about.
#[derive(Debug, Default)]
pub struct ServerNotes {
    /// Set when the OpenBao mount does not require check-and-set and this machine may not turn
    /// that on: why it may not (keychain checks and sets on every write anyway).
    pub cas_not_required: Option<String>,
    /// The token carries OpenBao's `default` policy, which grants more than keychain needs and
    /// costs the server a policy parse per request.
    pub token_has_default_policy: bool,
}

/// A machine that joined a shared keychain and waits to be added by a member.
#[derive(Debug)]
pub struct Joined {
    /// This machine's public key, for `keychain member add`.
    pub public: String,
    /// This machine's host name, the name suggested for it.
    pub host: String,
}

/// Creates a keychain in `dir` as `request` says. Refuses (usage error) when `dir` already holds
/// one, a recipient does not parse, or `join` is asked of a local keychain; asks OpenBao before
/// anything is created, so a wrong address, mount or policy fails here, not at the first login.
pub fn create(
    dir: &Path,
    settings: &Settings,
    clock: &SharedClock,
    request: InitRequest,
) -> Result<Initialized> {
    for recipient in &request.recipients {
        parse_recipient(recipient)?;
    }
    if Config::path(dir).exists() {
        return Err(Error::usage_hint(
            format!("a keychain already exists in {}", dir.display()),
            "use it as it is, or choose another folder with --dir",
        ));
    }
    if request.join && request.store == StoreKind::Local {
        return Err(Error::usage_hint(
            "--join is for a shared keychain",
            "add --store openbao with --addr, --mount and --path of the keychain to join",
        ));
    }
    let mut server = ServerNotes::default();
    if let StoreKind::Openbao(settings) = &request.store {
        let Prepared {
            cas,
            default_policy,
        } = prepare(settings).map_err(StoreError::from)?;
        if let CasRequired::CannotSet(why) = cas {
            server.cas_not_required = Some(why);
        }
        server.token_has_default_policy = default_policy;
    }
    // Asked before anything exists: a person who stops at the prompt leaves nothing behind.
    let passphrase = match request.key_store {
        KeyStoreKind::Passphrase => Some(PassphraseKeyStore::new(dir, settings).new_passphrase()?),
        _ => None,
    };
    let undo = Undo::before(dir);
    match build(dir, settings, clock, request, passphrase, server, &undo) {
        Ok(made) => Ok(made),
        Err(e) => {
            undo.run(dir);
            match e {
                Error::KeyStore(inner) if undo.os_entry_failed.get() => Err(Error::KeyStore(
                    KeyStoreError::InitOsUnavailable(Box::new(inner)),
                )),
                e => Err(e),
            }
        }
    }
}

/// The steps that create things, once everything asked for has been checked. On failure the
/// caller undoes them ([`Undo::run`]).
fn build(
    dir: &Path,
    settings: &Settings,
    clock: &SharedClock,
    request: InitRequest,
    passphrase: Option<secrecy::SecretString>,
    server: ServerNotes,
    undo: &Undo,
) -> Result<Initialized> {
    fsutil::ensure_private_dir(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;

    let identity = Identity::generate();
    let saved = match passphrase {
        Some(pass) => PassphraseKeyStore::new(dir, settings).save_with(&identity, pass),
        None => keystore::for_kind(request.key_store, dir, settings).save(&identity),
    };
    if request.key_store == KeyStoreKind::Os {
        match &saved {
            Ok(()) => undo.os_entry_saved.set(true),
            Err(KeyStoreError::AlreadyExists { .. }) => {}
            Err(_) => undo.os_entry_failed.set(true),
        }
    }
    saved?;
    let mut config = Config::new(
        request.key_store,
        identity.to_public().to_string(),
        request
            .recipients
            .iter()
            .map(|r| r.trim().to_string())
            .collect(),
        clock.unix(),
    );
    config.store = request.store;
    config.seal(&identity);
    config.create(dir)?;
    crate::store::open(dir, &config.store)?;
    // This machine's own log exists for a shared keychain too: it takes what the machine does
    // while the store is down.
    crate::audit::init(dir, &identity, clock)?;
    let joined = match &config.store {
        StoreKind::Local => {
            crate::audit::record_in(dir, clock, Event::new("init", Action::Init))?;
            None
        }
        StoreKind::Openbao(_) => start_or_join(dir, settings, clock, identity, request.join)?,
    };
    Ok(Initialized {
        recipient: config.recipient,
        escrow_recipients: config.escrow_recipients,
        store: config.store,
        server,
        joined,
    })
}

/// What a failed `init` must take back so that it leaves nothing behind: the folders it made
/// (the keychain folder and any missing parent), or, in a folder that was there already, every
/// entry it added and the folder's mode; and an OS credential store entry it saved. A failed
/// `init` is then as if it never ran, and running it again (say, with `--key-store passphrase`)
/// meets no half-made keychain and no stale entry.
struct Undo {
    /// The topmost folder `init` is about to create, when `dir` does not exist yet.
    created: Option<std::path::PathBuf>,
    /// When `dir` exists: its entries and mode before `init`.
    existing: Option<(
        std::collections::HashSet<std::ffi::OsString>,
        std::fs::Permissions,
    )>,
    /// The new identity was kept in the OS credential store: delete it again.
    os_entry_saved: std::cell::Cell<bool>,
    /// The OS credential store could not keep it: say how to do without.
    os_entry_failed: std::cell::Cell<bool>,
}

impl Undo {
    fn before(dir: &Path) -> Undo {
        let mut created = None;
        let mut at = Some(dir);
        while let Some(path) = at.filter(|p| !p.as_os_str().is_empty()) {
            if std::fs::symlink_metadata(path).is_ok() {
                break;
            }
            created = Some(path.to_path_buf());
            at = path.parent();
        }
        let existing = (|| match (&created, std::fs::read_dir(dir)) {
            (None, Ok(entries)) => Some((
                entries
                    .filter_map(|e| e.ok().map(|e| e.file_name()))
                    .collect(),
                std::fs::metadata(dir).map(|m| m.permissions()).ok()?,
            )),
            _ => None,
        })();
        Undo {
            created,
            existing,
            os_entry_saved: std::cell::Cell::new(false),
            os_entry_failed: std::cell::Cell::new(false),
        }
    }

    /// Takes back what `init` made, as well as it can: a failure here must not hide why `init`
    /// failed, so it is not reported.
    fn run(&self, dir: &Path) {
        if self.os_entry_saved.get() {
            let _ = keystore::os::delete_entry(dir);
        }
        if let Some(top) = &self.created {
            let _ = std::fs::remove_dir_all(top);
        } else if let Some((before, permissions)) = &self.existing {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for entry in entries.flatten() {
                    if before.contains(&entry.file_name()) {
                        continue;
                    }
                    let path = entry.path();
                    let _ = match entry.file_type() {
                        Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
                        _ => std::fs::remove_file(&path),
                    };
                }
            }
            let _ = std::fs::set_permissions(dir, permissions.clone());
        }
    }
}

/// A shared keychain: the first machine starts the member list (and the shared trail, with the
/// `init` event); a joining one only pins that it trusts no group key yet, and waits to be added.
fn start_or_join(
    dir: &Path,
    settings: &Settings,
    clock: &SharedClock,
    identity: Identity,
    join: bool,
) -> Result<Option<Joined>> {
    let kc = crate::keychain::Keychain::open_with(dir, settings.clone(), clock.clone())?
        .with_identity(identity);
    let shared = kc.shared().expect("an OpenBao keychain has a shared store");
    let identity = kc.identity()?;
    if join {
        shared.join(identity)?;
        return Ok(Some(Joined {
            public: identity.to_public().to_string(),
            host: crate::host::host_name(),
        }));
    }
    if shared.exists()? {
        return Err(Error::usage_hint(
            "this OpenBao path already holds a shared keychain",
            "remove this folder's config.json and run 'keychain init' again with --join, then have a member add this machine",
        ));
    }
    let opened = shared.create(
        identity,
        &crate::host::host_name(),
        &crate::audit::user_at_host(),
        kc.now(),
    )?;
    kc.set_members(opened);
    kc.log_event(Event::new("init", Action::Init))?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit;

    fn request(key_store: KeyStoreKind, recipients: &[&str], join: bool) -> InitRequest {
        InitRequest {
            key_store,
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
            store: StoreKind::Local,
            join,
        }
    }

    fn create_in(dir: &Path, request: InitRequest) -> Result<Initialized> {
        create(dir, &Settings::default(), &crate::clock::system(), request)
    }

    #[test]
    fn a_local_keychain_is_created_sealed_and_audited_and_a_second_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("kc");
        let made = create_in(&dir, request(KeyStoreKind::File, &[], false)).unwrap();
        assert!(made.recipient.starts_with("age1"), "{}", made.recipient);
        assert!(made.joined.is_none() && made.server.cas_not_required.is_none());
        let config = Config::load(&dir).unwrap();
        assert_eq!(config.recipient, made.recipient);
        let log = std::fs::read_to_string(dir.join(crate::audit::LOG_FILE)).unwrap();
        assert!(log.contains(r#""action":"init""#), "{log}");

        let again = create_in(&dir, request(KeyStoreKind::File, &[], false)).unwrap_err();
        assert_eq!(again.exit_code(), exit::USAGE);
        assert_eq!(Config::load(&dir).unwrap().recipient, made.recipient);
    }

    /// Issue 23, point 9: an `init` that fails once it has begun creating (here: no passphrase
    /// to be had) leaves no folder behind, not even the missing parents it made.
    #[test]
    fn a_failed_init_leaves_no_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("new/parent/kc");
        let settings = Settings {
            passphrase_file: Some(tmp.path().join("no-such-passphrase")),
            ..Settings::default()
        };
        let e = create(
            &dir,
            &settings,
            &crate::clock::system(),
            request(KeyStoreKind::Passphrase, &[], false),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), exit::LOCKED, "{e}");
        assert!(
            !tmp.path().join("new").exists(),
            "a failed init left a folder"
        );
    }

    /// In a folder that was there already, a failure after the identity and the configuration
    /// were written takes them back: only what was there before remains, with its mode.
    #[test]
    fn a_failed_init_in_an_existing_folder_takes_back_its_files() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("kc");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        // A folder where the audit log goes: init fails after the identity file and
        // config.json exist.
        std::fs::create_dir(dir.join(crate::audit::LOG_FILE)).unwrap();
        let e = create_in(&dir, request(KeyStoreKind::File, &[], false)).unwrap_err();
        assert_ne!(e.exit_code(), exit::OK);
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, [crate::audit::LOG_FILE], "{e}");
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o750);
    }

    #[test]
    fn a_bad_recipient_or_join_without_a_shared_store_creates_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("kc");
        for bad in [
            request(KeyStoreKind::File, &["not-an-age-key"], false),
            request(KeyStoreKind::File, &[], true),
        ] {
            let e = create_in(&dir, bad).unwrap_err();
            assert_eq!(e.exit_code(), exit::USAGE, "{e}");
            assert!(!dir.exists(), "a refused init left {}", dir.display());
        }
    }
}
