//! The token cache: when a stored access token may be served as it is, the clock its times are
//! read on, and the stored times a rule counts from, pulled back when they lie in the future.
//!
//! A shared keychain's token times are in the shared store's time, not the writer's (see
//! `clock::reference`): every member reads them on the same clock, whatever its own says.

use crate::clock::reference::{self, Now};
use crate::keychain::Keychain;
use crate::record::{Account, Header, SecretField};

use super::{Source, Token};

/// How far a stamped issue time may lie after a reading of the same instant on the store's
/// clock: the stamp is the latest the writer's reading allowed (for Exact's 570 s), and one
/// reading's spread is the `Date` second plus a round trip of at most the store's request
/// timeout (5 s).
pub(super) const STAMP_SPREAD: i64 = 10;

/// The time the token rules of `kc` read: on a shared keychain the store's clock, as measured on
/// this process's last answer from it; else (or before any answer) this machine's clock.
/// Before any answer from the store our clock stands in for its: the records are still stamped
/// on the store's clock (a stamp up to `STAMP_SPREAD` ahead is no clock gone wrong).
pub(super) fn now(kc: &Keychain) -> Now {
    kc.records_clock()
}

/// The time a shared keychain's fast path judges this machine's copy of a record at, and the
/// margin it adds to `--min-valid`: the store's clock once this process has heard it (no extra
/// margin); before that (the fast path decides while its first call to the store is still under
/// way) this machine's own clock with [`reference::MAX_OFFSET`] more margin, so that a member
/// whose clock is behind the store's by up to the offset keychain follows never serves a token
/// past its end (and a member ahead only gives up early, to the locked path).
pub(super) fn for_copy(kc: &Keychain) -> (Now, i64) {
    match reference::last() {
        Some(offset) => (Now::at(kc.clock().now(), Some(offset)), 0),
        None => {
            let mut now = Now::at(kc.clock().now(), None);
            now.store_clock = true;
            (now, reference::MAX_OFFSET)
        }
    }
}

/// Stamps a new token's times at `now`: issued at the latest `now` can be (Exact's 570 s is
/// never counted short), expiring `expires_in` after the earliest (never served past its end).
/// Returns the expiry.
pub(super) fn stamp_issue(h: &mut Header, now: Now, expires_in: Option<u64>) -> Option<i64> {
    // Clamped where it entered (`oauth::MAX_EXPIRES_IN`); saturating all the same.
    let expires = expires_in.map(|s| {
        now.earliest
            .saturating_add(i64::try_from(s).unwrap_or(i64::MAX))
    });
    h.access_token_expires = expires;
    h.access_token_issued = Some(now.latest);
    expires
}

/// The cached token of `account` when it stays valid for more than `min_valid` seconds at the
/// latest `now` can be.
///
/// Valid iff `issued <= now < issued + lifetime` (less the margin), where the lifetime is what
/// the provider granted (`expires - issued`): a clock that moved back past the issue time makes
/// the token expired, never "valid for longer than granted". On the store's clock an issue time
/// may lie up to [`STAMP_SPREAD`] after `now` (it was stamped at the latest its reading
/// allowed); its expiry was stamped at the earliest. A token without an issue time (written by
/// hand or by a keychain from before it was kept) has only its expiry to go by.
pub(super) fn cached(account: &Account, now: Now, min_valid: i64) -> Option<Token> {
    let token = account.secret(SecretField::AccessToken)?;
    let expires = account.header.access_token_expires?;
    let at = now.latest;
    let spread = if now.store_clock { STAMP_SPREAD } else { 0 };
    let issued = account.header.access_token_issued.unwrap_or(i64::MIN);
    let left = expires.saturating_sub(at);
    (issued <= at.saturating_add(spread) && left > min_valid).then(|| Token {
        access_token: token.clone(),
        token_type: account
            .header
            .access_token_type
            .clone()
            .unwrap_or_else(|| "Bearer".into()),
        expires_at: Some(now.to_local(expires)),
        scope: account.header.access_token_scope.clone(),
        source: Source::Cache,
    })
}

/// Moves the times a rule counts from (the last token's issue, the recorded provider errors)
/// back to the latest `now` where they lie after it (beyond a stamp's spread on the store's
/// clock); says whether anything changed.
pub(super) fn pull_back_future_times(h: &mut Header, now: Now) -> bool {
    let latest = now.latest;
    let future = latest.saturating_add(if now.store_clock { STAMP_SPREAD } else { 0 });
    let mut changed = false;
    if h.access_token_issued.is_some_and(|t| t > future) {
        h.access_token_issued = Some(latest);
        // When it was really issued cannot be known: the token counts as expired.
        h.access_token_expires = h.access_token_expires.map(|e| e.min(latest));
        changed = true;
    }
    for t in h.provider_errors.iter_mut().filter(|t| **t > future) {
        *t = latest;
        changed = true;
    }
    changed
}
