//! Obtaining a valid access token for an account: from the cache, by refresh, or by a headless
//! logon, without ever breaking a single-use refresh-token chain.
//!
//! Order of operations (the reason this module exists):
//! 1. Without a lock, a cached token valid for more than the margin is served as it is.
//! 2. Otherwise the account's lock is taken and the record **re-read**: another process may have
//!    refreshed meanwhile, and then its token is served.
//! 3. A refresh's rotated refresh token is written back (atomically) before anything else, even
//!    when the provider rate-limits but still hands out a new one.
//! 4. Only a dead grant (`invalid_grant` or the provider's words for it) retires the refresh
//!    token and falls back to one headless logon; any other refusal keeps it and exits 5.
//! 5. A rejected logon is never retried, not even by the next run: the rejection is recorded in
//!    the account and later logons are refused locally (exit 4, no request) until the password
//!    or TOTP secret is changed or the operator says `login --retry`. Accounts get locked out by
//!    a wrong password in cron otherwise.
//! 6. The TOTP time step is recorded before a code is submitted, so no step is used twice, and
//!    it is recorded per **secret** (see `steps`): every account holding the same seed, in any
//!    process or on any machine of a shared keychain, takes the secret's lock from choosing a
//!    step until the provider has answered the code. A used step never lies beyond our clock
//!    plus `MAX_CLOCK_OFFSET`; a wait for a fresh step is bounded by [`max_totp_wait`].
//!    A code the provider did not take because it was used or expired (not a wrong secret)
//!    sets no guard: the logon waits for the next step and tries once more.
//! 7. Every provider text is scrubbed of the account's secrets before it is shown or logged
//!    (see `oauth::Scrubber`); credentials go only where `oauth::CredentialPolicy` allows.
#![deny(missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::audit::Event;
use crate::error::{Error, ProviderCause, Result};
use crate::keychain::{Keychain, OnAuditFailure};
use crate::logon::{self, LogonError, LogonOutcome, LogonRequest, MAX_CLOCK_OFFSET, TotpProvider};
use crate::oauth::{
    self, CredentialPolicy, Endpoints, ErrorClass, Guard, Scrubber, TokenError, TokenResponse,
};
use crate::providers::{EndpointError, Provider};
use crate::record::{Account, Flow, Rejection, SecretField, Usage};
use crate::store::{AccountLock, Expect, Revision};
use crate::totp::TotpSecret;
use crate::trail::Action;

mod steps;

/// Never submit a code with fewer seconds than this left in its time step.
const TOTP_MIN_SECONDS_LEFT: u64 = 3;
/// The longest a logon waits for a fresh TOTP time step, in seconds, for a period longer than
/// [`TOTP_WAIT_LONGEST_PERIOD`] (see [`max_totp_wait`]).
pub const TOTP_WAIT: u64 = 30;
/// The longest period a logon waits through whole: a step used by the previous logon (of this
/// account or another with the same secret) is waited out when the next one comes within it.
pub const TOTP_WAIT_LONGEST_PERIOD: u64 = 120;

/// The longest a logon waits for a fresh TOTP time step (while holding the account's and the
/// secret's locks): one period when the period is at most [`TOTP_WAIT_LONGEST_PERIOD`] (and at
/// least [`TOTP_WAIT`]), else [`TOTP_WAIT`]. A longer wait fails with exit 5 and the time to try
/// again: waiting a whole period of an hour would hold the locks as long.
pub fn max_totp_wait(period: u64) -> u64 {
    if period <= TOTP_WAIT_LONGEST_PERIOD {
        period.max(TOTP_WAIT)
    } else {
        TOTP_WAIT
    }
}

/// Where a token came from: what the caller reports, and what the record's last use says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The stored access token, still valid for the margin; nothing was asked of the provider.
    Cache,
    /// A refresh: the refresh token was spent and its successor stored.
    Refresh,
    /// A headless logon with the stored password and TOTP secret.
    Headless,
}

impl Source {
    /// The name recorded as the account's last use (`login_cache`, `login_refresh`,
    /// `login_headless`); stable, since records keep it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cache => "login_cache",
            Source::Refresh => "login_refresh",
            Source::Headless => "login_headless",
        }
    }
}

