//! The keychain's own findings: whether the key store answers (never prompting), whether and
//! until when the keychain is unlocked, and whether the audit log takes events.

use crate::clock;
use crate::error::Error;
use crate::keychain::Keychain;
use crate::keystore::KeyStoreKind;

use super::{Finding, KeyStoreState, Severity, is_unreachable};

/// An unlock that ends within this many seconds is a warning: a daily job may run after it.
const UNLOCK_WARN_SECONDS: i64 = 24 * 3600;

/// A login refuses to hand out a token it cannot record: a log that does not take events now
/// stops every job.
pub(super) fn audit_log_findings(kc: &Keychain, out: &mut Vec<Finding>) {
    if let Err(e) = kc.check_audit() {
        // A shared trail needs the key: a key store that does not answer is its own finding.
        if matches!(e, Error::KeyStore(_)) {
            return;
        }
        let severity = if is_unreachable(&e) {
            Severity::Unknown
        } else {
            Severity::Critical
        };
        out.push(Finding::new(
            severity,
            "audit-log",
            None,
            match e.hint() {
                Some(hint) => format!("logins are refused: {e} ({hint})"),
                None => format!("logins are refused: {e}"),
            },
        ));
    }
}

/// Asks the configured store itself (not the unlock cache), never prompting: a passphrase store
/// is asked only when a job's passphrase file is there.
pub(super) fn ask_key_store(kc: &Keychain) -> KeyStoreState {
    let kind = kc.config.key_store;
    // The job's own way in, when it needs no KDF to tell (the service's identity credential,
    // the key derived from this very passphrase file): the answer without scrypt's cost.
    if let Some(result) = crate::keystore::answers_without_kdf(&kc.dir, &kc.config, kc.settings()) {
        return KeyStoreState {
            kind,
            answers: Some(result.is_ok()),
            error: result.err().map(|e| e.to_string()),
        };
    }
    if kind == KeyStoreKind::Passphrase && kc.settings().passphrase_file.is_none() {
        return KeyStoreState {
            kind,
            answers: None,
            error: None,
        };
    }
    let result = crate::keystore::for_kind(kind, &kc.dir, kc.settings())
        .load()
        .and_then(|identity| {
            if identity.to_public().to_string() == kc.config.recipient {
                Ok(())
            } else {
                Err(crate::keystore::KeyStoreError::WrongIdentity { store: kind })
            }
        });
    KeyStoreState {
        kind,
        answers: Some(result.is_ok()),
        error: result.err().map(|e| e.to_string()),
    }
}

/// When the `unlock` cache ends: `Some(None)` unlocked with an unknown end (an older cache),
/// `None` not unlocked.
pub(super) fn unlocked_until(kc: &Keychain) -> Option<Option<i64>> {
    #[cfg(target_os = "linux")]
    {
        crate::keystore::kernel::cached_with_expiry(&kc.dir)
            .ok()
            .flatten()
            .filter(|c| c.identity.to_public().to_string() == kc.config.recipient)
            .map(|c| c.expires)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = kc;
        None
    }
}

pub(super) fn keychain_findings(
    store: &KeyStoreState,
    unlocked: Option<Option<i64>>,
    now: i64,
    out: &mut Vec<Finding>,
) {
    let finding = |severity, code, message| Finding::new(severity, code, None, message);
    let store_works = store.answers == Some(true);
    match (store_works, unlocked) {
        (true, _) => {}
        (false, None) => out.push(finding(
            Severity::Critical,
            "key-store-unavailable",
            match (&store.answers, &store.error) {
                (None, _) => "locked: the passphrase store needs a passphrase and none is given to jobs; run 'keychain unlock', or give jobs KEYCHAIN_PASSPHRASE_FILE (or the systemd credential keychain-passphrase)".to_string(),
                (_, Some(e)) => format!("the {} key store does not answer and the keychain is not unlocked: {e}", store.kind),
                _ => format!("the {} key store does not answer", store.kind),
            },
        )),
        (false, Some(until)) => {
            let ends_soon = until.is_none_or(|t| t.saturating_sub(now) < UNLOCK_WARN_SECONDS);
            if ends_soon {
                out.push(finding(
                    Severity::High,
                    "unlock-ends",
                    format!(
                        "jobs work only while unlocked, which ends {}; the {} key store cannot answer them after that",
                        until.map_or("at an unknown time".to_string(), |t| format!("at {}", clock::rfc3339(t))),
                        store.kind
                    ),
                ));
            }
        }
    }
}
