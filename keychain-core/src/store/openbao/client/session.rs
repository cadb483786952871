//! Where a [`KvClient`]'s token comes from and when it is dropped: one call with the current
//! token, and on a 403 caused by a dead token one fresh login and one more try; a token
//! obtained once and kept no longer than its TTL (an AppRole login's token also across runs,
//! in the kernel keyring: see `token_cache`).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::super::auth::{Auth, LoginAnswer, Token, read_credential};
use super::transport::Started;
use super::{Answer, BaoError, KvClient};

/// A call whose first try is under way ([`KvClient::start_call`]).
pub(super) struct StartedCall {
    first: Started,
    token: SecretString,
    method: Method,
    api: String,
    body: Option<Value>,
    capability: &'static str,
}

impl StartedCall {
    /// The path called, for messages.
    pub(super) fn api(&self) -> &str {
        &self.api
    }
}

/// A token obtained by login is dropped this long before its TTL runs out, so that no call
/// starts with a token about to expire.
const TOKEN_MARGIN: Duration = Duration::from_secs(10);

impl KvClient {
    /// One call with the current token; on a 403 caused by a dead token, one fresh login and
    /// one more try.
    pub(super) fn call(
        &self,
        method: Method,
        api: &str,
        body: Option<&Value>,
        capability: &'static str,
    ) -> Result<Answer, BaoError> {
        let token = self.token()?;
        let answer = self.send(method.clone(), api, body, Some(&token))?;
        self.after_first_try(answer, &token, method, api, body, capability)
    }

    /// [`Self::call`], its first try sent now ([`KvClient::start`]) and the rest done at
    /// [`Self::finish_call`]: the same tries, in the same order, with the same token and
    /// body; only the wait for the first answer moves.
    pub(super) fn start_call(
        &self,
        method: Method,
        api: String,
        body: Option<Value>,
        capability: &'static str,
    ) -> Result<StartedCall, BaoError> {
        let token = self.token()?;
        let first = self.start(method.clone(), &api, body.as_ref(), Some(&token))?;
        Ok(StartedCall {
            first,
            token,
            method,
            api,
            body,
            capability,
        })
    }

    /// The answer of a call [`Self::start_call`] started, as [`Self::call`] gives it.
    pub(super) fn finish_call(&self, call: StartedCall) -> Result<Answer, BaoError> {
        let answer = self.finish(call.first)?;
        self.after_first_try(
            answer,
            &call.token,
            call.method,
            &call.api,
            call.body.as_ref(),
            call.capability,
        )
    }

    /// [`Self::call`] once its first try (with `token`) answered.
    fn after_first_try(
        &self,
        answer: Answer,
        token: &SecretString,
        method: Method,
        api: &str,
        body: Option<&Value>,
        capability: &'static str,
    ) -> Result<Answer, BaoError> {
        if answer.status != StatusCode::FORBIDDEN {
            return Ok(answer);
        }
        if self.token_is_valid(token)? {
            return Err(self.forbidden(api, capability));
        }
        // The token died (TTL, revocation): log in again once.
        self.forget_token(token);
        if !self.can_relogin() {
            return Err(BaoError::TokenExpired {
                addr: self.addr().to_string(),
                relogged: false,
            });
        }
        let token = self.token()?;
        let answer = self.send(method, api, body, Some(&token))?;
        if answer.status != StatusCode::FORBIDDEN {
            return Ok(answer);
        }
        if self.token_is_valid(&token)? {
            return Err(self.forbidden(api, capability));
        }
        self.forget_token(&token);
        Err(BaoError::TokenExpired {
            addr: self.addr().to_string(),
            relogged: true,
        })
    }

    /// Whether the token is still valid, asked with `auth/token/lookup-self` (which every
    /// token may call under the default policy).
    fn token_is_valid(&self, token: &SecretString) -> Result<bool, BaoError> {
        let answer = self.send(Method::GET, "auth/token/lookup-self", None, Some(token))?;
        Ok(answer.status == StatusCode::OK)
    }

    /// The policies of this machine's token, as `auth/token/lookup-self` names them. keychain
    /// needs that call: a 403 is looked into with it. Its own 403 is reported as the policy
    /// lacking `read` on it, so ask it only after a call that proved the token valid.
    pub fn token_policies(&self) -> Result<Vec<String>, BaoError> {
        let api = "auth/token/lookup-self";
        let token = self.token()?;
        let answer = self.send(Method::GET, api, None, Some(&token))?;
        match answer.status {
            StatusCode::OK => self.strings(&answer.body, "/data/policies", api),
            StatusCode::FORBIDDEN => Err(self.forbidden(api, "read")),
            status => Err(self.unexpected(api, status, &answer.body)),
        }
    }

