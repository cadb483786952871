//! The last used TOTP time step of each **secret**, not of each record: one person's
//! authenticator at the provider is often behind several accounts (test and production, several
//! divisions or client ids), and a provider that follows RFC 6238 §5.2 (Exact Online, Azure AD
//! B2C) accepts each code once for that person, whichever account sends it.
//!
//! A secret is known here only by a keyed fingerprint: HMAC-SHA256 of its seed under a key
//! derived from the group key all members of a shared keychain hold (or, without a member list,
//! from this keychain's identity). The store learns that some secret logged on at some step,
//! never which secret, and cannot link it to anything outside the keychain.
//!
//! The step lives in the keychain's key-value space: the OpenBao KV entry `PREFIX/totp-steps/FP`
//! next to the records of a shared keychain, or a file in `totp-steps/` of the keychain folder
//! (`LocalKv`: atomic writes, check-and-set). The secret's lock (`totp.FP` in the store's lock
//! space, a file lock or an OpenBao lease) is held from the moment the step is chosen until the
//! provider has answered the code: two accounts of one secret that log on at once, in one
//! process, in several, or on several machines, go one after the other and each sends a code of
//! a fresh step, in the order of their steps.
#![deny(missing_docs)]

use std::fmt::Write as _;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::store::kv::{Kv, KvExpect, LocalKv};
use crate::store::{AccountLock, StoreError};
use crate::totp::TotpSecret;

/// The local space's folder inside the keychain folder, and the key prefix in a shared one.
pub const DIR: &str = "totp-steps";
const KEY_LABEL: &[u8] = b"keychain totp step key v1";
const FINGERPRINT_LABEL: &[u8] = b"keychain totp step fingerprint v1";
/// Hex digits of the fingerprint kept in names (128 bits).
const FINGERPRINT_HEX: usize = 32;

/// What is stored per secret: the last step used, the period it was counted in, and when (by
/// the writer's clock) it was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    step: u64,
    period: u64,
    at: i64,
}

/// The secret's lock and its stored step, for one logon.
pub struct SecretSteps {
    kv: Arc<dyn Kv>,
    key: String,
    lock: Box<dyn AccountLock>,
    version: Option<u64>,
}

impl std::fmt::Debug for SecretSteps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSteps")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The keyed fingerprint of `totp`'s seed in this keychain, as hex.
pub fn fingerprint(kc: &Keychain, totp: &TotpSecret) -> Result<String> {
    let key: [u8; 32] = match kc.members()? {
        // Every member holds the group key: every machine computes the same fingerprint.
        Some(opened) => derive(opened.key.audit_secret().expose_secret(), KEY_LABEL),
        None => derive(
            kc.identity()?.to_string().expose_secret().as_bytes(),
            KEY_LABEL,
        ),
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(FINGERPRINT_LABEL);
    mac.update(totp.secret_base32().expose_secret().as_bytes());
    let mut hex = String::with_capacity(FINGERPRINT_HEX);
    for b in &mac.finalize().into_bytes()[..FINGERPRINT_HEX / 2] {
        let _ = write!(hex, "{b:02x}");
    }
    Ok(hex)
}

fn derive(key: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl SecretSteps {
    /// Takes the lock of `totp`'s secret (waiting as for an account's lock, up to the lock
    /// timeout) and opens where its step is kept.
    pub fn lock(kc: &Keychain, totp: &TotpSecret) -> Result<SecretSteps> {
        let fp = fingerprint(kc, totp)?;
        let (kv, key): (Arc<dyn Kv>, String) = match kc.store().shared_space() {
            Some(kv) => (kv, format!("{DIR}/{fp}")),
            None => (Arc::new(LocalKv::open(&kc.dir.join(DIR))?), fp.clone()),
        };
        let lock = {
            let _waiting = crate::progress::waiting(
                "waiting for another logon with the same TOTP secret (another account or process)",
            );
            kc.store()
                .lock(&format!("totp.{fp}"), kc.settings().lock_timeout)
                .map_err(|e| match e {
                    // The lock's name means nothing to a person: say whose it is.
                    StoreError::LockTimeout { waited, .. } => Error::Unavailable {
                        what: format!(
                            "another logon with the same TOTP secret (another account, process or machine) kept it for {}; nothing was sent",
                            crate::text::duration(waited)
                        ),
                        retry: Some("later, or with a longer --lock-timeout".into()),
                        cause: None,
                    },
                    e => e.into(),
                })?
        };
        Ok(SecretSteps {
            kv,
            key,
            lock,
            version: None,
        })
    }

    /// The last step used with this secret, counted in `totp`'s period, read afresh (under the
    /// lock, so nobody changes it until this logon is done), and believed only up to
    /// `bound` seconds past when it was written or past `local`, whichever is earlier: a step
    /// recorded ahead (a provider's clock followed, or our clock set back since) blocks for
    /// at most that long, never for good.
    pub fn last_used(&mut self, totp: &TotpSecret, local: u64, bound: u64) -> Result<Option<u64>> {
        let Some(found) = self.kv.get(&self.key)? else {
            self.version = None;
            return Ok(None);
        };
        let stored: Stored = serde_json::from_slice(&found.bytes)
            .ok()
            .filter(|s: &Stored| s.period > 0)
            .ok_or_else(|| Error::Integrity {
                path: self.kv.location(&self.key).into(),
                reason: "not a TOTP step keychain wrote (left as it is; remove it to start afresh)"
                    .into(),
            })?;
        self.version = Some(found.version);
        let step = if stored.period == totp.period {
            stored.step
        } else {
            // Another period for the same seed (two records that disagree): the step holding
            // the last second of the one used.
            let last_second = stored
                .step
                .saturating_add(1)
                .saturating_mul(stored.period)
                .saturating_sub(1);
            last_second / totp.period
        };
        let written = u64::try_from(stored.at).unwrap_or(0).min(local);
        Ok(Some(step.min(totp.step_at(written.saturating_add(bound)))))
    }

    /// Records `step` as used, before its code leaves the process.
    pub fn record(&mut self, step: u64, period: u64, at: i64) -> Result<()> {
        self.lock.still_held()?;
        let bytes = serde_json::to_vec(&Stored { step, period, at }).expect("plain numbers");
        let expect = match self.version {
            Some(v) => KvExpect::At(v),
            None => KvExpect::Absent,
        };
        self.version = Some(self.kv.put(&self.key, &bytes, expect)?);
        Ok(())
    }
}
