//! The first read of a record in a process of a shared keychain: the record and the member list
//! are fetched at once (two round trips to OpenBao side by side instead of one after the
//! other), on the path every cached `login` takes.
//!
//! The order that matters is kept: the write counter the record is compared with is read from
//! this machine's copy of the shared trail before the record is fetched (the log first, the
//! record second), exactly as [`crate::audit::SharedLog`] reads it; the member list only decides
//! which group key the trail is opened with, and is checked as [`Keychain::members`] checks it.

use crate::error::Result;
use crate::store::RawRecord;
use crate::trail;

use super::Keychain;

impl Keychain {
    /// The logged write counter of `name`, then the record as stored.
    pub(super) fn logged_then_read(&self, name: &str) -> Result<(Option<u64>, Option<RawRecord>)> {
        let first_in_process = self.trail_in_store()
            && self.counters.get().is_none()
            && self.shared_log.get().is_none()
            && self.members.borrow().is_none();
        if !first_in_process {
            let logged = self.logged_counter(name)?;
            return Ok((logged, self.store.read(name)?));
        }
        let logged =
            crate::audit::copy_last_counter(&self.dir, name).map_err(trail::audit_error)?;
        let shared = self.shared().expect("a shared trail has a member list");
        let identity = self.identity()?;
        let store = &*self.store;
        let (opened, raw) = std::thread::scope(|s| {
            let record = s.spawn(|| store.read(name));
            let opened = shared.open_if_any(identity);
            (opened, record.join())
        });
        let raw = raw.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        // A list that does not check is left for `members()` to report, as before.
        if let Ok(Some(opened)) = opened {
            *self.members.borrow_mut() = Some(opened);
        }
        // The trail as the sequential path builds it (and what it does when built).
        self.trail()?;
        Ok((logged, raw))
    }
}
