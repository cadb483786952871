//! The token cache: when a stored access token may be served as it is, and the stored times a
//! rule counts from, pulled back when they lie in the future.

use crate::record::{Account, Header, SecretField};

use super::{Source, Token};

/// The cached token of `account` when it stays valid for more than `min_valid` seconds.
///
/// Valid iff `issued <= now < issued + lifetime` (less the margin), where the lifetime is what
/// the provider granted (`expires - issued`): a clock that moved back past the issue time makes
/// the token expired, never "valid for longer than granted". A token without an issue time
/// (written by hand or by a keychain from before it was kept) has only its expiry to go by.
pub(super) fn cached(account: &Account, now: i64, min_valid: i64) -> Option<Token> {
    let token = account.secret(SecretField::AccessToken)?;
    let expires = account.header.access_token_expires?;
    let (issued, left) = match account.header.access_token_issued {
        Some(issued) => {
            let lifetime = expires.saturating_sub(issued);
            (issued, lifetime.saturating_sub(now.saturating_sub(issued)))
        }
        None => (i64::MIN, expires.saturating_sub(now)),
    };
    (issued <= now && left > min_valid).then(|| Token {
        access_token: token.clone(),
        token_type: account
            .header
            .access_token_type
            .clone()
            .unwrap_or_else(|| "Bearer".into()),
        expires_at: Some(expires),
        scope: account.header.access_token_scope.clone(),
        source: Source::Cache,
    })
}

/// Moves the times a rule counts from (the last token's issue, the recorded provider errors)
/// back to `now` where they lie after it; says whether anything changed.
pub(super) fn pull_back_future_times(h: &mut Header, now: i64) -> bool {
    let mut changed = false;
    if h.access_token_issued.is_some_and(|t| t > now) {
        h.access_token_issued = Some(now);
        // When it was really issued cannot be known: the token counts as expired.
        h.access_token_expires = h.access_token_expires.map(|e| e.min(now));
        changed = true;
    }
    for t in h.provider_errors.iter_mut().filter(|t| **t > now) {
        *t = now;
        changed = true;
    }
    changed
}
