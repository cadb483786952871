//! What `keychain init --store openbao` checks and sets on the server before it creates a
//! keychain: that the prefix can be read with this machine's credentials (so a typo in the
//! address, mount or policy fails before an identity is made), that the token may look itself
//! up (which keychain needs to tell a dead token from a missing capability) and whether it
//! carries OpenBao's `default` policy, and `cas_required` on the mount.

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

/// What `init` learnt of the server before creating anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// What became of `cas_required` on the mount.
    pub cas: CasRequired,
    /// The token carries OpenBao's `default` policy. keychain needs none of it but
    /// `auth/token/lookup-self`, and it is templated: OpenBao parses it again on every request
    /// with the token (a third of its CPU per cached login, `docs/speed.md`).
    pub default_policy: bool,
}

/// Checks that the store in `settings` answers, can be listed and lets the token look itself
/// up, and makes the mount require check-and-set where the token is allowed to.
pub fn prepare(settings: &OpenBaoSettings) -> Result<Prepared, BaoError> {
    let client = KvClient::new(settings)?;
    // Reaches the server, authenticates, and proves the policy allows listing the records.
    client.list(&settings.mount, &format!("{}/records", settings.path))?;
    // After a call the token passed: a 403 here is the policy, not a dead token.
    let default_policy = client.token_policies()?.iter().any(|p| p == "default");
    let cas = ensure_cas_required(&client, settings)?;
    Ok(Prepared {
        cas,
        default_policy,
    })
}

/// Turns `cas_required` on where it is off and the token may change the mount.
fn ensure_cas_required(
    client: &KvClient,
    settings: &OpenBaoSettings,
) -> Result<CasRequired, BaoError> {
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