    fn can_relogin(&self) -> bool {
        self.inner.auth.can_relogin()
    }

    /// Drops the token `dead` (the server refused it), here and in the kernel keyring, unless
    /// another thread of this process replaced it meanwhile (two requests in flight at once
    /// both saw it refused): then that replacement is used, and there is one login, not two.
    fn forget_token(&self, dead: &SecretString) {
        let mut cached = self.inner.token.lock().unwrap_or_else(|p| p.into_inner());
        if cached.as_ref().is_some_and(|current| {
            !crate::secret::ct_eq_str(current.secret.expose_secret(), dead.expose_secret())
        }) {
            return;
        }
        *cached = None;
        if let Some(key) = &self.inner.kept_as {
            forget_kept_token(key);
        }
    }

    /// The token to use now: the cached one while its TTL lasts, else one an earlier run kept
    /// in the kernel keyring, else a new one (then kept there for later runs).
    fn token(&self) -> Result<SecretString, BaoError> {
        let mut cached = self.inner.token.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(token) = cached.as_ref()
            && token.use_until.is_none_or(|until| Instant::now() < until)
        {
            return Ok(token.secret.clone());
        }
        if let Some(token) = self.inner.kept_as.as_deref().and_then(load_kept_token) {
            let secret = token.secret.clone();
            *cached = Some(token);
            return Ok(secret);
        }
        let token = self.obtain_token()?;
        if let Some(key) = &self.inner.kept_as {
            keep_token(key, &token);
        }
        let secret = token.secret.clone();
        *cached = Some(token);
        Ok(secret)
    }

    fn obtain_token(&self) -> Result<Token, BaoError> {
        match &self.inner.auth {
            Auth::Static { source } => Ok(Token {
                secret: source.read()?,
                use_until: None,
            }),
            Auth::AppRole {
                role_id_file,
                secret_id_file,
            } => {
                let role_id = read_credential(role_id_file, "role id")?;
                let secret_id = read_credential(secret_id_file, "secret id")?;
                let started = Instant::now();
                let api = "auth/approle/login";
                let body = json!({
                    "role_id": role_id.expose_secret(),
                    "secret_id": secret_id.expose_secret(),
                });
                let answer = self.send(Method::POST, api, Some(&body), None)?;
                match answer.status {
                    StatusCode::OK => {}
                    StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN => {
                        return Err(BaoError::LoginRefused {
                            addr: self.addr().to_string(),
                        });
                    }
                    status => return Err(self.unexpected(api, status, &answer.body)),
                }
                let login: LoginAnswer = serde_json::from_value(answer.body)
                    .map_err(|_| self.bad(api, "no auth.client_token in the login answer"))?;
                let ttl = Duration::from_secs(login.auth.lease_duration);
                // Counted from before the call: the server's TTL started no earlier.
                let use_until = (login.auth.lease_duration > 0)
                    .then(|| started + ttl.saturating_sub(TOKEN_MARGIN.min(ttl / 4)));
                Ok(Token {
                    secret: login.auth.client_token,
                    use_until,
                })
            }
        }
    }
}

#[cfg(target_os = "linux")]
pub(super) fn kept_token_key(
    addr: &str,
    role_id_file: &std::path::Path,
    secret_id_file: &std::path::Path,
) -> Option<String> {
    Some(super::super::token_cache::description(
        addr,
        role_id_file,
        secret_id_file,
    ))
}
#[cfg(target_os = "linux")]
use super::super::token_cache::{
    load as load_kept_token, remove as forget_kept_token, store as keep_token,
};

// No kernel keyring: every process logs in once.
#[cfg(not(target_os = "linux"))]
pub(super) fn kept_token_key(_: &str, _: &std::path::Path, _: &std::path::Path) -> Option<String> {
    None
}
#[cfg(not(target_os = "linux"))]
fn load_kept_token(_: &str) -> Option<Token> {
    None
}
#[cfg(not(target_os = "linux"))]
fn forget_kept_token(_: &str) {}
#[cfg(not(target_os = "linux"))]
fn keep_token(_: &str, _: &Token) {}
