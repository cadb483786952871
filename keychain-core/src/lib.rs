//! keychain-core: everything the `keychain` command does, as functions and types: records and
//! their encryption, the stores they live in, the key stores, the audit log, the OAuth2 and
//! headless logon engine, and the TOTP parsers.
//!
//! It never parses a command line, never writes to a terminal and never exits the process: a
//! front end (the `keychain` CLI) installs a [`progress::Observer`] and a [`prompt::Prompter`],
//! calls these functions, and renders what they return. It never writes to standard output or
//! standard error (lint below); the CLI writes through its `output` module.
#![deny(clippy::print_stdout, clippy::print_stderr)]
// Every public item says what it is for (issue 11); the per-module denies predate this one.
#![deny(missing_docs)]

pub mod activity;
pub mod advice;
pub mod audit;
pub mod choice;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod encoding;
pub mod error;
pub mod exit;
pub mod fsutil;
pub mod hardening;
pub mod hook;
pub mod host;
pub mod http;
pub mod init;
pub mod invantive;
pub mod keychain;
pub mod keystore;
pub mod lockfile;
pub mod logon;
pub mod members;
pub mod name;
pub mod oauth;
pub mod ops;
#[cfg(test)]
mod parser_proptests;
pub mod progress;
pub mod prompt;
#[cfg(test)]
mod proptest_support;
pub mod providers;
pub mod record;
pub mod reference;
pub mod scrub;
pub mod secret;
pub mod settings;
pub mod severity;
pub mod store;
pub mod supply;
pub mod text;
pub mod totp;
pub mod transfer;
pub mod validate;
pub mod whoami;
