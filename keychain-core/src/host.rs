//! This machine's name, as the audit log's events, lock holders and OpenBao lock leases record
//! it. A base module: it imports nothing of keychain.
#![deny(missing_docs)]

/// This machine's name, as events record it.
#[cfg(unix)]
pub fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// This machine's name, as the system sets it for the session.
#[cfg(not(unix))]
pub fn host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_else(|_| "unknown".to_string())
}
