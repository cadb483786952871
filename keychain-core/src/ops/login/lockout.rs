//! The lockout guard: a rejected logon is never retried, not even by the next run (see the
//! module's point 5). The guard is written in `headless` when the provider rejects the
//! password or code; here it is honoured.

use crate::error::{Error, Result};

use super::session::Session;

impl Session<'_> {
    /// The lockout guard: a password or code the provider rejected is not sent again until a
    /// person changes it (`set`) or says `login --retry`.
    pub(super) fn check_not_rejected(&self) -> Result<()> {
        let Some(r) = &self.account.header.logon_rejected else {
            return Ok(());
        };
        if self.opts.retry {
            if self.opts.progress {
                crate::progress::step(
                    "keychain: --retry: one logon attempt despite the earlier rejection\n",
                );
            }
            return Ok(());
        }
        Err(Error::RejectedBefore {
            account: self.account.header.name.clone(),
            step: r.step.clone(),
            at: crate::clock::rfc3339(r.at),
            by: r.by.clone(),
        })
    }
}
