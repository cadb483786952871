//! `audit verify`: every line's MAC, order and chain, across rotated files, and the log's end
//! against its anchor. The report says where each problem is, never a line's content.

use crate::audit::VerifyReport;
use crate::error::Result;
use crate::keychain::Keychain;

/// Verifies the keychain's whole audit trail under the key derived from its identity (so
/// whoever cannot open the records cannot forge a line that verifies).
pub fn verify(kc: &Keychain) -> Result<VerifyReport> {
    let key = crate::audit::audit_key(kc.identity()?);
    Ok(kc.trail()?.verify(&key)?)
}
