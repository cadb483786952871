//! This machine's name, as lock files and audit events record it. A base module: the lock files
//! (and the shared store's lease) name their holder without reaching up to the audit log.
#![deny(missing_docs)]

/// This machine's name.
#[cfg(unix)]
pub fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// This machine's name.
#[cfg(not(unix))]
pub fn host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_else(|_| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    /// A lock's holder and an audit event name the same machine the same way. (Until the merge
    /// of issue 21, `audit::host_name` is its own copy; it becomes a re-export of this one.)
    #[test]
    fn locks_and_audit_events_name_the_machine_alike() {
        assert_eq!(super::host_name(), crate::host::host_name());
    }
}
