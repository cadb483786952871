//! `init`: create a keychain. The work (the identity, its key store, the configuration, an
//! OpenBao store and its member list) is `crate::init`'s, which stays where it is: it is the
//! protocol of creating a keychain, with its own tests; this is its entry point among the
//! operations.

use std::path::Path;

use crate::clock::SharedClock;
use crate::error::Result;
use crate::settings::Settings;

pub use crate::init::{InitRequest as InitOptions, Initialized, Joined};

/// Creates a keychain in `dir` as `options` says (see [`crate::init::create`]).
pub fn init(
    dir: &Path,
    settings: &Settings,
    clock: &SharedClock,
    options: InitOptions,
) -> Result<Initialized> {
    crate::init::create(dir, settings, clock, options)
}
