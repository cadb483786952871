//! Obtaining a valid access token for an account: from the cache, by refresh, or by a headless
//! logon, without ever breaking a single-use refresh-token chain.
//!
//! Order of operations (the reason this module exists):
//! 1. Without a lock, a cached token valid for more than the margin is served as it is.
//! 2. Otherwise the account's lock is taken and the record **re-read**: another process may have
//!    refreshed meanwhile, and then its token is served.
//! 3. A refresh's rotated refresh token is written back (atomically) before anything else, even
//!    when the provider rate-limits but still hands out a new one.
//! 4. A rejected refresh (the chain is broken) falls back to one headless logon; a rejected
//!    logon is never retried: accounts get locked out.
//! 5. The TOTP time step is recorded before a code is submitted, so no step is used twice.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::audit::Event;
use crate::error::{Error, Result};
use crate::keychain::{Keychain, OnAuditFailure};
use crate::logon::{self, LogonError, LogonOutcome, LogonRequest, TotpProvider};
use crate::oauth::{self, Endpoints, ErrorClass, ProviderKind, TokenError, TokenResponse};
use crate::record::{Account, Flow, SecretField, Usage};
use crate::store::{AccountLock, Expect, Revision};
use crate::totp::TotpSecret;
use crate::trail::Action;

/// Exact Online refuses a new access token earlier than this after the previous one.
pub const EXACT_MIN_REFRESH_INTERVAL: i64 = 570;
/// Exact Online blocks an app for an hour after 10 errors in an hour; stop before that.
pub const EXACT_ERROR_BUDGET: usize = 8;
const HOUR: i64 = 3600;
/// Never submit a code with fewer seconds than this left in its time step.
const TOTP_MIN_SECONDS_LEFT: u64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cache,
    Refresh,
    Headless,
}

