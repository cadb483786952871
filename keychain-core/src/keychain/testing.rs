//! A real keychain in a temporary folder (the `file` key store, a sealed configuration, a
//! started audit log), opened on a clock the test controls: for unit tests of rules that
//! depend on the time, without a terminal and without moving the process's clock.

use tempfile::TempDir;

use super::Keychain;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::keystore::{self, Identity, KeyStoreKind};
use crate::record::Account;
use crate::settings::Settings;
use crate::store::Expect;

/// A new keychain (as `keychain init --key-store file` makes one) opened on `clock`; the folder
/// lives as long as the returned `TempDir`.
pub fn keychain_on(clock: SharedClock) -> (TempDir, Keychain) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keychain");
    crate::fsutil::ensure_private_dir(&dir).unwrap();
    let settings = Settings::default();
    let identity = Identity::generate();
    keystore::for_kind(KeyStoreKind::File, &dir, &settings)
        .save(&identity)
        .unwrap();
    let mut config = Config::new(
        KeyStoreKind::File,
        identity.to_public().to_string(),
        Vec::new(),
        clock.unix(),
    );
    config.seal(&identity);
    config.create(&dir).unwrap();
    crate::store::local::LocalStore::open(&dir).unwrap();
    crate::trail::init(&dir, &identity, &clock).unwrap();
    let kc = Keychain::open_with(&dir, settings, clock).unwrap();
    (tmp, kc)
}

/// Writes `account` as a new record, as `add` does (without its events).
pub fn save(kc: &Keychain, account: &mut Account) {
    let lock = kc.lock(&account.header.name).unwrap();
    kc.commit(
        &*lock,
        Expect::Any,
        account,
        Vec::new(),
        super::OnAuditFailure::Undo,
    )
    .unwrap();
}
