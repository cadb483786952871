//! The operations: one function per thing a command of keychain does, each taking an options
//! struct and returning typed data. A front end (the CLI) parses its arguments into the
//! options, calls one operation and renders what it returns; it never sequences the core's
//! steps itself, so "what does `mv` do" has one answer, here.

pub mod mv;