/// A valid access token. `Debug` never shows it.
pub struct Token {
    /// The access token itself.
    pub access_token: SecretString,
    /// The token type for the `Authorization` header, usually `Bearer`.
    pub token_type: String,
    /// When it expires, in Unix seconds by our clock; `None` when the provider did not say.
    pub expires_at: Option<i64>,
    /// The scope granted, when the provider stated it.
    pub scope: Option<String>,
    /// Where it came from.
    pub source: Source,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("expires_at", &self.expires_at)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// How [`obtain`] may get a token.
pub struct Options {
    /// Serve a cached token only when it stays valid for more than this many seconds.
    pub min_valid: i64,
    /// A folder to write each logon page to, secrets redacted (`login --debug-pages`).
    pub debug_pages: Option<PathBuf>,
    /// Report each step through the installed progress observer (`crate::progress`).
    pub progress: bool,
    /// Allow one logon although the provider rejected the password or code before
    /// (`login --retry`): the operator says the cause is fixed.
    pub retry: bool,
}

/// The cached token of `account` when it stays valid for more than `min_valid` seconds.
///
/// Valid iff `issued <= now < issued + lifetime` (less the margin), where the lifetime is what
/// the provider granted (`expires - issued`): a clock that moved back past the issue time makes
/// the token expired, never "valid for longer than granted". A token without an issue time
/// (written by hand or by a keychain from before it was kept) has only its expiry to go by.
fn cached(account: &Account, now: i64, min_valid: i64) -> Option<Token> {
    let token = account.secret(SecretField::AccessToken)?;
    let expires = account.header.access_token_expires?;
    let (issued, left) = match account.header.access_token_issued {
        Some(issued) => {
            let lifetime = expires.saturating_sub(issued);
            (issued, lifetime.saturating_sub(now.saturating_sub(issued)))
        }
        None => (i64::MIN, expires.saturating_sub(now)),
    };
    (issued <= now && left > min_valid).then(|| Token {
        access_token: token.clone(),
        token_type: account
            .header
            .access_token_type
            .clone()
            .unwrap_or_else(|| "Bearer".into()),
        expires_at: Some(expires),
        scope: account.header.access_token_scope.clone(),
        source: Source::Cache,
    })
}

/// The shared store cannot be reached or is sealed, whether the record's read or the shared
/// trail's sync before it (the counter a record is compared with) found out first.
fn store_unavailable(e: &Error) -> bool {
    match e {
        Error::Store(crate::store::StoreError::Bao(e)) => e.is_unavailable(),
        Error::Audit {
            source: crate::audit::AuditError::Store { code, .. },
            ..
        } => *code == crate::error::exit::UNAVAILABLE,
        _ => false,
    }
}

/// Moves the times a rule counts from (the last token's issue, the recorded provider errors)
/// back to `now` where they lie after it; says whether anything changed.
fn pull_back_future_times(h: &mut crate::record::Header, now: i64) -> bool {
    let mut changed = false;
    if h.access_token_issued.is_some_and(|t| t > now) {
        h.access_token_issued = Some(now);
        // When it was really issued cannot be known: the token counts as expired.
        h.access_token_expires = h.access_token_expires.map(|e| e.min(now));
        changed = true;
    }
    for t in h.provider_errors.iter_mut().filter(|t| **t > now) {
        *t = now;
        changed = true;
    }
    changed
}

/// What keychain knows of the account's kind of provider.
fn provider_of(account: &Account) -> &'static dyn Provider {
    account.header.provider.kind.provider()
}

