//! The operations: one function per thing a command of keychain does, each taking an options
//! struct and returning typed data. A front end (the CLI) parses its arguments into the
//! options, calls one operation and renders what it returns; it never sequences the core's
//! steps itself, so "what does `mv` do" has one answer, here.
//!
//! What only a front end can do (ask a person, read a secret from a file or a terminal, say
//! at once that an account was removed) it passes in as a reader, a question or a callback the
//! operation calls at its step: the operation decides when, the front end how. So the order of
//! every check, prompt and message is the operation's, and a test can drive an operation
//! without a terminal.
//!
//! Where the work of an operation was already one function of the core, with its own protocol
//! and tests (`init::create`, `transfer::import`, `Keychain::list`), that
//! function stays where it is and the operation here is its entry point: `ops` is where a front
//! end looks, not a second copy of a protocol.

pub mod add;
pub mod audit;
pub mod credential;
pub mod edit;
pub mod exec;
pub mod finding;
pub mod init;
pub mod inject;
pub mod list;
pub mod login;
pub mod members;
pub mod mv;
pub mod read;
pub mod refresh;
pub mod report;
pub mod resolve;
pub mod rm;
pub mod scan;
pub mod set;
pub mod show;
pub mod status;
pub mod store;
pub mod totp;
pub mod transfer;
pub mod unlock;

#[cfg(test)]
mod tests;
