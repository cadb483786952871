//! Flags that several commands take: the provider settings and secrets of `add` and `set`, how
//! a logon behaves for `login` and `exec`, the secret a field names for `show --reveal` and
//! `audit fingerprint`, and the completion of account names that most commands offer. Kept in
//! one file so that a command file holds only what is its own; `ops::edit` takes the first
//! (as `ProviderChanges`), `cmd::secrets` reads the second.

use std::path::PathBuf;

use clap::Args;

use crate::cli::choice;
use crate::providers::Flow;
use crate::providers::ProviderKind;

/// Shell completion of account names (clap_complete's dynamic engine, see `crate::complete`).
pub(crate) fn account_names() -> clap_complete::engine::ArgValueCandidates {
    clap_complete::engine::ArgValueCandidates::new(crate::complete::account_candidates)
}

/// An account name from the command line, parsed once, here: a bad one is refused as the core
/// refuses it (the same text, hint and exit status).
pub(crate) fn account_name(text: &str) -> crate::error::Result<crate::name::AccountName> {
    crate::name::AccountName::parse(text)
        .map_err(|bad| crate::error::Error::from(crate::store::StoreError::from(bad)))
}

/// Provider settings shared by `add` and `set`.
#[derive(Debug, Args, Default)]
pub struct ProviderArgs {
    /// Which provider the account logs on to
    #[arg(long, value_parser = choice::<ProviderKind>(), value_name = "PROVIDER")]
    pub provider: Option<ProviderKind>,
    /// OpenID Connect issuer; endpoints come from its discovery document
    #[arg(long, value_name = "URL", conflicts_with_all = ["authorize_url", "token_url"])]
    pub issuer: Option<String>,
    /// OAuth2 authorization endpoint
    #[arg(long, value_name = "URL", requires = "token_url")]
    pub authorize_url: Option<String>,
    /// OAuth2 token endpoint
    #[arg(long, value_name = "URL", requires = "authorize_url")]
    pub token_url: Option<String>,
    /// The client (application) id registered at the provider
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// The redirect URI registered for the client; nothing needs to listen there
    #[arg(long, value_name = "URL")]
    pub redirect_uri: Option<String>,
    /// Scopes to request, space-separated
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// The OAuth2 flow
    #[arg(long, value_parser = choice::<Flow>(), value_name = "FLOW")]
    pub flow: Option<Flow>,
    /// Also let this host receive the password and code, beyond the hosts of the account's own
    /// URLs (e.g. a separate login host the provider sends its form to); repeatable. At set,
    /// the list given replaces the recorded one. Recorded in the account and the audit log
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Forget the hosts recorded with --allow-host
    #[arg(long, conflicts_with = "allow_hosts")]
    pub no_allow_hosts: bool,
    /// Accept plain http URLs to hosts other than loopback: credentials then travel
    /// unencrypted. Recorded in the account; 'keychain audit' reports it
    #[arg(long)]
    pub insecure_http: bool,
}

impl ProviderArgs {
    /// The settings given, for the core's `add` and `set`.
    pub fn changes(&self) -> crate::ops::edit::ProviderChanges {
        crate::ops::edit::ProviderChanges {
            provider: self.provider,
            issuer: self.issuer.clone(),
            authorize_url: self.authorize_url.clone(),
            token_url: self.token_url.clone(),
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            scope: self.scope.clone(),
            flow: self.flow,
            allow_hosts: self.allow_hosts.clone(),
            no_allow_hosts: self.no_allow_hosts,
            insecure_http: self.insecure_http,
        }
    }
}

/// Secrets, each from a file or `-` for standard input (at most one per call).
#[derive(Debug, Args, Default)]
pub struct SecretArgs {
    /// Read the password from FILE (- for standard input)
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Read the TOTP secret from FILE (- for standard input): a base32 secret, an otpauth:// URI
    /// or an otpauth-migration:// export
    #[arg(long, value_name = "FILE", conflicts_with = "totp_qr")]
    pub totp_file: Option<PathBuf>,
    /// Read the TOTP secret from a PNG or JPEG image of its QR code (- for standard input)
    #[arg(long, value_name = "IMAGE")]
    pub totp_qr: Option<PathBuf>,
    /// Which entry of a Google Authenticator export (several accounts in one QR or
    /// otpauth-migration:// text) to take: its number (1, 2, ...), ISSUER:LABEL, or an issuer or
    /// label that only one entry has
    #[arg(long, value_name = "N|ISSUER:LABEL")]
    pub totp_select: Option<String>,
    /// Refuse the TOTP secret unless it produces the current code read from FILE (- for standard
    /// input), as your authenticator app shows it. Never the code itself as an argument: a live
    /// code in the argument list is visible to every user of the machine while it is valid
    #[arg(long, value_name = "FILE")]
    pub totp_check_file: Option<PathBuf>,
    /// Read the client secret from FILE (- for standard input)
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// Read a refresh token from FILE (- for standard input)
    #[arg(long, value_name = "FILE")]
    pub refresh_token_file: Option<PathBuf>,
}

impl SecretArgs {
    /// Which secrets these flags bring.
    pub fn given(&self) -> crate::ops::edit::SecretsGiven {
        crate::ops::edit::SecretsGiven {
            password: self.password_file.is_some(),
            totp: self.totp_file.is_some() || self.totp_qr.is_some(),
            client_secret: self.client_secret_file.is_some(),
            refresh_token: self.refresh_token_file.is_some(),
        }
    }
}

/// How a logon behaves; shared by `login` and `exec`.
#[derive(Debug, Args)]
pub struct LogonArgs {
    /// Serve a cached access token only when it stays valid for more than SECONDS
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub min_valid: u32,
    /// Write the provider's pages seen during a headless logon to DIR, secrets redacted, for a bug report
    #[arg(long, value_name = "DIR")]
    pub debug_pages: Option<PathBuf>,
    /// Run CMD (with /bin/sh -c) once per incident when no token can be had without a person:
    /// the lockout guard holds, the provider rejected a credential, or no refresh token and no
    /// password is left. CMD gets KEYCHAIN_ACCOUNT, KEYCHAIN_FAILURE_REASON (lockout-guard,
    /// rejected, no-credentials) and KEYCHAIN_EXIT_CODE, never a secret
    #[arg(
        long,
        value_name = "CMD",
        env = "KEYCHAIN_ON_FAILURE",
        hide_env_values = true
    )]
    pub on_failure: Option<std::ffi::OsString>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RevealField {
    Password,
    TotpSecret,
    ClientSecret,
    RefreshToken,
    AccessToken,
}

impl From<RevealField> for crate::record::SecretField {
    fn from(f: RevealField) -> Self {
        use crate::record::SecretField as S;
        match f {
            RevealField::Password => S::Password,
            RevealField::TotpSecret => S::TotpSecret,
            RevealField::ClientSecret => S::ClientSecret,
            RevealField::RefreshToken => S::RefreshToken,
            RevealField::AccessToken => S::AccessToken,
        }
    }
}
