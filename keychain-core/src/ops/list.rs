//! `list`: the accounts from their public headers, without the key; never a secret. The work
//! is [`Keychain::list`]; this is its entry point among the operations. Which names a pattern
//! matches is the front end's (a shell-style glob on the command line), passed as `wanted`.

use crate::error::Result;
use crate::keychain::{AccountList, Keychain};

/// The headers of the accounts whose name `wanted` accepts; an unreadable record is set aside
/// in [`AccountList::unreadable`], an entry that is not a record in [`AccountList::strays`].
///
/// A shared keychain's headers come with their token times on this machine's clock, as `status`
/// shows them (see [`crate::record::Header::token_times_on_our_clock`]).
pub fn list(kc: &Keychain, wanted: impl Fn(&str) -> bool) -> Result<AccountList> {
    let mut list = kc.list(wanted)?;
    let records = kc.records_clock();
    if records.store_clock {
        for header in &mut list.headers {
            *header = header.token_times_on_our_clock(&records);
        }
    }
    Ok(list)
}
