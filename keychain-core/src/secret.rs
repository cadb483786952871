//! Secret values and the few safe ways to look at them.
//!
//! Every secret keychain handles (passwords, TOTP seeds, tokens, identities) is held in a
//! `secrecy` type from the moment it exists, so that it is zeroized on drop and cannot reach
//! `Display`, `Debug`, logs or error texts by accident. This module must never offer a way to
//! print a whole secret except `expose_secret()` at the one place that needs it, and no way at
//! all to print a part of one: a person recognises a secret by its keyed fingerprint
//! (`trail::short_fingerprint_of`), never by its last characters.

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

pub use secrecy::{ExposeSecret as Expose, SecretBox};

/// Wraps a plain `String` that a library handed back, at once.
pub fn secret(value: String) -> SecretString {
    SecretString::from(value)
}

/// Compares two secrets in constant time (for equal lengths), so that a timing side channel
/// cannot reveal how much of a guessed secret was right.
pub fn ct_eq(a: &SecretString, b: &SecretString) -> bool {
    ct_eq_str(a.expose_secret(), b.expose_secret())
}

/// Constant-time comparison of two strings; the length itself is not hidden.
pub fn ct_eq_str(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_secret_redacts_it() {
        let s = secret("canary-9f2c".into());
        assert!(!format!("{s:?}").contains("canary"));
    }

    #[test]
    fn ct_eq_compares_content() {
        assert!(ct_eq(&secret("same".into()), &secret("same".into())));
        assert!(!ct_eq(&secret("same".into()), &secret("diff".into())));
        assert!(!ct_eq(&secret("same".into()), &secret("samex".into())));
    }
}
