//! The fast path of a cached `login` on a shared keychain (issue 20, item 7): two requests to
//! the store instead of five, the first in parallel with the local work, taken only where it
//! cannot change the outcome.
//!
//! Everything is decided from this machine's own state, under its lock of the shared trail:
//! its copy of the trail (the tail, the newest generation, the account's highest logged write
//! counter), its copy of the record (`shared-copy/NAME.kcr`, kept only after the record checked
//! out), and its copy of the group key (`group.key`, checked against the pin). The record's MAC
//! is checked under that key, its counter compared with the copy's as [`Keychain::read`] does,
//! and it is decrypted; its access token must be valid for the margin asked. Neither opening
//! needs an X25519 agreement once a login did it before: the group key comes from its sealed
//! local copy (`members::sealed`, checked against the pin as `group.key` is) and the record's
//! age file key from a sealed cache beside the record's copy (`file_key_cache`, which decides
//! nothing: age checks the record with it, and a failure is tried again without it). Sent before all
//! that, and answered while it runs, the witness every sync reads: the store must still hold
//! the copy's last event ([`witness_copy_end`]; used only if the copy still ends there under
//! the lock). Beside it, not after it, the write: the `login` event at the position right
//! after the copy's end, check-and-set "absent" ([`SharedLog::append_after_copy`], which says
//! why the order is as safe); while the store writes it, the event goes into this machine's copy,
//! synced, without its newline until the store answered (a process killed in that wait leaves a
//! line the next sync settles against the store: `SharedLog::settle_partial`). Only once it is in
//! the store and the witness passed is the token revealed (recorded before revealed). Any doubt
//! (no copy, another generation, a MAC or counter that does not check, a token not valid long
//! enough, offline events not copied yet, a line left unanswered, the position taken, the store
//! not answering) takes the normal path, unchanged, which syncs the trail and
//! writes its own event; nothing is revealed from here after a conflict.
//!
//! Why that is as safe as the normal path:
//! - The position was free, so no machine appended to the trail since the copy ended. Every
//!   record write is logged in the trail, after the record is saved (`Keychain::commit`): a
//!   write logged anywhere is in the copy, and a record older than it fails the counter check.
//!   A write saved but not logged yet is one this login precedes, as a lean read racing it.
//! - The record used was authenticated under the group key when it was read, and again now; it
//!   is not read from the store, so a record the operator rolled back there is not used (and
//!   the normal path still refuses it: its counter is below the trail's).
//! - The operator cutting back or rolling back the trail does not make a stale record pass:
//!   the counter compared with is the copy's, which holds the highest this machine saw. A tail
//!   deleted or replaced in the store fails the witness: nothing is written here and the normal
//!   path refuses it, as before the fast path.
//! - A removed member: `member rm` writes its event under the new generation at once, so the
//!   removed machine's write at its copy's end takes a position already taken (and it falls to
//!   the normal path, which refuses it); an event it lands under a retired generation before a
//!   newer one (the operator deleting the remover's event) is refused by every member (item 3).
//!   It can reveal only a token its own copy already held.
#![deny(missing_docs)]

use crate::audit::{Event, SharedLog, Witnessed, witness_copy_end};
use crate::members::record_auth;
use crate::record::{self, Account};

use super::Keychain;

impl Keychain {
    /// What `pick` makes of the account's record as this machine last saw it, once `event`
    /// is in the shared trail at the position right after this machine's copy of it (one
    /// write, beside the witness read that runs in parallel with the local work); `None` whenever the fast path does not apply (see the module documentation)
    /// and nothing may be revealed: the caller takes the normal path.
    pub fn serve_from_copy<T>(
        &self,
        name: &str,
        event: &Event,
        pick: impl Fn(&Account) -> Option<T>,
    ) -> Option<T> {
        let shared = self.shared.as_ref().filter(|s| s.trail_in_store)?;
        crate::name::AccountName::parse(name).ok()?;
        // Events logged while the store was down go in first, on the normal path.
        if crate::audit::offline::pending(&self.dir) {
            return None;
        }
        // The witness (the store still holds the copy's last event) is sent now and its answer
        // taken after the write (nothing is revealed before it passed): its round trip overlaps
        // the opening of the keys and the record, and the write's. No thread: this thread's
        // waits on the store drive both requests (`store::openbao::client::transport`). When
        // the fast path gives up before that, nothing waits for it.
        let witness = witness_copy_end(&*shared.kv, &self.dir);
        self.serve_witnessed(name, event, pick, &witness)
    }

