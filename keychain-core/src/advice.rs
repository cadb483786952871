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

/// Advice for an error about one account's provider (a token call, a logon, discovery, where
/// credentials may go), whose fix is a command for that account: `hint_for(Some("acme"))` says
/// `'keychain set acme --issuer URL'`, `hint_for(None)` says it in words. Every other error's
/// advice is [`crate::exit::Failure::hint`]: these two are keychain's only shapes of advice.
pub trait AccountAdvice {
    /// What a person can do about it; `None` when the message says it all (or the caller,
    /// who knows more, gives the advice).
    fn hint_for(&self, account: Option<&str>) -> Option<String>;
}
