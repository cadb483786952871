//! `keychain login`: a valid access token on stdout, for scripts.

use clap::Args;

use secrecy::ExposeSecret;

use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::login::{Options, Token};

use super::shared_args::{LogonArgs, account_names};

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[arg(add = account_names())]
    pub name: String,
    /// How to print the token
    #[arg(long, value_enum, default_value_t = OutputFormat::Token)]
    pub format: OutputFormat,
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

pub fn run(kc: &Keychain, args: LoginArgs) -> Result<()> {
    let opts = Options {
        retry: args.retry,
        ..options(&args.logon)
    };
    let on_failure = args.logon.on_failure.as_deref();
    let token = crate::hook::obtain(kc, &args.name, &opts, on_failure)?;
    crate::output::raw(format(&token, args.format, kc.now())?.as_bytes())
}

/// The token as the chosen output format. A token with a space, a control character or a line
/// break could inject a header or a shell command, wherever it came from (a provider, a backup,
/// `set`): it is refused with the same check every token passes ([`crate::oauth::is_token_text`]).
/// `now` (Unix seconds, the keychain's clock) gives JSON's `expires_in`.
pub fn format(token: &Token, format: OutputFormat, now: i64) -> Result<zeroize::Zeroizing<String>> {
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
        OutputFormat::Env => format!(
            "export KEYCHAIN_ACCESS_TOKEN='{}'\n",
            value.replace('\'', r"'\''")
        ),
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::Source;
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
            ] {
                assert!(format(&token, f, 0).is_err(), "{bad:?} as {f:?}");
            }
        }
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
