//! An account's name, checked once: [`AccountName`]. A base module: it imports nothing of the
//! crate, so every layer (stores, the model, the operations, the front end) may use it.
//!
//! A name becomes part of a path (a file in the accounts folder) and of a key (an OpenBao
//! secret path), so it is 1 to 64 ASCII letters, digits, `.`, `_` or `-`, starting with a
//! letter or digit: no `/`, no `..`, no hidden file, no option-like `-x`. It is parsed where it
//! comes in (a command line, a folder listing, an OpenBao listing, an import) and carried as an
//! `AccountName` from there on.

use std::fmt;
use std::str::FromStr;

/// A valid account name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountName(String);

/// A name that is not a valid account name; it carries the text given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadName(pub String);

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' is not a valid account name", self.0)
    }
}

impl std::error::Error for BadName {}

impl AccountName {
    /// What a valid name looks like, for a hint.
    pub const RULE: &'static str =
        "use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit";

    /// Parses `text` as an account name.
    pub fn parse(text: &str) -> Result<AccountName, BadName> {
        if is_valid(text) {
            Ok(AccountName(text.to_string()))
        } else {
            Err(BadName(text.to_string()))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Whether `text` is a valid account name.
pub fn is_valid(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A name as a caller holds it: an [`AccountName`] already parsed (taken as it is), or text
/// (parsed here). `Keychain`'s methods take either, so code that has parsed a name once carries
/// the type, and code that still holds text gets the same check and the same error as before.
pub trait AsAccountName {
    /// The name, parsed if it is text.
    fn account_name(&self) -> Result<std::borrow::Cow<'_, AccountName>, BadName>;
}

impl AsAccountName for AccountName {
    fn account_name(&self) -> Result<std::borrow::Cow<'_, AccountName>, BadName> {
        Ok(std::borrow::Cow::Borrowed(self))
    }
}

impl AsAccountName for str {
    fn account_name(&self) -> Result<std::borrow::Cow<'_, AccountName>, BadName> {
        AccountName::parse(self).map(std::borrow::Cow::Owned)
    }
}

impl AsAccountName for String {
    fn account_name(&self) -> Result<std::borrow::Cow<'_, AccountName>, BadName> {
        self.as_str().account_name()
    }
}

impl FromStr for AccountName {
    type Err = BadName;

    fn from_str(text: &str) -> Result<AccountName, BadName> {
        AccountName::parse(text)
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for AccountName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for AccountName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for AccountName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for AccountName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for AccountName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<AccountName> for String {
    fn from(name: AccountName) -> String {
        name.0
    }
}

impl From<&AccountName> for String {
    fn from(name: &AccountName) -> String {
        name.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_the_folder_or_look_like_options_are_refused() {
        for bad in [
            "",
            "../x",
            "a/b",
            ".hidden",
            "a b",
            "-x",
            "_x",
            "a\nb",
            "é",
            &"a".repeat(65),
        ] {
            let err = AccountName::parse(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("'{bad}' is not a valid account name")
            );
        }
    }

    #[test]
    fn valid_names_parse_and_read_back_unchanged() {
        for good in ["a", "exact-prod", "a.b_c-1", "9", &"a".repeat(64)] {
            let name: AccountName = good.parse().unwrap();
            assert_eq!(name.as_str(), good);
            assert_eq!(name.to_string(), good);
            assert_eq!(name, good);
        }
    }
}
