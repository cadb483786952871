//! One login under the account's lock: the record as re-read under it, and the decision what to
//! ask of the provider (the cache again, a refresh, a headless logon) and in which order.

use url::Url;

use crate::error::{Error, ProviderCause, Result};
use crate::keychain::{Keychain, OnAuditFailure};
use crate::oauth::{self, CredentialPolicy, Endpoints, ErrorClass, Guard, TokenError};
use crate::providers::{EndpointError, ProviderRules};
use crate::record::{Account, SecretField, Usage};
use crate::scrub::Scrubber;
use crate::store::{AccountLock, Expect, Revision};

use super::cache::{self, cached, pull_back_future_times};
use super::steps;
use super::{Options, Token};

/// What keychain knows of the account's kind of provider.
pub(super) fn provider_of(account: &Account) -> &'static dyn ProviderRules {
    account.header.provider.kind.provider()
}

/// A record that an unfinished `keychain mv` marked is not logged on with (see `cmd::mv`).
pub(super) fn refuse_moving(account: &Account) -> Result<()> {
    match &account.header.moved_to {
        Some(new) => Err(Error::usage_hint(
            format!(
                "account '{}' is being renamed to '{new}'; it is not used until the move is finished",
                account.header.name
            ),
            format!("finish the move: keychain mv {} {new}", account.header.name),
        )),
        None => Ok(()),
    }
}

/// Every secret the account holds: no provider text may show any of them.
pub(super) fn scrubber_for(account: &Account) -> Scrubber {
    let mut scrubber = Scrubber::new();
    for field in SecretField::ALL {
        if let Some(value) = account.secret(field) {
            scrubber.add(value);
        }
    }
    scrubber
}

/// One login under the account's lock (see [`super::obtain`]).
pub(super) struct Session<'a> {
    pub(super) kc: &'a Keychain,
    pub(super) lock: &'a dyn AccountLock,
    pub(super) account: Account,
    pub(super) revision: Revision,
    pub(super) opts: &'a Options,
    /// Where credentials may go (set once the endpoints are known) and what to scrub.
    pub(super) guard: Guard,
    /// The TOTP secret's lock and its last used step, held during a headless logon.
    pub(super) steps: Option<steps::SecretSteps>,
}

