//! `keychain exec`'s values: every variable the child gets, obtained before it starts. One
//! logon per account however many variables name its access token; a secret only when named,
//! recorded in the audit log before it is handed out (as `show --reveal` is: no audit, no
//! secret). Starting the child, and keeping its token fresh (`crate::supply`), is the front
//! end's: it owns the process, its signals and its exit code.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::ffi::OsStr;

use secrecy::SecretString;

use crate::error::Result;
use crate::keychain::Keychain;
use crate::reference::Field;

use super::login::{Options, Token};

/// One variable of the child's environment: which value of which account goes into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSpec {
    /// The variable's name.
    pub var: String,
    /// The account.
    pub account: String,
    /// Which of its values.
    pub field: Field,
}

/// How the values are obtained.
pub struct ExecOptions<'a> {
    /// The variables, in order (checked by the caller: one value per variable).
    pub specs: &'a [EnvSpec],
    /// How an access token is obtained.
    pub login: &'a Options,
    /// The on-failure hook (`crate::hook`), when one is configured.
    pub on_failure: Option<&'a OsStr>,
}

/// The child's environment.
pub struct Environment<'s> {
    /// Each variable and its value, in the order of the specs.
    pub vars: Vec<(&'s str, SecretString)>,
    /// The token obtained for each account whose access token was asked for (the front end
    /// keeps one fresh with `--serve` or `--token-file`).
    pub tokens: BTreeMap<&'s str, Token>,
}

/// Obtains every value of `opts.specs`, or none: the first failure ends it.
pub fn environment<'s>(kc: &Keychain, opts: &ExecOptions<'s>) -> Result<Environment<'s>> {
    let mut tokens: BTreeMap<&str, Token> = BTreeMap::new();
    let mut vars: Vec<(&str, SecretString)> = Vec::new();
    for spec in opts.specs {
        let value = match spec.field {
            Field::AccessToken => match tokens.get(spec.account.as_str()) {
                Some(token) => token.access_token.clone(),
                None => {
                    let token = super::login::obtain_with_hook(
                        kc,
                        &spec.account,
                        opts.login,
                        opts.on_failure,
                    )?;
                    // As every way out: a token with a space or a line break is not handed on.
                    super::resolve::check_token_text(&token.access_token)?;
                    let value = token.access_token.clone();
                    tokens.insert(&spec.account, token);
                    value
                }
            },
            field => plain_or_secret(kc, spec, field)?,
        };
        vars.push((&spec.var, value));
    }
    Ok(Environment { vars, tokens })
}

/// A plain field from the authenticated record, a TOTP code, or a secret named explicitly
/// (recorded first, as `show --reveal` is: no audit, no secret).
fn plain_or_secret(kc: &Keychain, spec: &EnvSpec, field: Field) -> Result<SecretString> {
    let (account, _) = kc.read(&spec.account)?;
    let command = format!("exec --env {}", spec.var);
    Ok(super::resolve::field_value(kc, &account, field, &command)?.text)
}
