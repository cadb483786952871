//! Obtains the values [`crate::reference`]s name: through the login engine for access tokens,
//! and the audit log for everything that is a secret or a working second factor. An operation
//! above the keychain: it returns the top-level [`Error`], as `login` does.
//!
//! What it must never do: hand out a secret (password, client secret, refresh token, TOTP
//! secret) that was not named explicitly, or one that is not in the audit log first; quote a
//! value in an error.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};

use crate::audit::{Action, Event};
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::ops::login::{self, Options};
use crate::record::Account;
use crate::reference::{Field, Reference};

/// A value obtained for a reference, with its expiry when it has one (an access token's).
pub struct Value {
    /// The value itself.
    pub text: SecretString,
    /// When it stops being valid, Unix seconds (access tokens; a TOTP code's step end).
    pub expires_at: Option<i64>,
}

/// Obtains the values references name: one logon per account however many references name its
/// access token, one read per account for its other fields. Each secret and each TOTP code is
/// recorded in the audit log, under `command`, before it is returned.
pub struct Resolver<'a> {
    kc: &'a Keychain,
    opts: &'a Options,
    command: String,
    tokens: BTreeMap<String, (SecretString, Option<i64>)>,
    accounts: BTreeMap<String, Account>,
}

impl<'a> Resolver<'a> {
    /// A resolver recording its reveals as `command` (`read`, `inject`, ...).
    pub fn new(kc: &'a Keychain, opts: &'a Options, command: impl Into<String>) -> Self {
        Resolver {
            kc,
            opts,
            command: command.into(),
            tokens: BTreeMap::new(),
            accounts: BTreeMap::new(),
        }
    }

    /// Reads every account the references name, before any value is obtained: an account that
    /// does not exist (exit 3) or cannot be read then stops the command before any logon or
    /// audited reveal.
    pub fn prepare<'r>(
        &mut self,
        references: impl IntoIterator<Item = &'r Reference>,
    ) -> Result<()> {
        for reference in references {
            let name = reference.account.as_str();
            if !self.accounts.contains_key(name) {
                let (account, _) = self.kc.read(name)?;
                self.accounts.insert(name.to_string(), account);
            }
        }
        Ok(())
    }

    /// The value `reference` names.
    pub fn value(&mut self, reference: &Reference) -> Result<Value> {
        let name = reference.account.as_str();
        if reference.field == Field::AccessToken {
            if let Some((text, expires_at)) = self.tokens.get(name) {
                return Ok(Value {
                    text: text.clone(),
                    expires_at: *expires_at,
                });
            }
            let token = login::obtain(self.kc, name, self.opts)?;
            check_token_text(&token.access_token)?;
            self.tokens.insert(
                name.to_string(),
                (token.access_token.clone(), token.expires_at),
            );
            return Ok(Value {
                text: token.access_token,
                expires_at: token.expires_at,
            });
        }
        if !self.accounts.contains_key(name) {
            let (account, _) = self.kc.read(name)?;
            self.accounts.insert(name.to_string(), account);
        }
        let account = &self.accounts[name];
        field_value(self.kc, account, reference.field, &self.command)
    }
}

/// A value of `account` other than its access token; secrets and TOTP codes are recorded as
/// `command` first (no audit, no value).
pub fn field_value(kc: &Keychain, account: &Account, field: Field, command: &str) -> Result<Value> {
    let h = &account.header;
    let name = h.name.as_str();
    let missing = |what: &str| Error::usage(format!("account '{name}' has no {what}"));
    let plain = |text: String| Value {
        text: SecretString::from(text),
        expires_at: None,
    };
    match field {
        Field::User => Ok(plain(h.user.clone())),
        Field::ClientId => h
            .provider
            .client_id
            .clone()
            .map(plain)
            .ok_or_else(|| missing("client id")),
        Field::ApiUrl => h
            .provider
            .kind
            .provider()
            .api_url(&h.provider)
            .map(plain)
            .ok_or_else(|| {
                Error::usage_hint(
                    format!("account '{name}' has no API URL"),
                    "api-url is built in for Exact Online accounts only; pass other APIs' URLs yourself",
                )
            }),
        Field::Totp => {
            let totp = account.totp()?;
            kc.log_event(Event::new(command, Action::Totp).account(name))?;
            let now = kc.now().max(0) as u64;
            let left = totp.seconds_left(now);
            Ok(Value {
                text: totp.code_at(now),
                expires_at: Some((now + left) as i64),
            })
        }
        Field::Secret(secret) => {
            let value = account
                .secret(secret)
                .ok_or_else(|| missing(secret.as_str()))?
                .clone();
            kc.log_event(Event::new(command, Action::Reveal(secret.as_str().into())).account(name),)?;
            Ok(Value {
                text: value,
                expires_at: None,
            })
        }
        Field::AccessToken => {
            let token = login::obtain(kc, name, &login_defaults())?;
            check_token_text(&token.access_token)?;
            Ok(Value {
                text: token.access_token,
                expires_at: token.expires_at,
            })
        }
    }
}

/// A token with a space, a control character or a line break could inject a header or a
/// command wherever it is pasted: refused with the check every token passes.
pub fn check_token_text(token: &SecretString) -> Result<()> {
    if crate::oauth::is_token_text(token.expose_secret()) {
        Ok(())
    } else {
        Err(Error::Integrity {
            path: "access token".into(),
            reason:
                "the stored access token has spaces or control characters and is not handed out"
                    .into(),
        })
    }
}

/// What a reference resolved outside a command's own options gets: `login`'s defaults.
fn login_defaults() -> Options {
    Options {
        min_valid: 60,
        debug_pages: None,
        progress: false,
        retry: false,
    }
}