/// A record that an unfinished `keychain mv` marked is not logged on with (see `cmd::mv`).
fn refuse_moving(account: &Account) -> Result<()> {
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

/// A valid access token for `name`.
pub fn obtain(kc: &Keychain, name: &str, opts: &Options) -> Result<Token> {
    // 0. A shared keychain's fast path: the token from this machine's authenticated copy of the
    //    record, once the `login` event is in the shared trail right after this machine's copy
    //    of it (one write and the witness read; see `keychain::fast_login` for why that is
    //    safe). Else, unchanged:
    let event = Event::new("login", Action::LoginCache).account(name);
    if let Some(token) = kc.serve_from_copy(name, &event, |account| {
        if account.header.moved_to.is_some() {
            return None;
        }
        cached(account, kc.now(), opts.min_valid)
    }) {
        return Ok(token);
    }
    // 1. The lean path: one read, one decryption, no lock, no write.
    let (account, _) = match kc.read(name) {
        Ok(read) => read,
        // A shared store that is down or sealed: a token still valid for the margin may come
        // from the local read-only copy; nothing else is done (no refresh, no logon, no write).
        Err(e) if store_unavailable(&e) => {
            let now = kc.now();
            let token = kc
                .read_last_seen(name)
                .filter(|account| account.header.moved_to.is_none())
                .and_then(|account| cached(&account, now, opts.min_valid));
            return match token {
                Some(token) => {
                    // The shared trail is in the store that is down: this machine's log.
                    kc.record_offline(Event::new("login", Action::LoginCache).account(name))?;
                    Ok(token)
                }
                None => Err(e),
            };
        }
        Err(e) => return Err(e),
    };
    refuse_moving(&account)?;
    let now = kc.now();
    if let Some(token) = cached(&account, now, opts.min_valid) {
        audit(kc, name, Action::LoginCache, None)?;
        return Ok(token);
    }
    drop(account);

    // 2. Lock, then re-read, then decide. Nothing is asked of the provider unless the log can
    //    record it and the configuration authenticates (a rotated token must be storable).
    let lock = kc.lock(name)?;
    let (account, revision) = kc.read(name)?;
    refuse_moving(&account)?;
    let guard = Guard {
        policy: CredentialPolicy::default(),
        scrubber: scrubber_for(&account),
    };
    kc.check_config()?;
    kc.check_audit()?;
    let mut session = Session {
        kc,
        lock: &*lock,
        account,
        revision,
        opts,
        guard,
        steps: None,
    };
    let outcome = session.run();
    let counter = session.account.header.writes;
    let audit = |action| audit(kc, name, action, Some(counter));
    match outcome {
        Ok(token) => {
            let action = match token.source {
                Source::Cache => Action::LoginCache,
                Source::Refresh => Action::LoginRefresh,
                Source::Headless => Action::LoginHeadless,
            };
            // Recorded before the token is handed out: no audit, no token.
            audit(action)?;
            Ok(token)
        }
        Err(e) => {
            let reason = format!("exit {}: {}", e.exit_code(), e.with_causes());
            audit(Action::LoginFailed(reason))?;
            Err(e)
        }
    }
}

/// Every secret the account holds: no provider text may show any of them.
fn scrubber_for(account: &Account) -> Scrubber {
    let mut scrubber = Scrubber::new();
    for field in SecretField::ALL {
        if let Some(value) = account.secret(field) {
            scrubber.add(value);
        }
    }
    scrubber
}

/// Records a login; `counter` is the record's write counter when it was read or written under
/// the lock (a lean cache hit, read without the lock, carries none).
fn audit(kc: &Keychain, name: &str, action: Action, counter: Option<u64>) -> Result<()> {
    let mut event = Event::new("login", action).account(name);
    if let Some(counter) = counter {
        event = event.counter(counter);
    }
    kc.record(event)
}

struct Session<'a> {
    kc: &'a Keychain,
    lock: &'a dyn AccountLock,
    account: Account,
    revision: Revision,
    opts: &'a Options,
    /// Where credentials may go (set once the endpoints are known) and what to scrub.
    guard: Guard,
    /// The TOTP secret's lock and its last used step, held during a headless logon.
    steps: Option<steps::SecretSteps>,
}

