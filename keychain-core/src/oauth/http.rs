//! The HTTP client for calls that carry an account's credentials (token calls, the logon
//! engine): the shared settings of [`crate::http`] plus the owner check of loopback servers.
#![deny(missing_docs)]

use reqwest::blocking::{Client, ClientBuilder};

/// The client for token calls: timeouts, no redirects, no retries, no cookies, and the owner
/// check of loopback servers.
pub fn client() -> reqwest::Result<Client> {
    credential_builder().build()
}

/// [`builder`](crate::http::builder) for clients that carry credentials (token calls, the
/// logon engine): every plain http connection to a loopback address must have been accepted by
/// a socket of this user's or root's ([`super::loopback`]), or nothing is sent on it.
pub fn credential_builder() -> ClientBuilder {
    crate::http::builder().connector_layer(super::loopback::OwnerCheckLayer)
}
