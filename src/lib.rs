//! keychain: a credential keychain for unattended OAuth2 logons with two-factor authentication.
//!
//! The binary in `main.rs` only parses and dispatches; everything it does lives here so that
//! tests can drive it directly.
#![forbid(unsafe_code)]
// Every write to stdout or stderr goes through `output`, which handles a closed or full stream.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod activity;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod complete;
pub mod config;
pub mod crypto;
pub mod error;
pub mod fsutil;
pub mod hardening;
pub mod input;
pub mod json;
pub mod keychain;
pub mod keystore;
pub mod login;
pub mod logon;
pub mod manpage;
pub mod members;
pub mod oauth;
pub mod output;
#[cfg(test)]
mod parser_proptests;
#[cfg(test)]
mod proptest_support;
pub mod record;
pub mod secret;
pub mod store;
pub mod table;
pub mod totp;
pub mod trail;
pub mod validate;
