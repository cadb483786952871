//! An opened keychain: its folder, configuration, record store, audit trail and (on demand) its
//! identity.
//!
//! Commands go through this type to read and write accounts. Every change is one transaction
//! ([`Keychain::commit`], [`Keychain::remove`]):
//!
//! 1. the account's lock (taken by the caller, who then reads and changes the record);
//! 2. the configuration is checked against the identity (no planted recipient gets a secret);
//! 3. the audit log is locked and checked ([`AuditLog::begin`]): a damaged or missing anchor
//!    refuses the change **before** anything is saved;
//! 4. the record's write counter is raised past both its own and the last one the log recorded;
//! 5. the record is sealed and written with compare-and-swap against the revision read;
//! 6. the events go into the log, still under its lock, carrying the new counter.
//!
//! If step 6 fails (a full disk), the write is undone (the old bytes put back, or a new record
//! removed) so that a change is never saved and then reported as failed. Login's write-backs are
//! the one exception ([`OnAuditFailure::Keep`]): the provider has already rotated the refresh
//! token, and undoing the write would lose the only valid one.
//!
//! Opening a record ([`Keychain::read`]) compares its counter with the log's: a lower one is an
//! older copy put back (a replay) and is refused with exit 7. A shared keychain's trail is
//! brought up to date from the store for that (not this machine's copy as it was), and its
//! records carry a member's MAC under the current group key, checked before the record is
//! decrypted ([`crate::members::record_auth`]). The log is read first and the record
//! second: a writer saves the record before it logs, so the record read is never older than a
//! counter already in the log, and a concurrent write cannot look like a replay.
#![deny(missing_docs)]

use std::cell::{OnceCell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::audit::{AuditLog, Event, SharedLog, Trail};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::error::{Error, Result, Unlogged};
use crate::keystore::{self, Identity};
use crate::members::record_auth::{self, AuthError, Vouched};
use crate::members::{GroupKey, Opened, Shared};
use crate::name::AsAccountName;
use crate::record::{self, Account, Header, RecordError};
use crate::settings::Settings;
use crate::store::kv::{Kv, LocalKv};
use crate::store::{AccountLock, Expect, RecordStore, Revision, StoreError};

mod audit_trail;
mod fast_login;
pub(crate) mod file_key_cache;
mod listing;
#[cfg(test)]
pub(crate) mod testing;

pub use listing::AccountList;

/// What a transaction does when its change was saved but its events could not be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnAuditFailure {
    /// Put the record back as it was, then fail: the usual case.
    Undo,
    /// Keep the saved record, then fail: only for a refresh token the provider already rotated.
    Keep,
}

/// An opened keychain. Reading it needs no secret until a record is opened; every change goes
/// through one of its transactions, so the record store and the audit trail never disagree.
pub struct Keychain {
    /// The keychain folder.
    pub dir: PathBuf,
    /// Its configuration as loaded; checked against the identity before a secret is sealed.
    pub config: Config,
    /// The knobs the environment and global flags set, validated once at start.
    settings: Settings,
    /// The one wall clock of this keychain: records, rules and the audit log read it.
    clock: SharedClock,
    /// Where records live; the rest of keychain sees only the trait.
    store: Box<dyn RecordStore>,
    /// This machine's file log: the trail of a keychain that is not shared.
    audit: AuditLog,
    /// Where the member list, the group keys and (for a shared store) the audit trail live.
    shared: Option<SharedState>,
    /// The trail in the store, built at first use (it needs the group key, hence the identity).
    shared_log: OnceCell<SharedLog>,
    /// The member list as checked at first use, replaced by `member add` and `rm`.
    members: RefCell<Option<Opened>>,
    identity: OnceCell<Identity>,
    /// The identity's read from the Secret Service, started ahead of its first use
    /// ([`Keychain::start_identity`]).
    #[cfg(target_os = "linux")]
    identity_reading: RefCell<Option<keystore::os::Reading>>,
    config_checked: OnceCell<()>,
    /// Every account's last logged write counter, when a command that opens every record asked
    /// for them at once ([`Keychain::load_counters`]).
    counters: OnceCell<std::collections::HashMap<String, u64>>,
    /// Record bytes [`Keychain::peek_many`] read after the counters were loaded, for
    /// [`Keychain::read_many`] to open: a whole-keychain report reads each record once.
    peeked: RefCell<std::collections::HashMap<String, Vec<u8>>>,
    /// Record bytes a `member` command checked before it changed the group key or upgraded
    /// old records ([`Keychain::vouch_for_records`]).
    vouched: RefCell<Option<Vouched>>,
    /// A trail a unit test put in place of the file log (`testing::in_memory`).
    #[cfg(test)]
    test_trail: Option<Box<dyn Trail>>,
    /// The X25519 agreements the last [`Keychain::read_many`] made (what the file-key cache
    /// saves), for its tests.
    #[cfg(test)]
    agreements: std::cell::Cell<u64>,
}

/// The log's side of the replay check, between reading the log and reading the record.
enum Logged {
    /// Already known: a shared trail's, or every account's loaded at once.
    Known(Option<u64>),
    /// This machine's log as it stood, authenticated once the key is at hand.
    Snapshot(crate::audit::CounterSnapshot),
}

/// What a shared record's MAC is checked against: the member list's generation and its key,
/// and the newest generation the shared trail showed at its last sync.
struct RecordAuth {
    key: GroupKey,
    generation: u64,
    trail_generation: Option<u64>,
}

