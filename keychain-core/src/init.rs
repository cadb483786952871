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
use crate::keystore::{self, Identity, KeyStoreKind};
use crate::settings::Settings;
use crate::store::StoreError;
use crate::store::StoreKind;
use crate::store::openbao::setup::{CasRequired, prepare};

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
    /// Set when the OpenBao mount does not require check-and-set and this machine may not turn
    /// that on: why it may not (keychain checks and sets on every write anyway).
    pub cas_not_required: Option<String>,
    /// Set after `join`: this machine is not a member yet; a member must add it.
    pub joined: Option<Joined>,
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
    let mut cas_not_required = None;
    if let StoreKind::Openbao(settings) = &request.store {
        match prepare(settings).map_err(StoreError::from)? {
            CasRequired::AlreadyOn | CasRequired::TurnedOn => {}
            CasRequired::CannotSet(why) => cas_not_required = Some(why),
        }
    }
    fsutil::ensure_private_dir(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;

    let identity = Identity::generate();
    keystore::for_kind(request.key_store, dir, settings).save(&identity)?;
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
        cas_not_required,
        joined,
    })
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
        assert!(made.joined.is_none() && made.cas_not_required.is_none());
        let config = Config::load(&dir).unwrap();
        assert_eq!(config.recipient, made.recipient);
        let log = std::fs::read_to_string(dir.join(crate::audit::LOG_FILE)).unwrap();
        assert!(log.contains(r#""action":"init""#), "{log}");

        let again = create_in(&dir, request(KeyStoreKind::File, &[], false)).unwrap_err();
        assert_eq!(again.exit_code(), exit::USAGE);
        assert_eq!(Config::load(&dir).unwrap().recipient, made.recipient);
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
