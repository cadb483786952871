//! keychain: the command line on top of `keychain-core`. It parses arguments (clap), asks a
//! person for secrets, renders results and errors, and exits with the documented code; the work
//! itself is done by `keychain-core`.
//!
//! The core's modules are re-exported under their own names so that a command reads
//! `crate::record` wherever the type lives.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub use keychain_core::{
    activity, audit, choice, clock, config, crypto, encoding, error, exit, fsutil, hardening, hook,
    host, http, init, invantive, keychain, keystore, lockfile, logon, members, name, oauth, ops,
    progress, prompt, providers, record, reference, scrub, secret, settings, severity, store,
    supply, text, totp, transfer, validate, whoami,
};

pub mod cli;
pub mod cmd;
pub mod complete;
pub mod input;
pub mod json;
pub mod manpage;
pub mod outcome;
pub mod output;
pub mod table;