impl Keychain {
    /// Opens an initialised keychain; reads no secret yet. Refuses (exit 7) a keychain folder,
    /// accounts or locks folder, or configuration that another user could write: whatever such
    /// a user planted there would be trusted. (Records are checked as they are read.)
    ///
    /// With the default settings and the system clock; the CLI uses [`Keychain::open_with`].
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, Settings::default(), crate::clock::system())
    }

    /// [`Keychain::open`] with the given settings and clock.
    pub fn open_with(dir: &Path, settings: Settings, clock: SharedClock) -> Result<Self> {
        check_not_writable_by_others(dir)?;
        // A parent folder another user can write lets them swap the whole keychain folder.
        if let Some((path, detail)) = crate::fsutil::unsafe_ancestor(dir) {
            return Err(Error::WritableByOthers {
                fix: format!(
                    "move the keychain (KEYCHAIN_DIR) under folders only you and root can write, or run: chmod go-w {} (or chmod +t for a shared folder such as /tmp)",
                    path.display()
                ),
                path,
                detail,
            });
        }
        Self::open_unchecked_with(dir, settings, clock).and_then(|kc| {
            check_not_writable_by_others(&Config::path(dir))?;
            check_not_writable_by_others(&dir.join("accounts"))?;
            // A planted lock file (a symbolic link) would be opened and narrowed to 0600.
            check_not_writable_by_others(&dir.join("locks"))?;
            // The shared store's local read-only copies (see `store::openbao::store`).
            check_not_writable_by_others(&dir.join(crate::store::openbao::store::COPY_DIR))?;
            Ok(kc)
        })
    }

    /// Opens a keychain without the permission checks, for `audit`, which reports wide
    /// permissions as findings instead of refusing to look.
    pub fn open_unchecked(dir: &Path) -> Result<Self> {
        Self::open_unchecked_with(dir, Settings::default(), crate::clock::system())
    }

    /// [`Keychain::open_unchecked`] with the given settings and clock.
    pub fn open_unchecked_with(dir: &Path, settings: Settings, clock: SharedClock) -> Result<Self> {
        let config = Config::load(dir)?;
        let lock_timeout = settings.lock_timeout;
        let store = crate::store::open_with_lease(dir, &config.store, settings.openbao_lease)?;
        let shared = match store.shared_space() {
            Some(kv) => Some(SharedState {
                kv,
                trail_in_store: true,
            }),
            None => local_members(dir, settings.lock_timeout)?,
        };
        Ok(Keychain {
            dir: dir.to_path_buf(),
            config,
            settings,
            audit: crate::audit::log_of(dir, &clock).waiting_at_most(lock_timeout),
            clock,
            store,
            shared,
            shared_log: OnceCell::new(),
            members: RefCell::new(None),
            identity: OnceCell::new(),
            #[cfg(target_os = "linux")]
            identity_reading: RefCell::new(None),
            config_checked: OnceCell::new(),
            counters: OnceCell::new(),
            peeked: RefCell::default(),
            vouched: RefCell::new(None),
            #[cfg(test)]
            test_trail: None,
            #[cfg(test)]
            agreements: std::cell::Cell::new(0),
        })
    }

    /// The store the records live in. Writing through it directly bypasses the audit trail:
    /// changes go through [`Keychain::commit`] and [`Keychain::remove`].
    pub fn store(&self) -> &dyn RecordStore {
        &*self.store
    }

    /// Uses `kv` for the member list and group keys; with `trail_in_store`, also for the audit
    /// trail (a store shared by several machines; a local folder keeps its file log).
    pub fn with_shared(mut self, kv: Arc<dyn Kv>, trail_in_store: bool) -> Self {
        self.shared = Some(SharedState { kv, trail_in_store });
        self
    }

    /// The space that holds the member list, when the keychain has one.
    pub fn shared_kv(&self) -> Option<&Arc<dyn Kv>> {
        self.shared.as_ref().map(|s| &s.kv)
    }

    /// Whether the audit trail is the shared one in the store (a keychain on OpenBao).
    pub fn trail_in_store(&self) -> bool {
        self.shared.as_ref().is_some_and(|s| s.trail_in_store)
    }

    /// The members part of the keychain, when it has one.
    pub fn shared(&self) -> Option<Shared<'_>> {
        self.shared.as_ref().map(|s| Shared::new(&*s.kv, &self.dir))
    }

    /// The checked member list, opened at first use; `None` when records are sealed to
    /// `config.json`'s recipients only (no member list). Refuses (exit 7) a planted recipient.
    pub fn members(&self) -> Result<Option<std::cell::Ref<'_, Opened>>> {
        let Some(shared) = self.shared() else {
            return Ok(None);
        };
        if self.members.borrow().is_none() {
            let Some(opened) = shared.open_if_any(self.identity()?)? else {
                return Ok(None);
            };
            *self.members.borrow_mut() = Some(opened);
        }
        Ok(std::cell::Ref::filter_map(self.members.borrow(), Option::as_ref).ok())
    }

    /// After `member add` or `rm`: seal to the new set, and MAC new shared events under the
    /// new generation's key.
    pub fn set_members(&self, opened: Opened) {
        if let Some(log) = self.shared_log.get() {
            log.set_generation(opened.list.generation, opened.key.audit_secret());
        }
        *self.members.borrow_mut() = Some(opened);
    }

    /// Everyone a record is sealed to: the members (or `config.json`'s own recipient) and the
    /// escrow recipients, all authenticated.
    pub fn recipients(&self) -> Result<Vec<age::x25519::Recipient>> {
        let Some(members) = self.members()? else {
            return Ok(self.config.all_recipients()?);
        };
        let mut all = members.list.recipients().map_err(Error::usage)?;
        for escrow in &self.config.escrow_recipients {
            all.push(crate::config::parse_recipient(escrow)?);
        }
        Ok(all)
    }

    /// The audit trail: the shared one in the store of a shared keychain, else the file log.
    pub fn trail(&self) -> Result<&dyn Trail> {
        #[cfg(test)]
        if let Some(trail) = &self.test_trail {
            return Ok(&**trail);
        }
        let Some(shared) = self.shared.as_ref().filter(|s| s.trail_in_store) else {
            return Ok(&self.audit);
        };
        if let Some(log) = self.shared_log.get() {
            return Ok(log);
        }
        let members = self.shared().expect("shared");
        let identity = self.identity()?;
        // The member list checked already: its group key serves. When it does not check (a
        // planted recipient), the trail still opens, for audit to report it.
        let secrets = match self.members() {
            Ok(Some(opened)) => {
                members.secrets_up_to(identity, opened.list.generation, &opened.key)?
            }
            _ => members.trail_secrets(identity)?,
        };
        let log = SharedLog::new(shared.kv.clone(), &self.dir, &secrets, self.clock.clone())
            .waiting_at_most(self.settings.lock_timeout);
        let log = self.shared_log.get_or_init(|| log);
        // The store answers again: what this machine logged while it did not goes in first.
        crate::audit::offline::copy_to_shared(&self.dir, log)?;
        Ok(log)
    }

    /// Uses `identity` (just created by `init`) instead of asking the key store for it again.
    pub fn with_identity(self, identity: Identity) -> Self {
        let _ = self.identity.set(identity);
        self
    }

    /// The settings this keychain was opened with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The clock this keychain was opened with.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The current time (Unix seconds) on this keychain's clock.
    pub fn now(&self) -> i64 {
        self.clock.unix()
    }

    /// The clock this keychain's records keep their token times on, read now: a shared
    /// keychain's is the store's, as measured on this process's last answer from it; a local
    /// keychain's (or a shared one's before any answer) is this machine's. `login` judges
    /// tokens on it; whatever carries those times to or from this machine's clock (`status`,
    /// an export, an import) converts through it.
    pub fn records_clock(&self) -> crate::clock::reference::Now {
        use crate::clock::reference::{self, Now};
        let shared = self.store().shared_space().is_some();
        let mut now = Now::at(self.clock.now(), reference::last().filter(|_| shared));
        // Before any answer from the store our clock stands in for its: the records are still
        // stamped on the store's clock.
        now.store_clock = shared;
        now
    }

    /// Starts getting the identity now, where that only reads (the `unlock` cache, or the
    /// Secret Service's read on its own thread: see [`keystore::start_load`]), so that its
    /// round trips to the bus overlap what this process reads before it needs the key. The
    /// first [`Keychain::identity`] takes the answer; every other way in is left to it.
    pub fn start_identity(&self) {
        if self.identity.get().is_some() {
            return;
        }
        #[cfg(target_os = "linux")]
        if self.identity_reading.borrow().is_some() {
            return;
        }
        match keystore::start_load(&self.dir, &self.config, &self.settings) {
            keystore::Started::Ready(identity) => {
                let _ = self.identity.set(identity);
            }
            #[cfg(target_os = "linux")]
            keystore::Started::Reading(reading) => {
                *self.identity_reading.borrow_mut() = Some(reading);
            }
            keystore::Started::Later => {}
        }
    }

    /// The identity, fetched from the key store at first use.
    pub fn identity(&self) -> Result<&Identity> {
        if let Some(identity) = self.identity.get() {
            return Ok(identity);
        }
        #[cfg(target_os = "linux")]
        let reading = self.identity_reading.borrow_mut().take();
        #[cfg(target_os = "linux")]
        if let Some(reading) = reading {
            // The audit line that follows a read needs the actor's name, an NSS lookup: made
            // while the Secret Service answers rather than after.
            crate::whoami::whoami();
            if let Some(answer) = keystore::finish_load(reading, &self.config.recipient) {
                let identity = answer?;
                return Ok(self.identity.get_or_init(|| identity));
            }
        }
        let mut derived = None;
        let loaded =
            keystore::load_identity_noting(&self.dir, &self.config, &self.settings, &mut derived);
        if let Some(derivation) = derived {
            self.record_derivation(derivation, loaded.is_ok())?;
        }
        let identity = loaded?;
        Ok(self.identity.get_or_init(|| identity))
    }

    /// Logs that this call derived the key from the passphrase file (an `unlock` event in this
    /// machine's own log: the kernel keyring it went to is this machine's). No log, no cached
    /// key: when the event cannot be written, the key is taken back out of the cache.
    #[cfg(target_os = "linux")]
    fn record_derivation(&self, derivation: keystore::Derivation, opened: bool) -> Result<()> {
        use crate::audit::Outcome;
        use keystore::derived::Derivation;
        let outcome = match &derivation {
            Derivation::Cached(_) => Outcome::Ok,
            Derivation::NotCached(reason) => Outcome::Error(format!("not cached: {reason}")),
            Derivation::Refused => Outcome::Error("wrong passphrase".into()),
        };
        let event = Event::new("unlock from passphrase file", crate::audit::Action::Unlock)
            .outcome(outcome);
        match self.audit.append(&event) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = keystore::derived::forget(&self.dir);
                // A refused passphrase is the error worth showing; the log's comes next time.
                if opened {
                    Err(crate::error::Error::from(e))
                } else {
                    Ok(())
                }
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn record_derivation(&self, derivation: keystore::Derivation, _opened: bool) -> Result<()> {
        match derivation {}
    }

    /// The public header of an account, without the key (not yet authenticated). A header
    /// naming another account (a copied or renamed file) is refused as `read` refuses it, so
    /// that no listing shows one account twice.
    pub fn peek(&self, name: &(impl AsAccountName + ?Sized)) -> Result<Header> {
        let name = name.account_name().map_err(StoreError::from)?;
        peek_in(self.store(), &name)
    }

    /// Opens an account and returns it with the revision read, for a later compare-and-swap.
    /// Refuses (exit 7) a record older than the last write the audit log recorded (a replay).
    pub fn read(&self, name: &(impl AsAccountName + ?Sized)) -> Result<(Account, Revision)> {
        let name = name.account_name().map_err(StoreError::from)?;
        let name = name.as_str();
        // Opening the record takes the identity: its read from a Secret Service overlaps the
        // reads of the log and the record below.
        self.start_identity();
        // The log first, the record second: see the module documentation. A local log is
        // only snapshotted here and authenticated below, once the record exists.
        let logged = self.logged_before_read(name)?;
        let raw = self
            .store
            .read(name)?
            .ok_or_else(|| Error::NotFound(name.to_string()))?;
        let logged = self.resolve_logged(logged, name)?;
        let auth = self.record_auth()?;
        let vouched = self.vouched.borrow();
        // config.json's recipient as the public key: no base-point multiplication for one
        // record (a wrong one is only a hint: see `X25519Opener`).
        let opener =
            crate::crypto::X25519Opener::with_public_hint(self.identity()?, &self.config.recipient);
        let account = open_checked(
            self.store(),
            &opener,
            name,
            &raw.bytes,
            logged,
            auth.as_ref().map(|auth| (auth, vouched.as_ref())),
        )?;
        self.store.keep_copy(name, &raw.bytes);
        Ok((account, raw.revision))
    }

    /// Copies account `name` into the keychain `to` (another folder, or a shared store), sealed
    /// to `to`'s recipients, as one transaction there: it must not exist in `to` yet. With
    /// `remove_here` the account is then removed here (a move): one refresh-token chain must
    /// never be used from two keychains, each would break the other's at every refresh. The
    /// account stays locked here for the whole copy, so no refresh runs in between.
    pub fn copy_account_to(
        &self,
        to: &Keychain,
        name: &(impl AsAccountName + ?Sized),
        remove_here: bool,
    ) -> Result<()> {
        let name = name.account_name().map_err(StoreError::from)?;
        let name = name.as_str();
        let here = self.lock(name)?;
        let (mut account, _) = self.read(name)?;
        let there = to.lock(name)?;
        let event = Event::new(
            format!("copy from {}", self.location(name)),
            crate::audit::Action::Import,
        )
        .account(name);
        to.commit(
            &*there,
            Expect::Absent,
            &mut account,
            vec![event],
            OnAuditFailure::Undo,
        )?;
        if remove_here {
            let event = Event::new(
                format!("moved to {}", to.location(name)),
                crate::audit::Action::Rm,
            )
            .account(name);
            self.remove(&*here, event)?;
        }
        Ok(())
    }

    /// Opens the local read-only copy of a shared record (the last sealed bytes this machine
    /// saw), for `login` while the shared store cannot be reached. `None` when there is none
    /// or it does not open: the caller then reports the store's own error.
    pub fn read_last_seen(&self, name: &(impl AsAccountName + ?Sized)) -> Option<Account> {
        let name = name.account_name().ok()?;
        let name = name.as_str();
        let bytes = self.store.last_seen(name)?;
        // The store is down: a shared trail's counters come from this machine's copy.
        let logged = match &self.shared {
            Some(shared) if shared.trail_in_store => {
                crate::audit::copy_last_counter(&self.dir, name).ok()?
            }
            _ => self.logged_counter(name).ok()?,
        };
        // Only bytes that checked out (a member's MAC) were kept as the copy; the group key
        // is in the store that is down.
        open_checked(
            self.store(),
            self.identity().ok()?,
            name,
            &bytes,
            logged,
            None,
        )
        .ok()
    }

    /// The group key a shared record's MAC is checked against, when records carry one: those of
    /// a keychain whose trail is in a store shared by several machines and that has a member
    /// list. (A local keychain's files are guarded by the file system; a shared keychain made
    /// before members existed has no group key until `member add`.)
    fn record_auth(&self) -> Result<Option<RecordAuth>> {
        if !self.shared.as_ref().is_some_and(|s| s.trail_in_store) {
            return Ok(None);
        }
        // Read after the counters (the trail synced): see `open_checked`.
        let trail_generation = self.trail()?.generation();
        self.record_key(trail_generation)
    }

    /// [`Keychain::record_auth`] with the trail's generation given: a write seals with the
    /// key alone, and must not depend on a trail that a login's write-back goes on without.
    fn record_key(&self, trail_generation: Option<u64>) -> Result<Option<RecordAuth>> {
        if !self.shared.as_ref().is_some_and(|s| s.trail_in_store) {
            return Ok(None);
        }
        match self.members() {
            Ok(opened) => Ok(opened.map(|opened| RecordAuth {
                key: GroupKey::from_opened(&opened.key),
                generation: opened.list.generation,
                trail_generation,
            })),
            // A list that does not check (a planted recipient) stops sealing, not reading: the
            // group key itself is still checked against this machine's pin.
            Err(Error::Unauthenticated { .. }) => {
                let shared = self.shared().expect("shared");
                let (key, generation) = shared.current_key(self.identity()?)?;
                Ok(Some(RecordAuth {
                    key,
                    generation,
                    trail_generation,
                }))
            }
            Err(e) => Err(e),
        }
    }

    /// For a `member` command, before it changes the member list: checks every record's MAC
    /// under the current group key and remembers the exact bytes, so that the records can be
    /// read to be sealed again after the group key rotated, while everyone else refuses a
    /// record under the retired generation. A record without a MAC (written before records
    /// were authenticated) is vouched for too: this is its one-time upgrade, by a member. A
    /// record whose MAC does not check is not, and the command stops there. Returns the names
    /// of the records upgraded. The set is kept in the keychain folder
    /// ([`record_auth::VOUCHED_FILE`]): a record a run cut short left under the retired
    /// generation is vouched for again when it is byte for byte what that run checked.
    pub fn vouch_for_records(&self) -> Result<Vec<String>> {
        let Some(auth) = self.record_auth()? else {
            return Ok(Vec::new());
        };
        // What an interrupted run of a `member` command on this machine checked before its
        // rotation: records it had not sealed again yet are still under the retired generation.
        let earlier = Vouched::load(&self.dir)?;
        let mut vouched = Vouched::default();
        let mut upgraded = Vec::new();
        for name in self.store.list()? {
            let Some(raw) = self.store.read(&name)? else {
                continue;
            };
            match record_auth::verify(&raw.bytes, &name, &auth.key, auth.generation) {
                Ok(()) => {}
                Err(AuthError::Missing) => upgraded.push(name.clone()),
                Err(AuthError::Retired { .. }) if earlier.holds(&raw.bytes) => {}
                Err(e) => return Err(unauthenticated(self.store(), &name, &e)),
            }
            vouched.add(&raw.bytes);
        }
        vouched.save(&self.dir)?;
        *self.vouched.borrow_mut() = Some(vouched);
        Ok(upgraded)
    }

    /// The last write counter the audit log recorded for `name`.
    pub fn logged_counter(&self, name: &str) -> Result<Option<u64>> {
        let logged = self.logged_before_read(name)?;
        self.resolve_logged(logged, name)
    }

    /// The log's side of the replay check, taken before the record is read. This machine's file
    /// log is snapshotted (its counter index and files, see [`crate::audit::CounterSnapshot`])
    /// and authenticated by [`Keychain::resolve_logged`] with the key; a shared trail answers
    /// at once.
    fn logged_before_read(&self, name: &str) -> Result<Logged> {
        if let Some(all) = self.counters.get() {
            return Ok(Logged::Known(all.get(name).copied()));
        }
        if !self.trail_in_store() {
            let snapshot = self
                .audit
                .counter_snapshot()
                .map_err(crate::error::Error::from)?;
            return Ok(Logged::Snapshot(snapshot));
        }
        Ok(Logged::Known(
            self.trail()?
                .last_counter(name)
                .map_err(crate::error::Error::from)?,
        ))
    }

    /// The counter from [`Keychain::logged_before_read`]: a snapshot is authenticated under the
    /// audit key (which needs the identity, as opening the record does).
    fn resolve_logged(&self, logged: Logged, name: &str) -> Result<Option<u64>> {
        match logged {
            Logged::Known(counter) => Ok(counter),
            Logged::Snapshot(snapshot) => snapshot
                .last_counter(name, &crate::audit::audit_key(self.identity()?))
                .map_err(crate::error::Error::from),
        }
    }

    /// The last counter the trail recorded for `name`, read while `pending` holds its lock: from
    /// the counter index when the trail is this machine's log and the identity is loaded (a
    /// transaction that seals a record has it), else from the trail itself.
    fn counter_under_lock(
        &self,
        pending: &dyn crate::audit::Transaction,
        name: &str,
    ) -> std::result::Result<Option<u64>, crate::audit::AuditError> {
        match self.identity.get() {
            Some(identity) if !self.trail_in_store() => self
                .audit
                .counter_snapshot()?
                .last_counter(name, &crate::audit::audit_key(identity)),
            _ => pending.last_counter(name),
        }
    }

    /// Reads every account's last logged counter in one pass, for commands that open every
    /// record; later reads use it instead of one backward scan each. Call it before reading the
    /// records (the log first, the records second).
    pub fn load_counters(&self) -> Result<()> {
        if self.counters.get().is_none() {
            let all = self
                .trail()?
                .all_counters()
                .map_err(crate::error::Error::from)?;
            let _ = self.counters.set(all);
        }
        Ok(())
    }

    /// [`Keychain::load_counters`] from this machine's copy of the shared trail as it is, without
    /// the store or any key (for `audit --no-key`); `false` when the trail is not shared.
    pub fn load_counters_from_copy(&self) -> Result<bool> {
        if !self.trail_in_store() {
            return Ok(false);
        }
        if self.counters.get().is_none() {
            let all = crate::audit::copy_counters(&self.dir).map_err(crate::error::Error::from)?;
            let _ = self.counters.set(all);
        }
        Ok(true)
    }

    /// Refuses (exit 7) to seal anything while the configuration does not authenticate under
    /// the identity: a recipient planted in `config.json` would receive every later secret.
    pub fn check_config(&self) -> Result<()> {
        if self.config_checked.get().is_some() {
            return Ok(());
        }
        self.config.check(&self.dir, self.identity()?)?;
        // The member list too: a recipient planted there is refused before anything is sealed.
        self.members()?;
        let _ = self.config_checked.set(());
        Ok(())
    }

    /// The public headers of many accounts, read on every available core; the results are in
    /// the order of `names`, each account's own. Needs no key.
    ///
    /// After [`Keychain::load_counters`] the bytes read are kept for [`Keychain::read_many`]:
    /// read after the log, they are exactly what it would read (the log first, the records
    /// second), so a report that peeks and then opens every record reads each file once.
    pub fn peek_many(&self, names: &[String]) -> Vec<Result<Header>> {
        let store = self.store();
        let keep = self.counters.get().is_some();
        let read = on_all_cores(names, |name| peek_raw(store, name));
        let mut peeked = self.peeked.borrow_mut();
        read.into_iter()
            .zip(names)
            .map(|(read, name)| {
                read.map(|(header, bytes)| {
                    if keep {
                        peeked.insert(name.clone(), bytes);
                    }
                    header
                })
            })
            .collect()
    }

    /// Opens many accounts, decrypting on every available core; the results are in the order of
    /// `names`, each account's own (an unreadable record does not stop the others).
    ///
    /// For whole-keychain reports: one age decryption (an X25519 agreement) per record is most of
    /// their time, and the records are independent. `Err` only when the key cannot be had or
    /// the log's counters cannot be read. A replayed record is refused as [`Keychain::read`]
    /// refuses it: the log's counters are read first, the records second.
    pub fn read_many(&self, names: &[String]) -> Result<Vec<Result<Account>>> {
        self.load_counters()?;
        let counters = self.counters.get();
        // The public key derived once for all the records, not once per record.
        let opener = crate::crypto::X25519Opener::new(self.identity()?);
        let opener = &opener;
        // Each record's file key as the last whole-keychain opening found it: a record opened
        // before skips its X25519 agreement, and only that (see `file_key_cache`).
        let cache = file_key_cache::FileKeyCache::load(&self.dir, opener);
        let cache_ref = &cache;
        let store = self.store();
        let auth = self.record_auth()?;
        let vouched = self.vouched.borrow();
        let auth = auth.as_ref().map(|auth| (auth, vouched.as_ref()));
        // What `peek_many` read after the counters; anything else is read now.
        let peeked = std::mem::take(&mut *self.peeked.borrow_mut());
        let peeked = &peeked;
        let opened = on_all_cores(names, |name| {
            let read;
            let bytes = match peeked.get(name) {
                Some(bytes) => bytes,
                None => {
                    read = store
                        .read(name)?
                        .ok_or_else(|| Error::NotFound(name.clone()))?;
                    &read.bytes
                }
            };
            let logged = counters.and_then(|c| c.get(name)).copied();
            let account = cache_ref.open(opener, name, |identity| {
                open_checked(store, identity, name, bytes, logged, auth)
            })?;
            store.keep_copy(name, bytes);
            Ok(account)
        });
        cache.save();
        #[cfg(test)]
        self.agreements.set(opener.agreements());
        Ok(opened)
    }

    /// Takes the account's exclusive lock.
    pub fn lock(&self, name: &(impl AsAccountName + ?Sized)) -> Result<Box<dyn AccountLock>> {
        let name = name.account_name().map_err(StoreError::from)?;
        let name = name.as_str();
        // The store says "waiting for account ..." itself, naming the holder when it can.
        Ok(self.store.lock(name, self.settings.lock_timeout)?)
    }

    /// One transaction: writes the changed account (sealed to every authenticated recipient)
    /// if the record is still as `expect` says, then logs `events` with the new write counter.
    /// See the module documentation for the order and what happens when a step fails.
    pub fn commit(
        &self,
        lock: &dyn AccountLock,
        expect: Expect,
        account: &mut Account,
        events: Vec<Event>,
        on_audit_failure: OnAuditFailure,
    ) -> Result<Revision> {
        let name = lock.account().to_string();
        debug_assert_eq!(name, account.header.name);
        self.check_config()?;
        // A lease across machines that may have run out: stop acting. Except for tokens the
        // provider already rotated (Keep): refusing would lose the only valid refresh token for
        // sure, while the check-and-set below still refuses the write if a successor wrote.
        if on_audit_failure == OnAuditFailure::Undo {
            lock.still_held()?;
        }
        // Keep: the write must happen even when the log refuses (callers check the log before
        // they contact the provider, so this is a log damaged in the last milliseconds).
        // A shared trail that cannot even be opened is such a log too.
        let (trail, unopened) = match self.trail() {
            Ok(trail) => (Some(trail), None),
            Err(e) if on_audit_failure == OnAuditFailure::Undo => return Err(e),
            Err(e) => (None, Some(e)),
        };
        let pending = match trail.map(|trail| trail.begin()) {
            Some(Err(e)) if on_audit_failure == OnAuditFailure::Undo => {
                return Err(crate::error::Error::from(e));
            }
            other => other,
        };
        // Keep: a log that cannot be read now must not stop the write either. The record was
        // read under the lock and checked against the log then, so its own counter suffices.
        // The trail as `begin` just brought it up to date (read again, a shared trail would be
        // synced twice, under a lock this process already holds).
        let logged = match pending.as_ref().map(|p| match p {
            Ok(pending) => self.counter_under_lock(&**pending, &name),
            Err(_) => Ok(None),
        }) {
            Some(Ok(logged)) => logged.unwrap_or(0),
            Some(Err(e)) if on_audit_failure == OnAuditFailure::Undo => {
                return Err(crate::error::Error::from(e));
            }
            _ => 0,
        };
        // Only an undo needs the old bytes.
        let before = match on_audit_failure {
            OnAuditFailure::Undo => self.store.read(&name)?,
            OnAuditFailure::Keep => None,
        };
        account.header.writes = account.header.writes.max(logged) + 1;

        let recipients = self.recipients()?;
        let recipients: Vec<&dyn age::Recipient> = recipients
            .iter()
            .map(|r| r as &dyn age::Recipient)
            .collect();
        let mut bytes = record::seal(account, &recipients)
            .map_err(|e| Error::usage(format!("cannot encrypt the record: {e}")))?;
        if let Some(auth) = self.record_key(None)? {
            bytes = record_auth::seal(&auth.key, auth.generation, &name, &bytes);
        }
        let revision = self.store.write(lock, expect, &bytes)?;

        let counter = account.header.writes;
        let events: Vec<Event> = events.into_iter().map(|e| e.counter(counter)).collect();
        let committed = match pending {
            Some(pending) => pending.and_then(|pending| pending.commit(&events)),
            // Only under Keep (Undo returned above): the record stays written, and the trail
            // that did not open is the answer.
            None => return Err(unopened.expect("a trail that did not open left its error")),
        };
        if let Err(e) = committed {
            if on_audit_failure == OnAuditFailure::Keep {
                return Err(crate::error::Error::from(e));
            }
            let undone = match before {
                Some(raw) => self
                    .store
                    .write(lock, Expect::At(revision), &raw.bytes)
                    .map(|_| ()),
                None => self.store.remove(lock),
            };
            return Err(match undone {
                Ok(()) => crate::error::Error::from(e),
                // Exit 7: the record now holds a change its log does not.
                Err(undo) => Error::Unlogged {
                    path: self.store.location(&name).into(),
                    change: Unlogged::Written,
                    undo: Box::new(undo),
                    cause: e,
                },
            });
        }
        Ok(revision)
    }

    /// Removes the locked account and logs `event`, as one transaction: the removal is logged
    /// with a counter one past the record's, so a removed record put back is a replay.
    pub fn remove(&self, lock: &dyn AccountLock, event: Event) -> Result<()> {
        let name = lock.account().to_string();
        lock.still_held()?;
        let pending = self.trail()?.begin().map_err(crate::error::Error::from)?;
        let raw = self
            .store
            .read(&name)?
            .ok_or_else(|| Error::NotFound(name.clone()))?;
        let writes = record::peek(&raw.bytes).map(|h| h.writes).unwrap_or(0);
        let logged = self
            .counter_under_lock(&*pending, &name)
            .map_err(crate::error::Error::from)?
            .unwrap_or(0);
        self.store.remove(lock).map_err(|e| match e {
            StoreError::NotFound(name) => Error::NotFound(name),
            other => other.into(),
        })?;
        if let Err(e) = pending.commit(&[event.counter(writes.max(logged) + 1)]) {
            return Err(match self.store.write(lock, Expect::Absent, &raw.bytes) {
                Ok(_) => crate::error::Error::from(e),
                Err(undo) => Error::Unlogged {
                    path: self.store.location(&name).into(),
                    change: Unlogged::Removed,
                    undo: Box::new(undo),
                    cause: e,
                },
            });
        }
        Ok(())
    }

    /// Checks that the audit log can take events now, without writing one: for commands that
    /// must not start something (a refresh at the provider) they could not record.
    pub fn check_audit(&self) -> Result<()> {
        self.trail()?
            .begin()
            .map(drop)
            .map_err(crate::error::Error::from)
    }

    /// Appends one event to this machine's file log, for what a machine does while its shared
    /// store (and with it the shared trail) cannot be reached: serving a still-valid token from
    /// its local copy. No log, no token, even then.
    pub fn log_event_offline(&self, event: Event) -> Result<()> {
        self.audit.append(&event).map_err(crate::error::Error::from)
    }

    /// Appends one event to the audit log (for reads and uses that change no record).
    pub fn log_event(&self, event: Event) -> Result<()> {
        self.trail()?
            .append(&event)
            .map_err(crate::error::Error::from)
    }

    /// Where the account's record lives: a file, or `openbao://host/mount/path/NAME`.
    pub fn location(&self, name: &str) -> crate::store::Location {
        self.store.location(name)
    }

    /// [`Keychain::location`] as a path (a remote one prints as its URL), for errors.
    pub fn record_path(&self, name: &str) -> PathBuf {
        self.store.location(name).into()
    }
}