impl Source {
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
    pub access_token: SecretString,
    pub token_type: String,
    pub expires_at: Option<i64>,
    pub scope: Option<String>,
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

pub struct Options {
    /// Serve a cached token only when it stays valid for more than this.
    pub min_valid: i64,
    pub debug_pages: Option<PathBuf>,
    pub progress: bool,
}

/// The cached token of `account` when it stays valid for more than `min_valid` seconds.
fn cached(account: &Account, now: i64, min_valid: i64) -> Option<Token> {
    let token = account.secret(SecretField::AccessToken)?;
    let expires = account.header.access_token_expires?;
    (expires - now > min_valid).then(|| Token {
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

fn is_exact(account: &Account) -> bool {
    account.header.provider.kind.starts_with("exact-")
}

/// Who is using the account, for its record and the audit.
pub fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid {}", rustix::process::getuid().as_raw()))
}

/// A valid access token for `name`.
pub fn obtain(kc: &Keychain, name: &str, opts: &Options) -> Result<Token> {
    // 1. The lean path: one read, one decryption, no lock, no write.
    let (account, _) = kc.read(name)?;
    let now = crate::clock::now();
    if let Some(token) = cached(&account, now, opts.min_valid) {
        audit(kc, name, Action::LoginCache, None)?;
        return Ok(token);
    }
    drop(account);

    // 2. Lock, then re-read, then decide. Nothing is asked of the provider unless the log can
    //    record it and the configuration authenticates (a rotated token must be storable).
    let lock = kc.lock(name)?;
    let (account, revision) = kc.read(name)?;
    kc.check_config()?;
    kc.check_audit()?;
    let mut session = Session {
        kc,
        lock: &*lock,
        account,
        revision,
        opts,
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
            let reason = format!("exit {}: {}", e.exit_code(), e);
            audit(Action::LoginFailed(reason))?;
            Err(e)
        }
    }
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
            at: crate::clock::now(),
            by: os_user(),
            action: action.into(),
            ok,
        });
    }

    fn run(&mut self) -> Result<Token> {
        let now = crate::clock::now();
        if let Some(token) = cached(&self.account, now, self.opts.min_valid) {
            return Ok(token);
        }
        if is_exact(&self.account) {
            self.check_exact_rules(now)?;
            // Exact counts a refresh within 570 s of the previous token as an error: serve the
            // cached token while it is valid at all.
            if let Some(issued) = self.account.header.access_token_issued
                && now - issued < EXACT_MIN_REFRESH_INTERVAL
            {
                if let Some(token) = cached(&self.account, now, 0) {
                    return Ok(token);
                }
                return Err(Error::Unavailable(format!(
                    "Exact Online allows a new access token {} s after the previous one; try again in {} s",
                    EXACT_MIN_REFRESH_INTERVAL,
                    EXACT_MIN_REFRESH_INTERVAL - (now - issued)
                )));
            }
        }
        let client = oauth::http::client()
            .map_err(|_| Error::Unavailable("cannot set up the HTTP client".into()))?;
        let endpoints = self.endpoints(&client)?;

        if self.account.secret(SecretField::RefreshToken).is_some() {
            // `None`: the chain is broken, log on again.
            if let Some(token) = self.refresh(&client, &endpoints)? {
                return Ok(token);
            }
        }
        self.headless(&client, &endpoints)
    }

    fn check_exact_rules(&mut self, now: i64) -> Result<()> {
        let errors = &mut self.account.header.provider_errors;
        errors.retain(|t| now - t < HOUR);
        if errors.len() >= EXACT_ERROR_BUDGET {
            let oldest = errors.iter().min().copied().unwrap_or(now);
            return Err(Error::Unavailable(format!(
                "{} errors from Exact Online in the last hour: keychain stops before Exact blocks the app (10 per hour); try again after {}",
                errors.len(),
                crate::clock::rfc3339(oldest + HOUR)
            )));
        }
        Ok(())
    }

    fn endpoints(&self, client: &reqwest::blocking::Client) -> Result<Endpoints> {
        let p = &self.account.header.provider;
        let kind: ProviderKind = p.kind.parse().map_err(|e: String| Error::usage(e))?;
        let parse = |what: &str, v: &Option<String>| -> Result<Url> {
            let text = v.as_deref().ok_or_else(|| {
                Error::usage(format!(
                    "account '{}' has no {what}",
                    self.account.header.name
                ))
            })?;
            Url::parse(text).map_err(|_| {
                Error::usage(format!(
                    "the {what} of account '{}' is not a URL",
                    self.account.header.name
                ))
            })
        };
        match kind {
            ProviderKind::Oidc => {
                let issuer = parse("issuer", &p.issuer)?;
                oauth::discover(client, &issuer).map_err(|e| match e.class() {
                    ErrorClass::Unavailable => Error::Unavailable(e.to_string()),
                    _ => Error::usage(e.to_string()),
                })
            }
            ProviderKind::Oauth2 => Ok(Endpoints {
                authorize: parse("authorize URL", &p.authorize_url)?,
                token: parse("token URL", &p.token_url)?,
            }),
            // Explicit URLs point an Exact account at a proxy or an emulator; Exact's rules still apply.
            ProviderKind::Exact(_) if p.authorize_url.is_some() => Ok(Endpoints {
                authorize: parse("authorize URL", &p.authorize_url)?,
                token: parse("token URL", &p.token_url)?,
            }),
            ProviderKind::Exact(country) => {
                Ok(oauth::exact_endpoints(&country).expect("known country"))
            }
        }
    }

    /// Stores a token response: the rotated refresh token first of all.
    fn store_tokens(&mut self, response: TokenResponse, source: Source) -> Result<Token> {
        let now = crate::clock::now();
        let h = &mut self.account.header;
        let expires_at = response.expires_in.map(|s| now + s as i64);
        h.access_token_expires = expires_at;
        h.access_token_issued = Some(now);
        h.access_token_scope = response.scope.clone();
        h.access_token_type = Some(response.token_type.clone());
        if let Some(rt) = response.refresh_token {
            self.account
                .set_secret(SecretField::RefreshToken, Some(rt), now);
            self.account.header.refresh_token_active = Some(now);
        } else if self.account.header.has(SecretField::RefreshToken) {
            self.account.header.refresh_token_active = Some(now);
        }
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

    fn record_provider_error(&mut self) {
        if is_exact(&self.account) {
            self.account
                .header
                .provider_errors
                .push(crate::clock::now());
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
            eprintln!(
                "keychain: refreshing the access token of '{}'",
                self.account.header.name
            );
        }
        match oauth::refresh(
            client,
            endpoints,
            &client_id,
            client_secret.as_ref(),
            &refresh_token,
        ) {
            Ok(response) => self.store_tokens(response, Source::Refresh).map(Some),
            Err(TokenError::RateLimited {
                new_refresh_token, ..
            }) if new_refresh_token.is_some() => {
                let now = crate::clock::now();
                self.account
                    .set_secret(SecretField::RefreshToken, new_refresh_token, now);
                self.account.header.refresh_token_active = Some(now);
                self.record_provider_error();
                self.note_use("login_failed", false);
                self.save()?;
                Err(Error::Unavailable("the provider rate-limited the refresh (its new refresh token was stored); try again later".into()))
            }
            Err(e @ TokenError::Rejected { .. }) => {
                // The stored refresh token is dead (used, expired or revoked): forget it, so that
                // no later call burns an error on it, and log on again.
                let now = crate::clock::now();
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
                    eprintln!("keychain: the refresh token was rejected ({e}); logging on again");
                }
                Ok(None)
            }
            Err(e) => {
                if matches!(e, TokenError::RateLimited { .. }) {
                    self.record_provider_error();
                    self.note_use("login_failed", false);
                    self.save()?;
                }
                Err(Error::Unavailable(e.to_string()))
            }
        }
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
            .unwrap_or_else(|| default_scope(&self.account));
        let user = self.account.header.user.clone();
        let flow = match self.account.header.provider.flow {
            Flow::Code => logon::Flow::Code,
            Flow::Implicit => logon::Flow::Implicit,
        };
        let totp = match self.account.secret(SecretField::TotpSecret) {
            Some(_) => Some(self.account.totp()?),
            None => None,
        };
        let request = LogonRequest {
            endpoints,
            client_id: &client_id,
            redirect_uri: &redirect_uri,
            scope: &scope,
            flow,
            user: &user,
            password: &password,
            debug_pages: self.opts.debug_pages.as_deref(),
            progress: self.opts.progress,
        };
        let outcome = {
            let mut guard = totp.as_ref().map(|t| StepGuard {
                totp: t,
                session: self,
            });
            logon::headless_logon(&request, guard.as_mut().map(|g| g as &mut dyn TotpProvider))
        };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                let class = e.class();
                self.note_use("login_failed", false);
                self.account.header.last_logon = self.account.header.last_use.clone();
                if class == ErrorClass::Rejected {
                    self.record_provider_error();
                }
                self.save()?;
                return Err(logon_error(e));
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
                    &client_id,
                    client_secret.as_ref(),
                    &code,
                    &code_verifier,
                    &redirect_uri,
                )
                .map_err(|e| match e.class() {
                    ErrorClass::Rejected => {
                        Error::Rejected(format!("the provider refused the authorization code: {e}"))
                    }
                    _ => Error::Unavailable(e.to_string()),
                })?
            }
        };
        self.store_tokens(response, Source::Headless)
    }
}

