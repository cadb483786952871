//! The accounts of a keychain as a listing shows them: their public headers (no key needed),
//! the records that could not be read (each with its own error, the others still listed), and
//! the entries of the accounts folder that are not records at all.
#![deny(missing_docs)]

use std::path::PathBuf;

use super::Keychain;
use crate::error::{Error, Result};
use crate::record::Header;

/// What [`Keychain::list`] found.
#[derive(Debug)]
pub struct AccountList {
    /// The headers of the accounts read, in name order.
    pub headers: Vec<Header>,
    /// The accounts whose record could not be read, each with why.
    pub unreadable: Vec<(String, Error)>,
    /// Entries named like records that are not regular files (a FIFO, a device, a folder):
    /// skipped without being opened; a front end warns about each.
    pub strays: Vec<PathBuf>,
    /// The folder the records live in, named by the error of [`AccountList::unreadable_error`].
    folder: PathBuf,
}

impl Keychain {
    /// The headers of the accounts whose name `wanted` accepts. An unreadable record is set
    /// aside in [`AccountList::unreadable`] and does not stop the listing; `Err` only when the
    /// accounts folder cannot be listed.
    pub fn list(&self, wanted: impl Fn(&str) -> bool) -> Result<AccountList> {
        let listing = self.store().listing()?;
        let names: Vec<String> = listing.names.into_iter().filter(|n| wanted(n)).collect();
        let mut headers = Vec::with_capacity(names.len());
        let mut unreadable = Vec::new();
        for (name, header) in names.iter().zip(self.peek_many(&names)) {
            match header {
                Ok(header) => headers.push(header),
                Err(e) => unreadable.push((name.clone(), e)),
            }
        }
        Ok(AccountList {
            headers,
            unreadable,
            strays: listing.strays,
            folder: self.dir.join("accounts"),
        })
    }
}

impl AccountList {
    /// The one error that says which records could not be read (exit 7), or `None` when all
    /// could; `with_reasons` adds each record's own error after its name (for a front end that
    /// did not show those errors one by one).
    pub fn unreadable_error(&self, with_reasons: bool) -> Option<Error> {
        if self.unreadable.is_empty() {
            return None;
        }
        let named: Vec<String> = self
            .unreadable
            .iter()
            .map(|(name, e)| {
                if with_reasons {
                    format!("{name} ({e})")
                } else {
                    name.clone()
                }
            })
            .collect();
        Some(Error::Integrity {
            path: self.folder.clone(),
            reason: format!(
                "{} could not be read: {}",
                crate::text::count(named.len(), "record", "records"),
                named.join(", ")
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::clock::ManualClock;
    use crate::keychain::testing::{exact_account, keychain_on, save};

    #[test]
    fn an_unreadable_record_is_named_and_does_not_hide_the_others() {
        let (_tmp, kc) = keychain_on(ManualClock::at_unix(1_800_000_000));
        for name in ["acme", "beta", "other"] {
            save(&kc, &mut exact_account(name));
        }
        std::fs::write(kc.record_path("broken"), b"not a record").unwrap();

        let list = kc.list(|name| name != "other").unwrap();
        let names: Vec<&str> = list.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["acme", "beta"]);
        let unreadable: Vec<&str> = list.unreadable.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(unreadable, ["broken"]);
        let short = list.unreadable_error(false).unwrap().to_string();
        assert!(
            short.ends_with("1 record could not be read: broken"),
            "{short}"
        );
        assert!(short.contains("accounts"), "{short}");
        let long = list.unreadable_error(true).unwrap().to_string();
        assert!(long.contains("broken ("), "{long}");

        let clean = kc.list(|name| name.starts_with('a')).unwrap();
        assert!(clean.unreadable_error(false).is_none());
        assert!(clean.strays.is_empty());
    }
}
