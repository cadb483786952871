//! A lock across machines, on KV v2 itself (OpenBao has no lock API): a lease.
//!
//! The lock of account NAME is the key `PREFIX/locks/NAME`, whose `delete_version_after` is the
//! lease time, so that each of its versions reads as deleted once the lease has passed **on the
//! server's clock** (machines' clocks need not agree). See ../shared/openbao/README.md.
//!
//! - Acquire: read the key; while a version is readable someone holds it (poll with backoff up
//!   to the lock timeout); otherwise write with `cas` = the current (deleted or expired) version.
//!   Only one writer can win that; the version it gets is ours.
//! - Renew: a background thread writes again with `cas` = our version, every third of the lease.
//! - Release: delete our version only (never the key: a successor's version would go with it).
//! - Stop acting in time: `still_held` is asked before every change and before a refresh.
//!   It counts on the monotonic clock from the moment *before* the last successful write of
//!   the lock (the server's lease began after it), less a margin for a write still on its way.
//!   A holder that lost the lease (a conflict on renewal: someone else holds it) knows at once.
//!   The one write tried past that point is the write-back of a refresh token the provider
//!   already rotated (losing it is certain harm; check-and-set still refuses it if a successor
//!   wrote).
//!
//! None of this replaces check-and-set on the records: a holder that stopped (SIGSTOP, a VM
//! paused) can wake up past its lease; its record write still fails on the version it read.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::client::{BaoError, KvClient, REQUEST_TIMEOUT};
use crate::store::AccountLock;

/// The lease unless `KEYCHAIN_OPENBAO_LEASE` (seconds) says otherwise: long enough for a
/// headless logon between two renewals, short enough that a dead holder is taken over soon.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// Shortest lease accepted.
pub const MIN_LEASE: Duration = Duration::from_secs(2);
/// Longest lease accepted: a dead holder keeps others out for at most this long.
pub const MAX_LEASE: Duration = Duration::from_secs(3600);

/// The lease for new lock keys (`--openbao-lease`, `KEYCHAIN_OPENBAO_LEASE`) in seconds, else
/// [`DEFAULT_LEASE`]. Every machine of a keychain should use the same value; a lock key keeps
/// the lease it was created with, and holders follow the key's (see [`acquire`]).
pub fn lease_from_env(value: Option<&str>) -> Result<Duration, String> {
    let Some(text) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(DEFAULT_LEASE);
    };
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= MIN_LEASE.as_secs_f64() && s <= MAX_LEASE.as_secs_f64() => {
            Ok(Duration::from_secs_f64(s))
        }
        _ => Err(format!(
            "--openbao-lease/KEYCHAIN_OPENBAO_LEASE '{}' is not a number of seconds from {} to {}",
            text.escape_debug(),
            MIN_LEASE.as_secs(),
            MAX_LEASE.as_secs()
        )),
    }
}

/// How long before the lease's end a holder stops writing: a write may take up to the request
/// timeout to reach the server, plus a twentieth for clocks that run at slightly different
/// rates; never more than half the lease (short leases are for tests).
pub fn margin(lease: Duration) -> Duration {
    (REQUEST_TIMEOUT + lease / 20).min(lease / 2)
}

/// Where a lock key lives and how long its lease is.
#[derive(Clone)]
pub struct LockKey {
    /// The client of the keychain's OpenBao.
    pub client: KvClient,
    /// The KV v2 mount.
    pub mount: String,
    /// `PREFIX/locks/NAME`
    pub path: String,
    /// The account the lock is for.
    pub account: String,
}

/// The lease as held; shared with the renewing thread.
struct Held {
    version: u64,
    /// The monotonic time just before the write that last extended the lease.
    extended_at: Instant,
    /// Set when a renewal found another holder: the lease is gone for sure.
    lost: bool,
}