impl Session<'_> {
    /// Writes the record back, compared with what this session read or last wrote. Kept even
    /// when the log fails afterwards: the provider may already have rotated the refresh token.
    fn save(&mut self) -> Result<()> {
        self.revision = self.kc.commit(
            self.lock,
            Expect::At(self.revision.clone()),
            &mut self.account,
            Vec::new(),
            OnAuditFailure::Keep,
        )?;
        Ok(())
    }

    fn note_use(&mut self, action: &str, ok: bool) {
        self.account.header.last_use = Some(Usage {
            at: self.kc.now(),
            by: crate::whoami::whoami(),
            action: action.into(),
            ok,
        });
    }

    fn run(&mut self) -> Result<Token> {
        let now = self.kc.now();
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
        admission
            .check_errors(&mut self.account.header.provider_errors, now)
            .map_err(Error::NotAdmitted)?;
        // Exact counts a refresh within 570 s of the previous token as an error: serve the
        // cached token while it is valid at all.
        if let Err(too_soon) =
            admission.check_interval(self.account.header.access_token_issued, now)
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

    /// The lockout guard: a password or code the provider rejected is not sent again until a
    /// person changes it (`set`) or says `login --retry`.
    fn check_not_rejected(&self) -> Result<()> {
        let Some(r) = &self.account.header.logon_rejected else {
            return Ok(());
        };
        if self.opts.retry {
            if self.opts.progress {
                crate::progress::step(
                    "keychain: --retry: one logon attempt despite the earlier rejection\n",
                );
            }
            return Ok(());
        }
        Err(Error::RejectedBefore {
            account: self.account.header.name.clone(),
            step: r.step.clone(),
            at: crate::clock::rfc3339(r.at),
            by: r.by.clone(),
        })
    }

    /// Where this account's credentials may go: the hosts of its endpoints and issuer, the
    /// provider's own login hosts (Exact's), and those recorded with `--allow-host`.
    fn policy(&self, endpoints: &Endpoints) -> CredentialPolicy {
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

    fn endpoints(&self, client: &reqwest::blocking::Client) -> Result<Endpoints> {
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
                Error::usage_hint(e.to_string(), e.hint(Some(&self.account.header.name)))
            }
            e => Error::usage(format!("account '{}' {e}", self.account.header.name)),
        })
    }

    /// Stores a token response: the rotated refresh token first of all.
    fn store_tokens(&mut self, response: TokenResponse, source: Source) -> Result<Token> {
        let now = self.kc.now();
        let h = &mut self.account.header;
        // Clamped where it entered (`oauth::MAX_EXPIRES_IN`); saturating all the same.
        let expires_at = response
            .expires_in
            .map(|s| now.saturating_add(i64::try_from(s).unwrap_or(i64::MAX)));
        h.access_token_expires = expires_at;
        h.access_token_issued = Some(now);
        h.access_token_scope = response.scope.clone();
        h.access_token_type = Some(response.token_type.clone());
        if source == Source::Headless {
            // A logon went through: the password and code are right again.
            h.logon_rejected = None;
        }
        if let Some(rt) = response.refresh_token {
            self.guard.scrubber.add(&rt);
            self.account
                .set_secret(SecretField::RefreshToken, Some(rt), now);
            self.account.header.refresh_token_active = Some(now);
        } else if self.account.header.has(SecretField::RefreshToken) {
            self.account.header.refresh_token_active = Some(now);
        }
        self.guard.scrubber.add(&response.access_token);
        self.account.set_secret(
            SecretField::AccessToken,
            Some(response.access_token.clone()),
            now,
        );
        self.note_use(source.as_str(), true);
        self.account.header.last_logon = self.account.header.last_use.clone();
        self.save()?;
        Ok(Token {
            access_token: response.access_token,
            token_type: response.token_type,
            expires_at,
            scope: response.scope,
            source,
        })
    }

    /// Counts an error against the provider's budget, where it keeps one (Exact's).
    fn record_provider_error(&mut self) {
        if provider_of(&self.account).admission().counts_errors() {
            self.account.header.provider_errors.push(self.kc.now());
        }
    }

    /// `Ok(None)` when the provider rejected the refresh token: the chain is broken.
    fn refresh(
        &mut self,
        client: &reqwest::blocking::Client,
        endpoints: &Endpoints,
    ) -> Result<Option<Token>> {
        let client_id = self.client_id()?;
        let refresh_token = self
            .account
            .secret(SecretField::RefreshToken)
            .expect("checked by the caller")
            .clone();
        let client_secret = self.account.secret(SecretField::ClientSecret).cloned();
        if self.opts.progress {
            crate::progress::step(&format!(
                "keychain: refreshing the access token of '{}'\n",
                self.account.header.name
            ));
        }
        match oauth::refresh(
            client,
            endpoints,
            &self.guard,
            &client_id,
            client_secret.as_ref(),
            &refresh_token,
        ) {
            Ok(response) => self.store_tokens(response, Source::Refresh).map(Some),
            Err(TokenError::RateLimited {
                new_refresh_token, ..
            }) if new_refresh_token.is_some() => {
                let now = self.kc.now();
                self.account
                    .set_secret(SecretField::RefreshToken, new_refresh_token, now);
                self.account.header.refresh_token_active = Some(now);
                self.record_provider_error();
                self.note_use("login_failed", false);
                self.save()?;
                Err(Error::Unavailable {
                    what:
                        "the provider rate-limited the refresh (its new refresh token was stored)"
                            .into(),
                    retry: None,
                    cause: None,
                })
            }
            Err(e @ TokenError::Rejected { .. }) => {
                // The provider said the grant is dead (used, expired or revoked): forget the
                // token, so that no later call burns an error on it, and log on again. Only
                // this answer retires a refresh token (see `oauth::is_grant_dead`).
                let now = self.kc.now();
                self.account
                    .set_secret(SecretField::RefreshToken, None, now);
                self.record_provider_error();
                self.note_use("chain_broken", false);
                self.save()?;
                audit(
                    self.kc,
                    &self.account.header.name,
                    Action::ChainBroken,
                    Some(self.account.header.writes),
                )?;
                if self.opts.progress {
                    crate::progress::step(&format!(
                        "keychain: the refresh token was rejected ({e}); logging on again\n"
                    ));
                }
                Ok(None)
            }
            Err(TokenError::UnusableWithRefreshToken {
                path,
                detail,
                new_refresh_token,
            }) => {
                // The old refresh token may be spent: keep the one the answer carried.
                let now = self.kc.now();
                self.account
                    .set_secret(SecretField::RefreshToken, Some(new_refresh_token), now);
                self.account.header.refresh_token_active = Some(now);
                self.record_provider_error();
                self.note_use("login_failed", false);
                self.save()?;
                Err(Error::Unavailable {
                    what: format!(
                        "the token endpoint {path} answered something unexpected: {detail}; its new refresh token was stored"
                    ),
                    retry: None,
                    cause: None,
                })
            }
            Err(TokenError::Policy(refused)) => Err(self.policy_error(&refused)),
            Err(e) if self.lacks_client_secret(&e) => Err(self.client_secret_error(e)),
            Err(e) => {
                if matches!(e, TokenError::RateLimited { .. }) {
                    self.record_provider_error();
                    self.note_use("login_failed", false);
                    self.save()?;
                } else if matches!(e, TokenError::Refused { .. })
                    && provider_of(&self.account).admission().counts_errors()
                {
                    // Exact counts it against the app's error budget; the token is kept.
                    self.record_provider_error();
                    self.save()?;
                }
                Err(Error::Unavailable {
                    what: "the refresh did not go through".into(),
                    retry: None,
                    cause: Some(ProviderCause::Token(Box::new(e))),
                })
            }
        }
    }

    /// A credential kept home: exit 2, naming the host, the step and the flag that allows it.
    /// The token endpoint refused the client, and the account has no client secret to
    /// authenticate it with: a setting is missing, which no wait will bring (exit 2, not 5).
    fn lacks_client_secret(&self, e: &TokenError) -> bool {
        matches!(e, TokenError::Refused { error, .. } | TokenError::Rejected { error, .. }
            if error == "invalid_client" || error == "unauthorized_client")
            && !self.account.header.has(SecretField::ClientSecret)
    }

    fn client_secret_error(&self, e: TokenError) -> Error {
        let name = &self.account.header.name;
        Error::usage_hint(
            format!("account '{name}' has no client secret, and the provider requires one: {e}"),
            format!("store it with 'keychain set {name} --client-secret-file FILE'"),
        )
    }

    fn policy_error(&self, refused: &oauth::CredentialRefused) -> Error {
        Error::usage_hint(refused.to_string(), refused.hint(&self.account.header.name))
    }

    /// Fails before anything is sent when the TOTP step this logon would need was used by the
    /// previous one and the next comes later than [`max_totp_wait`].
    fn check_fresh_step(&mut self, totp: &TotpSecret) -> Result<()> {
        let local = self.kc.now().max(0) as u64;
        let last = self.last_used_step(totp, local)?;
        // A step further ahead was recorded on a provider's clock (followed within the bound):
        // only the logon itself, which sees that clock, can tell whether a fresh one is near.
        if last.is_some_and(|l| l > totp.step_at(local).saturating_add(1)) {
            return Ok(());
        }
        let min_left = TOTP_MIN_SECONDS_LEFT.min(totp.period);
        match wait_for_fresh_step(totp, last, local, min_left) {
            Ok(pause) if pause > max_totp_wait(totp.period) => Err(Error::Unavailable {
                what: format!(
                    "the TOTP code of this time step was used by the previous logon (of this account or another with the same secret); the next one comes in {pause} s, later than keychain waits ({} s)",
                    max_totp_wait(totp.period)
                ),
                retry: Some(format!("in {pause} s")),
                cause: None,
            }),
            Ok(_) => Ok(()),
            Err(what) => Err(Error::Unavailable {
                what,
                retry: None,
                cause: None,
            }),
        }
    }

    /// The last step used with this account's TOTP secret, as it may be believed: the
    /// secret's own (any account, process or machine) when it has one; else, as before steps
    /// were kept per secret, the record's. Either is believed only up to the bound past when it
    /// was written (the record's: its last logon) and never beyond our clock plus the bound, so
    /// a step recorded ahead blocks logons for at most that long.
    fn last_used_step(&mut self, totp: &TotpSecret, local: u64) -> Result<Option<u64>> {
        let of_secret = match &mut self.steps {
            Some(steps) => steps.last_used(totp, local, BOUND)?,
            None => None,
        };
        let last = of_secret.or_else(|| {
            let written = self
                .account
                .header
                .last_logon
                .as_ref()
                .map_or(local, |u| u64::try_from(u.at).unwrap_or(0).min(local));
            self.account
                .header
                .last_totp_step
                .map(|l| l.min(totp.step_at(written.saturating_add(BOUND))))
        });
        Ok(used_step(totp, last, local))
    }

    fn client_id(&self) -> Result<String> {
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

    fn headless(
        &mut self,
        client: &reqwest::blocking::Client,
        endpoints: &Endpoints,
    ) -> Result<Token> {
        // A refresh before this may have taken long: no logon under a lease that may be gone.
        self.lock.still_held()?;
        let name = self.account.header.name.clone();
        let password = self.account.secret(SecretField::Password).cloned().ok_or_else(|| {
            Error::usage_hint(
                format!("account '{name}' has no valid refresh token and no password to log on with"),
                format!("store a password with 'keychain set {name} --password-file FILE', or a new refresh token with --refresh-token-file"),
            )
        })?;
        let redirect = self
            .account
            .header
            .provider
            .redirect_uri
            .clone()
            .ok_or_else(|| {
                Error::usage_hint(
                    format!("account '{name}' has no redirect URI to log on with"),
                    format!("set one with 'keychain set {name} --redirect-uri URL'"),
                )
            })?;
        let redirect_uri = Url::parse(&redirect).map_err(|_| {
            Error::usage(format!("the redirect URI of account '{name}' is not a URL"))
        })?;
        let client_id = self.client_id()?;
        let scope = self
            .account
            .header
            .provider
            .scope
            .clone()
            .unwrap_or_else(|| provider_of(&self.account).default_scope().to_string());
        let user = self.account.header.user.clone();
        let flow = match self.account.header.provider.flow {
            Flow::Code => logon::Flow::Code,
            Flow::Implicit => logon::Flow::Implicit,
        };
        let totp = match self.account.secret(SecretField::TotpSecret) {
            Some(_) => Some(self.account.totp()?),
            None => None,
        };
        if let Some(totp) = &totp {
            // Held until the provider has answered the code: another account with the same
            // secret waits here, then sees this logon's step as used.
            self.steps = Some(steps::SecretSteps::lock(self.kc, totp)?);
            // Before the password leaves: a code is needed later and none would come in time.
            self.check_fresh_step(totp)?;
        }
        // The logon borrows the guard while the step guard changes the session.
        let guard = self.guard.clone();
        let request = LogonRequest {
            endpoints,
            guard: &guard,
            client_id: &client_id,
            redirect_uri: &redirect_uri,
            scope: &scope,
            flow,
            adapters: provider_of(&self.account).page_adapters(),
            user: &user,
            password: &password,
            debug_pages: self.opts.debug_pages.as_deref(),
            progress: self.opts.progress,
            clock: &**self.kc.clock(),
        };
        let mut tried_again = false;
        let outcome = loop {
            let outcome = {
                let mut guard = totp.as_ref().map(|t| StepGuard {
                    totp: t,
                    session: self,
                });
                logon::headless_logon(&request, guard.as_mut().map(|g| g as &mut dyn TotpProvider))
            };
            match outcome {
                // A used or expired code is not a wrong secret: its step is recorded as used,
                // so the next attempt waits for a fresh one. Once only.
                Err(e) if e.is_code_not_taken() && !tried_again => {
                    tried_again = true;
                    if self.opts.progress {
                        crate::progress::step(&format!(
                            "keychain: {e}; logging on once more with the next time step's code\n"
                        ));
                    }
                }
                outcome => break outcome,
            }
        };
        // The provider has answered the code: the secret is free for the next account.
        self.steps = None;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                let class = e.class();
                self.note_use("login_failed", false);
                self.account.header.last_logon = self.account.header.last_use.clone();
                if class == ErrorClass::Rejected {
                    self.record_provider_error();
                    // The lockout guard, written under the lock before exit 4: no later run
                    // sends this password or code again.
                    self.account.header.logon_rejected = Some(Rejection {
                        at: self.kc.now(),
                        by: crate::whoami::whoami(),
                        step: match &e {
                            LogonError::Rejected { step, .. } => step.clone(),
                            _ => "authorization".into(),
                        },
                    });
                }
                self.save()?;
                return Err(match e {
                    LogonError::Policy(refused) => self.policy_error(&refused),
                    e @ LogonError::DebugPages { .. } => Error::usage(e.to_string()),
                    e => logon_error(e, &name),
                });
            }
        };
        let response = match outcome {
            LogonOutcome::Token(response) => response,
            LogonOutcome::Code {
                code,
                code_verifier,
            } => {
                let client_secret = self.account.secret(SecretField::ClientSecret).cloned();
                oauth::exchange_code(
                    client,
                    endpoints,
                    &self.guard,
                    &client_id,
                    client_secret.as_ref(),
                    &code,
                    &code_verifier,
                    &redirect_uri,
                )
                .map_err(|e| match e {
                    TokenError::Policy(refused) => self.policy_error(&refused),
                    e if self.lacks_client_secret(&e) => self.client_secret_error(e),
                    e if e.class() == ErrorClass::Rejected => Error::Rejected {
                        what: "the provider refused the authorization code".into(),
                        account: name.clone(),
                        cause: ProviderCause::Token(Box::new(e)),
                    },
                    e => Error::Unavailable {
                        what: "the authorization code could not be exchanged for tokens".into(),
                        retry: None,
                        cause: Some(ProviderCause::Token(Box::new(e))),
                    },
                })?
            }
        };
        self.store_tokens(response, Source::Headless)
    }
}

