//! The operations of `keychain audit` that do more than read and render: `verify`,
//! `fingerprint`, `rotate`, `seal-config` and `ack`, one file each. The report itself is
//! `ops::report`'s.
//!
//! Each checks what it was given, does its work and records it in the audit log before it
//! returns anything that reveals something (a fingerprint's verdict), so a front end only renders.

pub mod ack;
pub mod fingerprint;
pub mod rotate;
pub mod seal_config;
pub mod verify;

#[cfg(test)]
mod tests;