/// A held lease; renewed in the background, released (our version deleted) on drop.
pub struct LeaseLock {
    key: LockKey,
    lease: Duration,
    held: Arc<Mutex<Held>>,
    stop: Option<mpsc::Sender<()>>,
    renewer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LeaseLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseLock")
            .field("path", &self.key.path)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// Why a lock could not be had.
#[derive(Debug)]
pub enum AcquireError {
    /// Someone else held it for the whole `timeout`: who, as its lock version says.
    TimedOut(Option<crate::lockfile::Holder>),
    /// OpenBao failed while the lock was being taken (unreachable, sealed, forbidden).
    Bao(BaoError),
}

impl From<BaoError> for AcquireError {
    fn from(e: BaoError) -> Self {
        AcquireError::Bao(e)
    }
}

/// Takes the lock at `key`, waiting at most `timeout`. `lease` is used when the key is new;
/// an existing key keeps its own (so all machines agree on it).
pub fn acquire(
    key: LockKey,
    lease: Duration,
    timeout: Duration,
) -> Result<LeaseLock, AcquireError> {
    let lease = key_lease(&key, lease)?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    let mut waiting = None;
    let since = crate::clock::unix_seconds(std::time::SystemTime::now());
    loop {
        let entry = key.client.read(&key.mount, &key.path)?;
        if entry.data.is_none() {
            let before = Instant::now();
            match key
                .client
                .write(&key.mount, &key.path, owner(since), entry.version)
            {
                Ok(version) => return Ok(LeaseLock::start(key, lease, version, before, since)),
                // Another machine took it between our read and our write.
                Err(BaoError::CasConflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let holder = entry.data.as_ref().and_then(holder_of);
        if waiting.is_none() {
            let by = holder
                .as_ref()
                .map_or_else(String::new, |h| format!(" ({h})"));
            waiting = Some(crate::progress::waiting(&format!(
                "waiting for account '{}': another keychain process{by} is using it",
                key.account
            )));
        }
        if start.elapsed() >= timeout {
            return Err(AcquireError::TimedOut(holder));
        }
        // A refresh takes tens of milliseconds, a headless logon seconds: short pauses first.
        std::thread::sleep(pause.min(timeout.saturating_sub(start.elapsed())));
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// The key's lease (its `delete_version_after`); a new key gets `lease`.
fn key_lease(key: &LockKey, lease: Duration) -> Result<Duration, BaoError> {
    match key.client.delete_version_after(&key.mount, &key.path)? {
        Some(existing) if existing >= MIN_LEASE => Ok(existing),
        // No key yet, or one without a lease (someone made it by hand): give it ours. Without
        // a lease a dead holder's lock would never expire.
        _ => {
            key.client
                .set_delete_version_after(&key.mount, &key.path, lease)?;
            Ok(lease)
        }
    }
}

/// What a lock version holds: who took it and when (Unix seconds, its clock), for a person
/// looking at the store and for a waiter's message.
fn owner(since: i64) -> Map<String, Value> {
    let host = crate::host::host_name();
    json!({ "host": host, "pid": std::process::id(), "since": since })
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// The holder a lock version names (written by [`owner`]); `None` for anything else.
fn holder_of(data: &Map<String, Value>) -> Option<crate::lockfile::Holder> {
    Some(crate::lockfile::Holder {
        pid: u32::try_from(data.get("pid")?.as_u64()?).ok()?,
        host: data.get("host").and_then(Value::as_str).map(str::to_string),
        since: data.get("since").and_then(Value::as_i64),
    })
}

impl LeaseLock {
    fn start(key: LockKey, lease: Duration, version: u64, at: Instant, since: i64) -> LeaseLock {
        let held = Arc::new(Mutex::new(Held {
            version,
            extended_at: at,
            lost: false,
        }));
        let (stop, stopped) = mpsc::channel();
        let renewer = {
            let key = key.clone();
            let held = Arc::clone(&held);
            std::thread::Builder::new()
                .name("lease-renewer".into())
                .spawn(move || renew_until_stopped(&key, lease, since, &held, &stopped))
                .ok()
        };
        LeaseLock {
            key,
            lease,
            held,
            stop: Some(stop),
            renewer,
        }
    }

    /// The lease time this lock runs on.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The version of the lock key we hold: a fencing token.
    pub fn version(&self) -> u64 {
        lock(&self.held).version
    }

    /// `Ok` while the lease surely lasts for one more write; the error otherwise.
    pub fn check(&self) -> Result<(), BaoError> {
        let held = lock(&self.held);
        let deadline = held.extended_at + self.lease.saturating_sub(margin(self.lease));
        if held.lost || Instant::now() >= deadline {
            return Err(BaoError::LeaseLost {
                addr: self.key.client.addr().to_string(),
                account: self.key.account.clone(),
            });
        }
        Ok(())
    }
}

fn lock(held: &Mutex<Held>) -> std::sync::MutexGuard<'_, Held> {
    held.lock().unwrap_or_else(|p| p.into_inner())
}

/// Renews every third of the lease until told to stop, the lease is lost, or it has run out.
/// A failed renewal (server unreachable) is tried again at the next tick; the holder's own
/// check stops it from writing once the lease may have passed.
fn renew_until_stopped(
    key: &LockKey,
    lease: Duration,
    since: i64,
    held: &Mutex<Held>,
    stop: &mpsc::Receiver<()>,
) {
    let every = lease / 3;
    loop {
        match stop.recv_timeout(every) {
            Err(RecvTimeoutError::Timeout) => {}
            // Told to stop, or the lock was dropped.
            _ => return,
        }
        let version = lock(held).version;
        let before = Instant::now();
        match key
            .client
            .write(&key.mount, &key.path, owner(since), version)
        {
            Ok(new) => {
                let mut h = lock(held);
                h.version = new;
                h.extended_at = before;
            }
            Err(BaoError::CasConflict { .. }) => {
                lock(held).lost = true;
                return;
            }
            Err(_) => {
                if before >= lock(held).extended_at + lease {
                    lock(held).lost = true;
                    return;
                }
            }
        }
    }
}

impl AccountLock for LeaseLock {
    fn account(&self) -> &str {
        &self.key.account
    }

    fn still_held(&self) -> Result<(), crate::store::StoreError> {
        self.check().map_err(Into::into)
    }
}

impl Drop for LeaseLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
        let held = lock(&self.held);
        if !held.lost {
            // Only our version: if the lease ran out and another holder wrote a newer one,
            // that one stays. A failure leaves the lease to expire on its own.
            let _ =
                self.key
                    .client
                    .delete_versions(&self.key.mount, &self.key.path, &[held.version]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_leaves_room_for_a_write_on_its_way_but_never_half_the_lease() {
        assert_eq!(
            margin(Duration::from_secs(30)),
            REQUEST_TIMEOUT + Duration::from_millis(1500)
        );
        assert_eq!(margin(Duration::from_secs(4)), Duration::from_secs(2));
    }

    #[test]
    fn lease_is_validated_at_the_edge() {
        assert_eq!(lease_from_env(None).unwrap(), DEFAULT_LEASE);
        assert_eq!(lease_from_env(Some("4")).unwrap(), Duration::from_secs(4));
        for bad in ["1", "3601", "x", "NaN", "-5"] {
            assert!(lease_from_env(Some(bad)).is_err(), "{bad}");
        }
    }
}