fn default_scope(account: &Account) -> String {
    if account.header.provider.kind == "oidc" {
        "openid offline_access".into()
    } else {
        String::new()
    }
}

fn logon_error(e: LogonError) -> Error {
    match e.class() {
        ErrorClass::Rejected => Error::Rejected(e.to_string()),
        ErrorClass::Unavailable => Error::Unavailable(e.to_string()),
        ErrorClass::Protocol => Error::Unavailable(e.to_string()),
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
        let local_start = crate::clock::now();
        let period = self.totp.period;
        let mut t = provider_time;
        let last = self.session.account.header.last_totp_step;
        let mut waited = 0;
        loop {
            let step = self.totp.step_at(t);
            let fresh = last.is_none_or(|l| step > l);
            if fresh && self.totp.seconds_left(t) >= TOTP_MIN_SECONDS_LEFT {
                break;
            }
            let pause = self.totp.seconds_left(t);
            waited += pause;
            if waited > 3 * period {
                return Err(LogonError::Totp(
                    "no fresh TOTP time step within three periods (is the clock right?)".into(),
                ));
            }
            if self.session.opts.progress {
                eprintln!("keychain: waiting {pause} s for a fresh TOTP code");
            }
            std::thread::sleep(Duration::from_secs(pause));
            t = provider_time + (crate::clock::now() - local_start).max(0) as u64;
        }
        let step = self.totp.step_at(t);
        self.session.account.header.last_totp_step = Some(step);
        self.session
            .save()
            .map_err(|e| LogonError::Totp(format!("cannot record the TOTP step: {e}")))?;
        Ok(self.totp.code_at(t))
    }
}

/// The token as the chosen output format.
pub fn format(token: &Token, format: OutputFormat) -> zeroize::Zeroizing<String> {
    let value = token.access_token.expose_secret();
    zeroize::Zeroizing::new(match format {
        OutputFormat::Token => format!("{value}\n"),
        OutputFormat::Header => format!("Authorization: Bearer {value}\n"),
        // For `eval`: single quotes, and any quote in the token closed, escaped and reopened.
        OutputFormat::Env => format!(
            "export KEYCHAIN_ACCESS_TOKEN='{}'\n",
            value.replace('\'', r"'\''")
        ),
        OutputFormat::Json => {
            let json = serde_json::json!({
                "access_token": value,
                "token_type": token.token_type,
                "expires_at": token.expires_at.map(crate::clock::rfc3339),
                "expires_in": token.expires_at.map(|e| (e - crate::clock::now()).max(0)),
                "scope": token.scope,
            });
            format!("{json}\n")
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// The bare token and a newline
    Token,
    /// JSON with the token, its type, expiry and scope
    Json,
    /// `export KEYCHAIN_ACCESS_TOKEN=...` for `eval`
    Env,
    /// `Authorization: Bearer ...`
    Header,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_format_quotes_a_quote_in_the_token() {
        let token = Token {
            access_token: SecretString::from("a'b;c".to_string()),
            token_type: "bearer".into(),
            expires_at: None,
            scope: None,
            source: Source::Cache,
        };
        assert_eq!(
            *format(&token, OutputFormat::Env),
            "export KEYCHAIN_ACCESS_TOKEN='a'\\''b;c'\n"
        );
    }
}