/// The store of the member list and group keys, and whether the audit trail lives there too.
struct SharedState {
    kv: Arc<dyn Kv>,
    trail_in_store: bool,
}

/// The folder of a local keychain's member list: a keychain on one machine can have members
/// too (a second user's key, an officer's), kept in `<dir>/members/` with the same checks.
pub const LOCAL_MEMBERS_DIR: &str = "members";

fn local_members(dir: &Path, lock_timeout: std::time::Duration) -> Result<Option<SharedState>> {
    let folder = dir.join(LOCAL_MEMBERS_DIR);
    if !folder.is_dir() {
        return Ok(None);
    }
    check_not_writable_by_others(&folder)?;
    Ok(Some(SharedState {
        kv: Arc::new(LocalKv::open(&folder)?.waiting_at_most(lock_timeout)),
        trail_in_store: false,
    }))
}

/// Decrypts a record read as `name` and refuses (exit 7) one older than the write counter the
/// log recorded for it: the one way [`Keychain::read`] and [`Keychain::read_many`] open a record.
///
/// With `auth` (a shared record), its member MAC is checked first, before anything in it is
/// decrypted or used.
fn open_checked(
    store: &dyn RecordStore,
    identity: &dyn age::Identity,
    name: &str,
    bytes: &[u8],
    logged: Option<u64>,
    auth: Option<(&RecordAuth, Option<&Vouched>)>,
) -> Result<Account> {
    if let Some((auth, vouched)) = auth {
        record_auth::check(bytes, name, &auth.key, auth.generation, vouched)
            .map_err(|e| unauthenticated(store, name, &e))?;
        // A record written under a generation the trail does not reach yet: its write's event
        // (and the removal's) are missing from what this machine was shown, so the counters it
        // was compared with may be cut back (or the writer is logging it this instant).
        let written = record::split_auth(bytes).ok().and_then(|(a, _)| a);
        if let (Some(written), Some(trail)) = (written, auth.trail_generation)
            && written.generation > trail
            && !vouched.is_some_and(|v| v.holds(bytes))
        {
            return Err(Error::Unauthenticated {
                path: store.location(name).into(),
                reason: format!(
                    "the record is MAC'd under group key generation {}, but the shared audit trail shows nothing past generation {trail}: events were cut from the trail, and the record's counter cannot be checked",
                    written.generation
                ),
                hint: "nothing was decrypted or used; run the command again (a write may have been logging just then); if it is refused again, run 'keychain audit verify' on a member whose copy of the trail is up to date".into(),
            });
        }
    }
    let account = record::open(bytes, name, identity).map_err(|cause| Error::Record {
        path: store.location(name).into(),
        cause,
    })?;
    if let Some(logged) = logged
        && account.header.writes < logged
    {
        return Err(Error::Replayed {
            path: store.location(name).into(),
            reason: replay_reason(account.header.writes, logged),
        });
    }
    Ok(account)
}

