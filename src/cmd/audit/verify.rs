//! `keychain audit verify`: every line's MAC, order and chain, across rotated files, and the
//! log's end against its anchor. Prints where each problem is, never a line's content.
//! Exit 7 when anything is wrong.

use crate::error::{Result, exit};
use crate::keychain::Keychain;
use crate::trail;

pub fn run(kc: &Keychain) -> Result<i32> {
    let key = trail::audit_key(kc.identity()?);
    let report = trail::log_of(&kc.dir)
        .verify(&key)
        .map_err(trail::audit_error)?;
    let text = report.to_string();
    crate::output::out(&format!("{}\n", text.trim_end()))?;
    if report.is_ok() {
        Ok(exit::OK)
    } else {
        crate::output::err(&format!(
            "error: the audit log does not verify ({}); keep a copy of the keychain folder as it is and investigate\n",
            crate::output::count(report.problems.len(), "problem", "problems")
        ))?;
        Ok(exit::INTEGRITY)
    }
}
