//! A shared (OpenBao) keychain's two shortcuts around the locked path: the fast path that serves
//! a cached token from this machine's authenticated copy of the record, and the read-only
//! fallback when the shared store is down or sealed.

use crate::audit::Action;
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::keychain::Keychain;

use super::cache::cached;
use super::{Options, Token};

/// The shared store cannot be reached or is sealed, whether the record's read or the shared
/// trail's sync before it (the counter a record is compared with) found out first.
pub(super) fn store_unavailable(e: &Error) -> bool {
    match e {
        Error::Store(crate::store::StoreError::Bao(e)) => e.is_unavailable(),
        Error::Audit {
            source: crate::audit::AuditError::Store { code, .. },
            ..
        } => *code == crate::exit::UNAVAILABLE,
        _ => false,
    }
}

/// A shared keychain's fast path: the token from this machine's authenticated copy of the
/// record, once the `login` event is in the shared trail right after this machine's copy of it
/// (one write and the witness read; see `keychain::fast_login` for why that is safe). `None`:
/// take the ordinary path.
pub(super) fn from_copy(kc: &Keychain, name: &str, opts: &Options) -> Option<Token> {
    let event = Event::new("login", Action::LoginCache).account(name);
    kc.serve_from_copy(name, &event, |account| {
        if account.header.moved_to.is_some() {
            return None;
        }
        let (now, margin) = super::cache::for_copy(kc);
        cached(account, now, opts.min_valid.saturating_add(margin))
    })
}

/// The shared store is down or sealed (`e`, from the record's read): a token still valid for
/// the margin may come from the local read-only copy; nothing else is done (no refresh, no
/// logon, no write).
pub(super) fn offline(kc: &Keychain, name: &str, opts: &Options, e: Error) -> Result<Token> {
    let now = super::cache::now(kc);
    let token = kc
        .read_last_seen(name)
        .filter(|account| account.header.moved_to.is_none())
        .and_then(|account| cached(&account, now, opts.min_valid));
    match token {
        Some(token) => {
            // The shared trail is in the store that is down: this machine's log.
            kc.log_event_offline(Event::new("login", Action::LoginCache).account(name))?;
            Ok(token)
        }
        None => Err(e),
    }
}
