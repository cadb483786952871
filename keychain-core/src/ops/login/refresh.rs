//! A refresh, and the write-back of every token response: the rotated refresh token is stored
//! before anything else happens, even when the provider rate-limits but still hands out a new
//! one, and only a dead grant retires it.

use crate::audit::Action;
use crate::error::{Error, ProviderCause, Result};
use crate::oauth::{self, Endpoints, TokenError, TokenResponse};
use crate::record::SecretField;

use super::cache;
use super::session::{Session, provider_of};
use super::{Source, Token, audit};

impl Session<'_> {
    /// Stores a token response: the rotated refresh token first of all.
    pub(super) fn store_tokens(
        &mut self,
        response: TokenResponse,
        source: Source,
    ) -> Result<Token> {
        let now = self.kc.now();
        // Token times on the store's clock on a shared keychain (see `cache::now`).
        let times = cache::now(self.kc);
        let expires_at = cache::stamp_issue(&mut self.account.header, times, response.expires_in);
        let h = &mut self.account.header;
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
            self.account.header.refresh_token_active = Some(times.earliest);
        } else if self.account.header.has(SecretField::RefreshToken) {
            self.account.header.refresh_token_active = Some(times.earliest);
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
            expires_at: expires_at.map(|t| times.to_local(t)),
            scope: response.scope,
            source,
        })
    }

    /// `Ok(None)` when the provider rejected the refresh token: the chain is broken.
    pub(super) fn refresh(
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
                self.account.header.refresh_token_active = Some(cache::now(self.kc).earliest);
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
                self.account.header.refresh_token_active = Some(cache::now(self.kc).earliest);
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
}
