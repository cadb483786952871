//! `add`: onboard an account. Never overwrites an existing one without `replace`; with
//! `same_is_unchanged`, adding an account exactly as it is stored (provider settings, user,
//! every secret, compared in constant time) changes nothing and succeeds, so provisioning can be
//! run again.

use crate::audit::Action;
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::keychain::{Keychain, OnAuditFailure};
use crate::name::AccountName;
use crate::providers::ProviderKind;
use crate::providers::ProviderSettings;
use crate::record::{Account, Header, SecretField};
use crate::store::Expect;

use super::edit::{self, ProviderChanges};

/// The account to add, its secrets aside (see [`add`]).
#[derive(Debug, Clone)]
pub struct AddOptions {
    /// The account's name.
    pub name: AccountName,
    /// Its provider settings; `provider` must be given.
    pub provider: ProviderChanges,
    /// The user name to log on with.
    pub user: String,
    /// Overwrite an existing account of this name.
    pub replace: bool,
    /// When an account of this name exists (and `replace` is not given), read the secrets and
    /// succeed without a change if it is the same account; otherwise an existing account is
    /// refused at once, before any secret is asked for (a front end sets this when no person
    /// would be prompted).
    pub same_is_unchanged: bool,
}

/// An account added.
#[derive(Debug, Clone)]
pub struct Added {
    /// Its name.
    pub name: AccountName,
    /// Its provider.
    pub provider: ProviderKind,
    /// Its user name.
    pub user: String,
    /// The secrets it holds.
    pub secrets: Vec<SecretField>,
    /// False when the same account was stored already, so nothing was written.
    pub changed: bool,
}

/// Adds the account `options` describes. `read_secrets` puts its secrets into the new account
/// (given the time); it is called once the name, the provider settings and the absence of an
/// existing account are checked, so a person is never asked for a password that is then
/// refused, and before the key and the lock are taken, so a prompt never holds the lock.
pub fn add(
    kc: &Keychain,
    options: &AddOptions,
    read_secrets: impl FnOnce(&mut Account, i64) -> Result<()>,
) -> Result<Added> {
    let name = options.name.as_str();
    // `provider` is optional only because `set` shares the settings; an account without one
    // cannot log on.
    let Some(kind) = options.provider.provider else {
        return Err(Error::usage_hint(
            "add needs --provider PROVIDER",
            format!("use one of: {}", crate::providers::names()),
        ));
    };
    let now = kc.now();
    let mut provider = ProviderSettings::new(kind);
    edit::apply(&mut provider, &options.provider)?;
    let exists = !options.replace && kc.store().read(name)?.is_some();
    if exists && !options.same_is_unchanged {
        return Err(exists_already(name));
    }

    let mut account = Account::new(Header::new(name, provider, options.user.clone(), now));
    let read = read_secrets(&mut account, now).and_then(|()| {
        crate::validate::account(&account, crate::providers::ProviderRule::Complete)
            .map_err(Error::from)
    });
    // For an account that exists, what matters first is that it exists: an account given
    // incompletely is not the same one.
    match read {
        Err(_) if exists => return Err(exists_already(name)),
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    if exists {
        kc.identity()?;
        let (stored, _) = kc.read(name)?;
        if !edit::same_account(&stored, &account) {
            return Err(exists_already(name));
        }
        return Ok(Added {
            name: options.name.clone(),
            provider: stored.header.provider.kind,
            user: stored.header.user.clone(),
            secrets: stored.header.secrets.keys().copied().collect(),
            changed: false,
        });
    }

    // The key is needed before the lock is taken, so a passphrase prompt never holds the lock.
    kc.identity()?;
    let lock = kc.lock(name)?;
    // A refresh token given now was stamped on this machine's clock; a shared keychain keeps
    // the stamp on the store's (heard by now: the lock asked it).
    account.header.refresh_token_active = account
        .header
        .refresh_token_active
        .map(|t| kc.records_clock().from_local(t));
    let expect = if options.replace {
        Expect::Any
    } else {
        Expect::Absent
    };
    let event = kc.fingerprints(&account, Event::new("add", Action::Add).account(name))?;
    let mut events = vec![event];
    // Where credentials may go beyond the account's own hosts is a security decision: logged.
    let p = &account.header.provider;
    for (field, given) in [
        ("allow-host", !p.allow_hosts.is_empty()),
        ("insecure-http", p.insecure_http),
    ] {
        if given {
            events.push(Event::new("add", Action::Set(field.into())).account(name));
        }
    }
    kc.commit(&*lock, expect, &mut account, events, OnAuditFailure::Undo)?;
    Ok(Added {
        name: options.name.clone(),
        provider: account.header.provider.kind,
        user: account.header.user.clone(),
        secrets: account.header.secrets.keys().copied().collect(),
        changed: true,
    })
}

/// An account of this name exists and is not the one given: `add` names its own way out.
fn exists_already(name: &str) -> Error {
    Error::usage_hint(
        format!("account '{name}' already exists"),
        format!("give --replace to overwrite it, or change its fields with 'keychain set {name}'"),
    )
}
