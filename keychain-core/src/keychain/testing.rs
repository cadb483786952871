//! A real keychain in a temporary folder (the `file` key store, a sealed configuration, a
//! started audit log), opened on a clock the test controls: for unit tests of rules that
//! depend on the time, without a terminal and without moving the process's clock. And the same
//! keychain with its records and audit trail in memory, failing on purpose
//! ([`in_memory`]), for the undo paths of its transactions.

use tempfile::TempDir;

use super::Keychain;
use crate::audit::memory::MemoryTrail;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::keystore::{self, Identity, KeyStoreKind};
use crate::record::Account;
use crate::settings::Settings;
use crate::store::Expect;
use crate::store::memory::MemoryStore;

mod file_key_cache_tests;
mod read_once_tests;
mod undo_tests;

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
    crate::audit::init(&dir, &identity, &clock).unwrap();
    let kc = Keychain::open_with(&dir, settings, clock).unwrap();
    (tmp, kc)
}

/// A new Exact Online account `name` of user `etl`, made at a fixed time: what the listing and
/// report tests fill a keychain with.
pub fn exact_account(name: &str) -> Account {
    Account::new(crate::record::Header::new(
        name,
        crate::providers::ProviderSettings::new("exact-nl".parse().unwrap()),
        "etl".into(),
        1_800_000_000,
    ))
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

/// [`keychain_on`] with its records in a [`MemoryStore`] and its events in a [`MemoryTrail`]
/// (the identity and configuration stay files: they are not what these tests break). The
/// returned store and trail are the keychain's own (clones share their state), for planning
/// failures and looking at what was saved and logged.
pub fn in_memory(clock: SharedClock) -> (TempDir, Keychain, MemoryStore, MemoryTrail) {
    let (tmp, mut kc) = keychain_on(clock);
    let store = MemoryStore::new();
    let trail = MemoryTrail::new();
    kc.store = Box::new(store.clone());
    kc.test_trail = Some(Box::new(trail.clone()));
    (tmp, kc, store, trail)
}