    /// [`Self::serve_from_copy`] once the witness is under way.
    fn serve_witnessed<T>(
        &self,
        name: &str,
        event: &Event,
        pick: impl Fn(&Account) -> Option<T>,
        witness: &Witnessed<'_>,
    ) -> Option<T> {
        let shared = self.shared.as_ref()?;
        let identity = self.identity().ok()?;
        let pin = crate::members::pin::load(&self.dir, identity).ok()?;
        let generation = pin.generation?;
        // One opener for the group key and the record, with config.json's recipient as its
        // public key: no base-point multiplication for either (a wrong recipient is only a
        // hint, tried first: see `X25519Opener`; what opens is exactly what age would open).
        let opener =
            crate::crypto::X25519Opener::with_public_hint(identity, &self.config.recipient);
        // The pinned key from its sealed local copy (no X25519 agreement), else from
        // `group.key`: the same key either way, checked against the pin (`members::sealed`).
        let key = crate::members::sealed::load_pinned(&self.dir, &opener, &pin, generation)?;
        // Only the pinned generation's key: the copy's tail must be of that generation.
        let secrets: Vec<_> = (0..generation)
            .map(|_| None)
            .chain(std::iter::once(Some(key.audit_secret())))
            .collect();
        let file_keys = super::file_key_cache::FileKeyCache::load_file(
            self.dir
                .join(crate::store::openbao::store::COPY_DIR)
                .join(format!("{name}{FILE_KEY_SUFFIX}")),
            &opener,
        );
        let log = SharedLog::new(shared.kv.clone(), &self.dir, &secrets, self.clock.clone())
            .waiting_at_most(self.settings.lock_timeout);
        let served = log
            .append_after_copy(event, generation, witness, |logged| {
                let bytes = self.store.last_seen(name)?;
                // The current generation's MAC only: no vouched bytes, no retired generation.
                record_auth::verify(&bytes, name, &key, generation).ok()?;
                // The record's age file key from its sealed cache beside the copy when the copy's
                // stanzas are the ones it was kept for (no X25519 agreement), else unwrapped as
                // before; age then opens and checks the record with it exactly as without the cache
                // (header MAC, payload, header hash, name), and a failure with a cached key is tried
                // again without it (`file_key_cache`): the cache never decides what opens.
                let account = file_keys
                    .open(&opener, name, |identity| {
                        record::open(&bytes, name, identity)
                    })
                    .ok()?;
                // As `open_checked`: a record below the highest counter logged is not used.
                if logged.is_some_and(|logged| account.header.writes < logged) {
                    return None;
                }
                // `pick` reads the store's clock once this process has heard it, and before that
                // its own with a wider margin (`ops::login::cache::for_copy`): a token it turns
                // down before the witness answered is asked about once more after (the same
                // decision the normal path's read would make on the store's clock), instead of
                // leaving a token within the margin to the normal path's five requests.
                pick(&account).or_else(|| {
                    witness.passed();
                    pick(&account)
                })
            })
            .ok()
            .flatten();
        // Written only when the record's stanzas changed since (after a write of the record):
        // after the decision, and best effort (a cache not written costs one agreement).
        file_keys.save();
        served
    }
}

/// Beside `shared-copy/NAME.kcr`, the sealed cache of that copy's file key.
const FILE_KEY_SUFFIX: &str = ".kcr.file-key";
