//! keychain: a credential keychain for unattended OAuth2 logons with two-factor authentication.
//!
//! The binary in `main.rs` only parses and dispatches; everything it does lives here so that
//! tests can drive it directly.
#![forbid(unsafe_code)]

pub mod audit;
pub mod logon;
pub mod oauth;
pub mod secret;
pub mod totp;