fn logon_error(e: LogonError, account: &str) -> Error {
    match e.class() {
        ErrorClass::Rejected => Error::Rejected {
            what: "the headless logon was rejected".into(),
            account: account.into(),
            cause: ProviderCause::Logon(Box::new(e)),
        },
        // What the account lacks (a TOTP secret the provider asks for): exit 2, with the
        // account's own command in the hint.
        ErrorClass::Policy => match e.hint(Some(account)) {
            Some(hint) => Error::usage_hint(format!("account '{account}': {e}"), hint),
            None => Error::usage(format!("account '{account}': {e}")),
        },
        ErrorClass::Unavailable | ErrorClass::Protocol => Error::Unavailable {
            what: "the headless logon did not finish".into(),
            retry: None,
            cause: Some(ProviderCause::Logon(Box::new(e))),
        },
    }
}

/// Hands the logon a TOTP code, never of a step used before, never with too little time left,
/// and records the step in the account **before** the code leaves the process.
struct StepGuard<'s, 'a> {
    totp: &'s TotpSecret,
    session: &'s mut Session<'a>,
}

impl TotpProvider for StepGuard<'_, '_> {
    fn code(&mut self, provider_time: u64) -> std::result::Result<SecretString, LogonError> {
        let totp = self.totp;
        let min_left = TOTP_MIN_SECONDS_LEFT.min(totp.period);
        let mut waited = 0;
        loop {
            // Whatever the engine was told, never a time beyond our clock ± the bound: a step
            // recorded as used a year ahead would block every later logon.
            let local = self.session.kc.now().max(0) as u64;
            let t = provider_time
                .saturating_add(waited)
                .clamp(local.saturating_sub(BOUND), local.saturating_add(BOUND));
            let last = self
                .session
                .last_used_step(totp, local)
                .map_err(|e| LogonError::Totp(format!("cannot read the used TOTP step: {e}")))?;
            let bound = max_totp_wait(totp.period);
            let pause = match wait_for_fresh_step(totp, last, t, min_left) {
                Ok(0) => {
                    let step = totp.step_at(t);
                    // The secret's step first: it is what other accounts and machines see.
                    if let Some(steps) = &mut self.session.steps {
                        steps.record(step, totp.period, local as i64).map_err(|e| {
                            LogonError::Totp(format!("cannot record the TOTP step: {e}"))
                        })?;
                    }
                    self.session.account.header.last_totp_step = Some(step);
                    self.session.save().map_err(|e| {
                        LogonError::Totp(format!("cannot record the TOTP step: {e}"))
                    })?;
                    let code = totp.code_at(t);
                    self.session.guard.scrubber.add(&code);
                    return Ok(code);
                }
                Ok(pause) if waited + pause <= bound => pause,
                Ok(pause) => {
                    return Err(LogonError::Totp(format!(
                        "the next unused TOTP time step starts in {pause} s, longer than keychain waits ({bound} s) while holding the account; try again then"
                    )));
                }
                Err(e) => return Err(LogonError::Totp(e)),
            };
            if self.session.opts.progress {
                crate::progress::step(&format!(
                    "keychain: waiting {pause} s for a fresh TOTP code\n"
                ));
            }
            // Shown on a terminal (the front end's observer), whatever `progress` says: a wait
            // of up to a period must not look like a hang.
            let _waiting = crate::progress::waiting(&format!(
                "waiting {pause} s for a fresh TOTP time step (one not used before by this secret)"
            ));
            self.session.kc.clock().sleep(Duration::from_secs(pause));
            waited += pause;
        }
    }
}

