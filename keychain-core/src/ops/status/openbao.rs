//! What `status` says of this machine's OpenBao token on a shared keychain: one that may not
//! look itself up (a refused call can then not be told from a dead token), and one that carries
//! OpenBao's `default` policy (more than keychain needs, and a policy parse per request).

use crate::keychain::Keychain;
use crate::store::StoreKind;
use crate::store::openbao::{BaoError, KvClient};

use super::{Finding, Severity};

/// The advice both findings end in.
const FIX: &str = "ask an operator to grant 'read' on auth/token/lookup-self in the keychain's policy and to set token_no_default_policy=true on this machine's role (docs/shared-keychain.md)";

/// Asks OpenBao what this machine's token is (one `auth/token/lookup-self`), only on a shared
/// keychain whose store answered the listing: the token just worked, so a 403 here is the
/// policy's, not a dead token's.
pub(super) fn token_findings(kc: &Keychain, out: &mut Vec<Finding>) {
    let StoreKind::Openbao(settings) = &kc.config.store else {
        return;
    };
    let policies = KvClient::new(settings).and_then(|client| client.token_policies());
    match policies {
        Ok(policies) if policies.iter().any(|p| p == "default") => out.push(Finding::new(
            Severity::Low,
            "openbao-default-policy",
            None,
            format!(
                "this machine's OpenBao token carries the 'default' policy: keychain needs none of it but auth/token/lookup-self, it grants more (cubbyhole, response wrapping, ...), and OpenBao parses it again on every request; {FIX}"
            ),
        )),
        Ok(_) => {}
        Err(BaoError::Forbidden { .. }) => out.push(Finding::new(
            Severity::Medium,
            "openbao-token-lookup",
            None,
            format!(
                "this machine's OpenBao token may not look itself up: a call OpenBao refuses cannot be told from an expired token, and keychain logs in again instead of naming the capability; {FIX}"
            ),
        )),
        // An OpenBao that does not answer is the store's finding already.
        Err(_) => {}
    }
}
