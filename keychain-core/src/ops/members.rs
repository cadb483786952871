//! `member add|join|list|rm`: the members of a shared keychain. The protocol (the member list,
//! the group keys, the join code, sealing every record again) is `crate::members`'s, and each
//! change is already one function there (`members::change`); these are the operations a
//! command calls, with their options.

use crate::error::Result;
use crate::keychain::Keychain;

pub use crate::members::change::Change;
pub use crate::members::{Accepted, Member};

/// A machine to add.
#[derive(Debug, Clone)]
pub struct AddOptions {
    /// Its age public key (age1...).
    pub recipient: String,
    /// A name for it; `None` for the start of its public key.
    pub name: Option<String>,
}

/// Adds a member and seals every record to it too; the change carries the join code.
pub fn add(kc: &Keychain, options: &AddOptions) -> Result<Change> {
    crate::members::change::add(kc, &options.recipient, options.name.as_deref())
}

/// On a machine that joined: checks the store against the join code and trusts only that.
pub fn join(kc: &Keychain, code: &str) -> Result<Accepted> {
    crate::members::change::join(kc, code)
}

/// The members; empty when the keychain has no member list.
pub fn list(kc: &Keychain) -> Result<Vec<Member>> {
    crate::members::change::list(kc)
}

/// Removes the member named `name`: a new group key, every record sealed again without it.
pub fn remove(kc: &Keychain, name: &str) -> Result<Change> {
    crate::members::change::remove(kc, name)
}