/// A shared record that is not a member's (exit 7).
fn unauthenticated(store: &dyn RecordStore, name: &str, e: &AuthError) -> Error {
    Error::Unauthenticated {
        path: store.location(name).into(),
        reason: e.to_string(),
        hint: crate::exit::Failure::hint(e).unwrap_or_default(),
    }
}

fn replay_reason(record: u64, logged: u64) -> String {
    format!(
        "the record is an older copy put back (a replay): its write counter is {record}, but the audit log recorded write {logged}; it would bring back an old password, refresh token or TOTP step"
    )
}

/// Refuses a keychain file or folder that another user could write.
fn check_not_writable_by_others(path: &Path) -> Result<()> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        // A missing file is reported by whoever needs it, with its own message.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    match crate::fsutil::writable_by_others(path, &meta) {
        None => Ok(()),
        Some((detail, fix)) => Err(Error::WritableByOthers {
            path: path.to_path_buf(),
            detail,
            fix,
        }),
    }
}

/// The public header of `name` as [`Keychain::peek`] gives it: a header that names another
/// account (a copied or renamed file) is refused, so no account is listed twice.
fn peek_in(store: &dyn RecordStore, name: &str) -> Result<Header> {
    peek_raw(store, name).map(|(header, _)| header)
}

/// [`peek_in`], with the bytes it read.
fn peek_raw(store: &dyn RecordStore, name: &str) -> Result<(Header, Vec<u8>)> {
    let integrity = |cause: RecordError| Error::Record {
        path: store.location(name).into(),
        cause,
    };
    let raw = store
        .read(name)?
        .ok_or_else(|| Error::NotFound(name.to_string()))?;
    let header = record::peek(&raw.bytes).map_err(integrity)?;
    if header.name != name {
        return Err(integrity(RecordError::WrongName(header.name)));
    }
    Ok((header, raw.bytes))
}

