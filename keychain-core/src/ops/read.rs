//! `keychain read ACCOUNT/FIELD`: one value, by the references' rules (`crate::reference`): an
//! access token a valid one, as `login` gives it; a secret only when named, recorded in the
//! audit log first.
#![deny(missing_docs)]

use super::resolve::{Resolver, Value};
use crate::error::Result;
use crate::keychain::Keychain;
use crate::reference::Reference;

use super::login::Options;

/// The value `reference` names; `login` says how an access token is obtained.
pub fn read(kc: &Keychain, login: &Options, reference: &Reference) -> Result<Value> {
    Resolver::new(kc, login, "read").value(reference)
}
