//! Who is acting: the OS user of this process, the one name records and the audit log both use.
//!
//! The name comes from the real uid through the C library's `getpwuid_r` (the `nix` crate), so
//! it is the name NSS knows (files, SSSD, LDAP: users that `/etc/passwd` does not list, common on
//! servers that run cron), never `$USER`, which is whatever the caller set. A uid without a name
//! gives `uid<N>`, so a record and the log still agree on who acted.
#![deny(missing_docs)]

/// The OS user name of the real uid, or `uid<N>` when the user database has none. Looked up
/// once per process: the real uid does not change, and a `refresh --all` appends an audit line
/// per account (with SSSD or LDAP each lookup may cost a round trip).
#[cfg(unix)]
pub fn whoami() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        let uid = nix::unistd::Uid::current();
        match nix::unistd::User::from_uid(uid) {
            Ok(Some(user)) if !user.name.is_empty() => user.name,
            _ => format!("uid{uid}"),
        }
    })
    .clone()
}

/// The OS user name; elsewhere than Unix, as the system sets it for the session.
#[cfg(not(unix))]
pub fn whoami() -> String {
    std::env::var("USERNAME").unwrap_or_else(|_| "unknown".to_string())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// The name the system's own `id -un` gives (through NSS like ours), not `$USER`.
    #[test]
    fn whoami_is_the_name_id_gives() {
        let id = std::process::Command::new("id")
            .arg("-un")
            .output()
            .expect("id(1) runs");
        assert!(id.status.success(), "id -un failed: {id:?}");
        let expected = String::from_utf8(id.stdout).unwrap();
        assert_eq!(whoami(), expected.trim());
    }
}
