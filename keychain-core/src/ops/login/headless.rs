//! The headless logon with the stored password and TOTP secret, when there is no refresh token
//! or its grant is dead; a rejection sets the lockout guard before the error leaves.

use url::Url;

use crate::error::{Error, ProviderCause, Result};
use crate::logon::{self, LogonError, LogonOutcome, LogonRequest, TotpSource};
use crate::oauth::{self, Endpoints, ErrorClass, TokenError};
use crate::providers::Flow;
use crate::record::{Rejection, SecretField};

use super::session::{Session, provider_of};
use super::steps;
use super::totp::StepGuard;
use super::{Source, Token};

impl Session<'_> {
    pub(super) fn headless(
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
                logon::headless_logon(&request, guard.as_mut().map(|g| g as &mut dyn TotpSource))
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

pub(super) fn logon_error(e: LogonError, account: &str) -> Error {
    match e.class() {
        ErrorClass::Rejected => Error::Rejected {
            what: "the headless logon was rejected".into(),
            account: account.into(),
            cause: ProviderCause::Logon(Box::new(e)),
        },
        // What the account lacks (a TOTP secret the provider asks for): exit 2, with the
        // account's own command in the hint.
        ErrorClass::Policy => match crate::advice::AccountAdvice::hint_for(&e, Some(account)) {
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