/// `work` applied to every name on every available core (std's scoped threads: no pool to
/// start, nothing outlives the call); results in input order. The names are taken in small
/// batches by whichever thread is free, so a core that the machine's other work slows down
/// does not leave the rest waiting at the end (fixed equal shares did).
fn on_all_cores<T: Send>(names: &[String], work: impl Fn(&String) -> T + Sync) -> Vec<T> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const BATCH: usize = 32;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || names.len() < 2 {
        return names.iter().map(work).collect();
    }
    let work = &work;
    let batches: Vec<&[String]> = names.chunks(BATCH).collect();
    let next = AtomicUsize::new(0);
    let (batches, next) = (&batches, &next);
    let mut done: Vec<(usize, Vec<T>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(batches.len()))
            .map(|_| {
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(batch) = batches.get(i) else {
                            return mine;
                        };
                        mine.push((i, batch.iter().map(work).collect::<Vec<T>>()));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().flat_map(|(_, results)| results).collect()
}

#[cfg(test)]
mod on_all_cores_tests {
    /// Every name once, results in the order of the names, whatever thread took which batch
    /// (and with uneven work, so the threads really do finish out of order).
    #[test]
    fn results_come_back_in_input_order() {
        for n in [0, 1, 2, 31, 32, 33, 1000] {
            let names: Vec<String> = (0..n).map(|i| i.to_string()).collect();
            let out = super::on_all_cores(&names, |name| {
                let i: u64 = name.parse().unwrap();
                if i.is_multiple_of(7) {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
                (name.clone(), std::thread::current().id())
            });
            let got: Vec<&String> = out.iter().map(|(name, _)| name).collect();
            assert_eq!(got, names.iter().collect::<Vec<_>>(), "n = {n}");
        }
    }
}
