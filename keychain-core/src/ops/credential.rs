//! A credential for a program that asks for a user name and a password (git's credential
//! helper protocol): the account's access token from [`login::obtain`], with the user name to
//! send it under.

use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::ops::login::{self, Token};

/// Which account's token, and under which user name.
pub struct CredentialOptions<'a> {
    /// The account.
    pub name: &'a str,
    /// The user name to send; `None` sends the account's user (one more read of the record,
    /// before the login, so a user name that cannot be sent spends no token).
    pub username: Option<String>,
    /// How the token may be got.
    pub login: &'a login::Options,
}

/// The user name and the token to send under it.
pub struct Credential {
    /// The user name: the one asked for, else the account's.
    pub username: String,
    /// A valid access token, its text checked (no space, control character or line break).
    pub token: Token,
}

/// Resolves the user name, then gets a valid token (recorded in the audit log as every login
/// is) and checks its text. A user name with a line break is refused before any login: the
/// protocol is lines, so it could not be carried.
pub fn credential(kc: &Keychain, options: CredentialOptions<'_>) -> Result<Credential> {
    let username = match options.username {
        Some(name) => name,
        None => kc.read(options.name)?.0.header.user,
    };
    if username.contains(['\n', '\0']) {
        return Err(Error::usage(
            "the user name has a line break: git's protocol cannot carry it",
        ));
    }
    let token = login::obtain(kc, options.name, options.login)?;
    crate::ops::resolve::check_token_text(&token.access_token)?;
    Ok(Credential { username, token })
}
