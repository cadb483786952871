//! The operations: one function per thing a command of keychain does, each taking an options
//! struct and returning typed data. A front end (the CLI) parses its arguments into the
//! options, calls one operation and renders what it returns; it never sequences the core's
//! steps itself, so "what does `mv` do" has one answer, here.
//!
//! What only a front end can do (ask a person, read a secret from a file or a terminal) it
//! passes in as a reader or a question the operation calls at its step: the operation decides
//! when, the front end how.

pub mod add;
pub mod edit;
pub mod init;
pub mod list;
pub mod members;
pub mod mv;
pub mod rm;
pub mod set;
pub mod show;
pub mod store;
pub mod totp;
pub mod transfer;
pub mod unlock;
