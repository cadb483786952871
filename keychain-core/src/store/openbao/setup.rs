//! What `keychain init --store openbao` checks and sets on the server before it creates a
//! keychain: that the prefix can be read with this machine's credentials (so a typo in the
//! address, mount or policy fails before an identity is made), and `cas_required` on the mount.

use super::client::{BaoError, KvClient};
use super::settings::OpenBaoSettings;

/// What became of `cas_required` on the mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CasRequired {
    /// It was already on.
    AlreadyOn,
    /// init turned it on.
    TurnedOn,
    /// It is off and could not be turned on, for this reason; keychain still sends a
    /// check-and-set with every write, but other writers of the mount might not.
    CannotSet(String),
}

/// Checks that the store in `settings` answers and can be listed, and makes the mount require
/// check-and-set where the token is allowed to.
pub fn prepare(settings: &OpenBaoSettings) -> Result<CasRequired, BaoError> {
    let client = KvClient::new(settings)?;
    // Reaches the server, authenticates, and proves the policy allows listing the records.
    client.list(&settings.mount, &format!("{}/records", settings.path))?;
    let current = match client.cas_required(&settings.mount) {
        Ok(on) => on,
        Err(BaoError::Forbidden { .. }) => false,
        Err(e) => return Err(e),
    };
    if current {
        return Ok(CasRequired::AlreadyOn);
    }
    match client.require_cas(&settings.mount) {
        Ok(()) => Ok(CasRequired::TurnedOn),
        Err(e @ BaoError::Forbidden { .. }) => Ok(CasRequired::CannotSet(e.to_string())),
        Err(e) => Err(e),
    }
}