impl Session<'_> {
    /// Writes the record back, compared with what this session read or last wrote. Kept even
    /// when the log fails afterwards: the provider may already have rotated the refresh token.
    pub(super) fn save(&mut self) -> Result<()> {
        self.revision = self.kc.commit(
            self.lock,
            Expect::At(self.revision.clone()),
            &mut self.account,
            Vec::new(),
            OnAuditFailure::Keep,
        )?;
        Ok(())
    }

    pub(super) fn note_use(&mut self, action: &str, ok: bool) {
        self.account.header.last_use = Some(Usage {
            at: self.kc.now(),
            by: crate::whoami::whoami(),
            action: action.into(),
            ok,
        });
    }

    pub(super) fn run(&mut self) -> Result<Token> {
        // On a shared keychain the store's clock (see `cache::now`).
        let now = cache::now(self.kc);
        if let Some(token) = cached(&self.account, now, self.opts.min_valid) {
            return Ok(token);
        }
        let admission = provider_of(&self.account).admission();
        // Times recorded "in the future" (the clock was ahead then, or is behind now) are taken
        // as now and written back, so that a rule that counts from them (Exact's 570 s, its
        // error budget's hour) holds at most its own length from now, not until the clock
        // catches up.
        if pull_back_future_times(&mut self.account.header, now) {
            self.save()?;
        }
        // The budget's hour and the 570 s count to the earliest now can be: never early.
        admission
            .check_errors(&mut self.account.header.provider_errors, now.earliest)
            .map_err(Error::NotAdmitted)?;
        // Exact counts a refresh within 570 s of the previous token as an error: serve the
        // cached token while it is valid at all.
        if let Err(too_soon) =
            admission.check_interval(self.account.header.access_token_issued, now.earliest)
        {
            if let Some(token) = cached(&self.account, now, 0) {
                return Ok(token);
            }
            return Err(Error::NotAdmitted(too_soon));
        }
        let has_refresh_token = self.account.secret(SecretField::RefreshToken).is_some();
        if !has_refresh_token {
            // No request at all when the next step would be a refused logon.
            self.check_not_rejected()?;
        }
        // A lease across machines that may run out before the answer is stored: do not start
        // something (a refresh consumes the single-use token) whose result could not be kept.
        self.lock.still_held()?;
        let client = oauth::http::client().map_err(|e| Error::Unavailable {
            what: "cannot set up the HTTP client".into(),
            retry: None,
            cause: Some(ProviderCause::Client(Box::new(e))),
        })?;
        let endpoints = self.endpoints(&client)?;
        self.guard.policy = self.policy(&endpoints);

        if has_refresh_token {
            // `None`: the grant is dead, log on again.
            if let Some(token) = self.refresh(&client, &endpoints)? {
                return Ok(token);
            }
        }
        self.check_not_rejected()?;
        self.headless(&client, &endpoints)
    }

    /// Where this account's credentials may go: the hosts of its endpoints and issuer, the
    /// provider's own login hosts (Exact's), and those recorded with `--allow-host`.
    pub(super) fn policy(&self, endpoints: &Endpoints) -> CredentialPolicy {
        let p = &self.account.header.provider;
        let mut extra: Vec<String> = p.allow_hosts.clone();
        if let Some(host) = p
            .issuer
            .as_deref()
            .and_then(|i| Url::parse(i).ok())
            .and_then(|u| u.host_str().map(str::to_string))
        {
            extra.push(host);
        }
        extra.extend(p.kind.provider().login_hosts());
        CredentialPolicy::new(endpoints, extra.iter().map(String::as_str), p.insecure_http)
    }

    pub(super) fn endpoints(&self, client: &reqwest::blocking::Client) -> Result<Endpoints> {
        let p = &self.account.header.provider;
        p.kind.provider().endpoints(p, client).map_err(|e| match e {
            EndpointError::Discovery(e) if e.class() == ErrorClass::Unavailable => {
                Error::Unavailable {
                    what: "the provider's endpoints could not be found".into(),
                    retry: None,
                    cause: Some(ProviderCause::Discovery(Box::new(e))),
                }
            }
            EndpointError::Discovery(e) => {
                use crate::advice::AccountAdvice as _;
                Error::Usage {
                    message: e.to_string(),
                    hint: e.hint_for(Some(&self.account.header.name)),
                }
            }
            e => Error::usage(format!("account '{}' {e}", self.account.header.name)),
        })
    }

    /// Counts an error against the provider's budget, where it keeps one (Exact's).
    pub(super) fn record_provider_error(&mut self) {
        if provider_of(&self.account).admission().counts_errors() {
            // As young as it can be: it counts for the whole hour.
            let now = cache::now(self.kc);
            self.account.header.provider_errors.push(now.latest);
        }
    }

    /// The token endpoint refused the client, and the account has no client secret to
    /// authenticate it with: a setting is missing, which no wait will bring (exit 2, not 5).
    pub(super) fn lacks_client_secret(&self, e: &TokenError) -> bool {
        matches!(e, TokenError::Refused { error, .. } | TokenError::Rejected { error, .. }
            if error == "invalid_client" || error == "unauthorized_client")
            && !self.account.header.has(SecretField::ClientSecret)
    }

    pub(super) fn client_secret_error(&self, e: TokenError) -> Error {
        let name = &self.account.header.name;
        Error::usage_hint(
            format!("account '{name}' has no client secret, and the provider requires one: {e}"),
            format!("store it with 'keychain set {name} --client-secret-file FILE'"),
        )
    }

    /// A credential kept home: exit 2, naming the host, the step and the flag that allows it.
    pub(super) fn policy_error(&self, refused: &oauth::CredentialRefused) -> Error {
        use crate::advice::AccountAdvice as _;
        Error::Usage {
            message: refused.to_string(),
            hint: refused.hint_for(Some(&self.account.header.name)),
        }
    }

    pub(super) fn client_id(&self) -> Result<String> {
        self.account
            .header
            .provider
            .client_id
            .clone()
            .ok_or_else(|| {
                Error::usage(format!(
                    "account '{}' has no client id",
                    self.account.header.name
                ))
            })
    }
}
