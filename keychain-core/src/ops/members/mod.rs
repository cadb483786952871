//! `member add|join|list|rm`: the members of a shared keychain. The model (the member list, the
//! group keys, the join code, record authentication) is `crate::members`'s, below the keychain
//! that opens records with it; changing the members goes through the keychain (every record
//! sealed again, each in its own transaction), so it is an operation: [`change`].

use crate::error::Result;
use crate::keychain::Keychain;

pub mod change;

pub use crate::members::{Accepted, Member};
pub use change::Change;

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
    change::add(kc, &options.recipient, options.name.as_deref())
}

/// On a machine that joined: checks the store against the join code and trusts only that.
pub fn join(kc: &Keychain, code: &str) -> Result<Accepted> {
    change::join(kc, code)
}

/// The members; empty when the keychain has no member list.
pub fn list(kc: &Keychain) -> Result<Vec<Member>> {
    change::list(kc)
}

/// Removes the member named `name`: a new group key, every record sealed again without it.
pub fn remove(kc: &Keychain, name: &str) -> Result<Change> {
    change::remove(kc, name)
}
