//! How advice names a command of keychain. A base module: it imports nothing of keychain, so a
//! low module's error (a logon's, a token call's) can say what to run without importing the
//! top-level error.
#![deny(missing_docs)]

/// A command of keychain for one account, quoted for a hint: `'keychain set acme --totp-file
/// FILE'`. Advice never carries a placeholder for the account's name (`ACCOUNT`): without the
/// name it says "for the account" in words.
pub fn account_command(verb: &str, account: Option<&str>, rest: &str) -> String {
    match account {
        Some(name) => format!("'keychain {verb} {name}{rest}'"),
        None if rest.is_empty() => format!("'keychain {verb}' for the account"),
        None => format!("'keychain {verb}' for the account, with{rest}"),
    }
}