/// How far the provider's clock may be followed, as an unsigned number of seconds.
const BOUND: u64 = MAX_CLOCK_OFFSET as u64;

/// The last used step as it may be believed: never beyond our clock plus the bound. A step
/// recorded further ahead (by an older version that followed a provider's `Date` a year ahead)
/// would otherwise block every logon until a person re-entered the secret.
fn used_step(totp: &TotpSecret, last: Option<u64>, local: u64) -> Option<u64> {
    last.map(|l| l.min(totp.step_at(local.saturating_add(BOUND))))
}

/// Seconds to wait at time `t` until a step after `last` with `min_left` seconds left begins;
/// 0 when the current step will do. Total for any input: no overflow, no division by zero.
fn wait_for_fresh_step(
    totp: &TotpSecret,
    last: Option<u64>,
    t: u64,
    min_left: u64,
) -> std::result::Result<u64, String> {
    let step = totp.step_at(t);
    let fresh = last.is_none_or(|l| step > l);
    if fresh && totp.seconds_left(t) >= min_left {
        return Ok(0);
    }
    // The first usable step: the next one, or the one after the used one.
    let next = match last {
        Some(l) if l >= step => l.checked_add(1),
        _ => step.checked_add(1),
    };
    next.and_then(|n| n.checked_mul(totp.period))
        .map(|start| start.saturating_sub(t))
        .ok_or_else(|| "no usable TOTP time step (is the clock right?)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_step_waits_are_total_and_bounded_by_the_step() {
        let totp = TotpSecret::parse("JBSWY3DPEHPK3PXP").unwrap();
        // Fresh, with time left: no wait.
        assert_eq!(wait_for_fresh_step(&totp, None, 60, 3), Ok(0));
        // Fresh but only 2 s left: wait for the next step.
        assert_eq!(wait_for_fresh_step(&totp, None, 88, 3), Ok(2));
        // The current step was used: wait for the next one.
        assert_eq!(wait_for_fresh_step(&totp, Some(2), 61, 3), Ok(29));
        // Extremes: no panic, no overflow.
        assert!(wait_for_fresh_step(&totp, Some(u64::MAX), 0, 3).is_err());
        assert!(wait_for_fresh_step(&totp, None, u64::MAX, 3).is_ok());
        // A used step far ahead is believed only up to our clock plus the bound.
        let now = 1_700_000_000;
        let believed = used_step(&totp, Some(u64::MAX / 2), now).unwrap();
        assert_eq!(believed, (now + BOUND) / 30);
    }
}

#[cfg(test)]
mod clock_tests;
