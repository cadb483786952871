//! `keychain login`: a valid access token on stdout, for scripts.

use clap::Args;

use secrecy::ExposeSecret;

use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::ops::login::{Options, Token};

use super::shared_args::{LogonArgs, account_names};

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[arg(add = account_names())]
    pub name: String,
    /// How to print the token
    #[arg(long, value_enum, default_value_t = OutputFormat::Token)]
    pub format: OutputFormat,
    /// The variable --format env exports (letters, digits, '_', not first a digit)
    #[arg(long, value_name = "VAR")]
    pub env_name: Option<String>,
    #[command(flatten)]
    pub logon: LogonArgs,
    /// Allow one logon although the provider rejected this account's password or code before
    /// (by default keychain then refuses every logon, so that a job cannot lock the account out)
    #[arg(long)]
    pub retry: bool,
}

pub fn options(args: &LogonArgs) -> Options {
    Options {
        retry: false,
        min_valid: i64::from(args.min_valid),
        debug_pages: args.debug_pages.clone(),
        // Progress is for people; stdout carries only the result.
        progress: crate::output::stderr_is_terminal(),
    }
}

pub fn run(ctx: &super::Ctx, kc: &Keychain, args: LoginArgs) -> Result<()> {
    // The global `--json` is login's `--format json` (KEYCHAIN_FORMAT never is: `cli::Prints`).
    let format = if ctx.json() {
        OutputFormat::Json
    } else {
        args.format
    };
    let env_name = match &args.env_name {
        Some(_) if format != OutputFormat::Env => {
            return Err(Error::usage("--env-name goes with --format env"));
        }
        Some(var) if !crate::reference::is_var_name(var) => {
            return Err(Error::usage(format!(
                "'{var}' is not a valid environment variable name (letters, digits, '_', not first a digit)"
            )));
        }
        Some(var) => var.as_str(),
        None => DEFAULT_ENV_NAME,
    };
    let opts = Options {
        retry: args.retry,
        ..options(&args.logon)
    };
    let on_failure = args.logon.on_failure.as_deref();
    let token = crate::ops::login::obtain_with_hook(kc, &args.name, &opts, on_failure)?;
    crate::output::raw(render(&token, format, kc.now(), env_name)?.as_bytes())
}

/// The variable `--format env` exports unless `--env-name` says otherwise.
pub const DEFAULT_ENV_NAME: &str = "KEYCHAIN_ACCESS_TOKEN";

/// [`render`] with the default variable name.
pub fn format(token: &Token, format: OutputFormat, now: i64) -> Result<zeroize::Zeroizing<String>> {
    render(token, format, now, DEFAULT_ENV_NAME)
}

/// The token as the chosen output format. A token with a space, a control character or a line
/// break could inject a header or a shell command, wherever it came from (a provider, a backup,
/// `set`): it is refused with the same check every token passes ([`crate::oauth::is_token_text`]).
/// `now` (Unix seconds, the keychain's clock) gives JSON's `expires_in`; `env_name` is the
/// variable `--format env` exports (a valid name: checked by the caller).
pub fn render(
    token: &Token,
    format: OutputFormat,
    now: i64,
    env_name: &str,
) -> Result<zeroize::Zeroizing<String>> {
    let value = token.access_token.expose_secret();
    if !crate::oauth::is_token_text(value) {
        return Err(Error::Integrity {
            path: "access token".into(),
            reason: "the stored access token has spaces or control characters and is not printed"
                .into(),
        });
    }
    Ok(zeroize::Zeroizing::new(match format {
        OutputFormat::Token => format!("{value}\n"),
        OutputFormat::Header => format!("Authorization: Bearer {value}\n"),
        // For `eval`: single quotes, and any quote in the token closed, escaped and reopened.
        OutputFormat::Env => format!("export {env_name}='{}'\n", value.replace('\'', r"'\''")),
        // The envelope of AWS's credential_process (Version 1, an ISO 8601 Expiration), with
        // the fields an OAuth2 bearer token has; not an AWS key pair (see README).
        OutputFormat::CredentialProcess => {
            let mut json = serde_json::json!({
                "Version": 1,
                "AccessToken": value,
                "TokenType": token.token_type,
            });
            if let Some(expires) = token.expires_at {
                json["Expiration"] = serde_json::json!(crate::clock::rfc3339(expires));
            }
            format!("{json}\n")
        }
        OutputFormat::Json => {
            let json = serde_json::json!({
                "access_token": value,
                "token_type": token.token_type,
                "expires_at": token.expires_at.map(crate::clock::rfc3339),
                "expires_in": token.expires_at.map(|e| e.saturating_sub(now).max(0)),
                "scope": token.scope,
            });
            crate::json::line(json)
        }
    }))
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
    /// credential_process-style JSON: {"Version": 1, "AccessToken", "TokenType", "Expiration"}
    CredentialProcess,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::login::Source;
    use secrecy::SecretString;

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
            *format(&token, OutputFormat::Env, 0).unwrap(),
            "export KEYCHAIN_ACCESS_TOKEN='a'\\''b;c'\n"
        );
    }

    /// Regression (issue 8, "Also"): a token from a backup or `set` reached `--format
    /// header|env` unchecked.
    #[test]
    fn tokens_with_line_breaks_or_spaces_are_never_printed() {
        for bad in ["a\r\nX-Evil: 1", "a b", "a\u{1b}[2J", ""] {
            let token = Token {
                access_token: SecretString::from(bad.to_string()),
                token_type: "bearer".into(),
                expires_at: None,
                scope: None,
                source: Source::Cache,
            };
            for f in [
                OutputFormat::Token,
                OutputFormat::Header,
                OutputFormat::Env,
                OutputFormat::Json,
                OutputFormat::CredentialProcess,
            ] {
                assert!(format(&token, f, 0).is_err(), "{bad:?} as {f:?}");
            }
        }
    }

    #[test]
    fn env_name_and_credential_process() {
        let token = Token {
            access_token: SecretString::from("at-1".to_string()),
            token_type: "Bearer".into(),
            expires_at: Some(1_800_000_600),
            scope: None,
            source: Source::Cache,
        };
        assert_eq!(
            *render(&token, OutputFormat::Env, 0, "EXACT_TOKEN").unwrap(),
            "export EXACT_TOKEN='at-1'\n"
        );
        let doc: serde_json::Value =
            serde_json::from_str(&render(&token, OutputFormat::CredentialProcess, 0, "X").unwrap())
                .unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "Version": 1,
                "AccessToken": "at-1",
                "TokenType": "Bearer",
                "Expiration": "2027-01-15T08:10:00Z",
            })
        );
    }

    /// `expires_in` counts from the keychain's clock, never below zero.
    #[test]
    fn json_expires_in_counts_from_the_time_given() {
        let token = Token {
            access_token: SecretString::from("at".to_string()),
            token_type: "bearer".into(),
            expires_at: Some(1_800_000_600),
            scope: None,
            source: Source::Refresh,
        };
        let expires_in = |now| {
            let text = format(&token, OutputFormat::Json, now).unwrap();
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["expires_in"].clone()
        };
        assert_eq!(expires_in(1_800_000_000), 600);
        assert_eq!(expires_in(1_800_000_100), 500);
        assert_eq!(expires_in(1_900_000_000), 0);
    }
}
