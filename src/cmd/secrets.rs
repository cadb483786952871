//! Reading an account's secrets for `add` and `set`: files, standard input or a prompt, with the
//! TOTP secret checked against the person's authenticator app before it is kept.

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};
use crate::exit::Failure as _;
use crate::input::{self, Prompter, SecretSource};
use crate::record::{Account, SecretField, TotpParams};
use crate::totp::TotpSecret;

use super::shared_args::SecretArgs;

/// What the person asked to be prompted for when no file is given (only on a terminal), and
/// what must be given or declined (`--no-totp`, `--no-client-secret`) when there is none.
pub struct Wanted {
    pub password: bool,
    pub password_required: bool,
    pub totp: bool,
    pub totp_required: bool,
    pub client_secret: bool,
    pub client_secret_required: bool,
}

/// A secret that is neither given nor declined, with no terminal to ask on.
fn not_given(what: &str, give: &str, decline: &str) -> Error {
    Error::usage_hint(
        format!("the {what} is neither given nor declined, and there is no terminal to ask for it"),
        format!("give it with {give}, or {decline}; secrets are never taken from arguments"),
    )
}

/// Reads the secrets named by `args` (and prompts for `wanted` ones on a terminal) into `account`.
pub fn read_into(account: &mut Account, args: &SecretArgs, wanted: Wanted, now: i64) -> Result<()> {
    input::one_stdin([
        ("--password-file", args.password_file.as_deref()),
        ("--totp-file", args.totp_file.as_deref()),
        ("--totp-qr", args.totp_qr.as_deref()),
        ("--client-secret-file", args.client_secret_file.as_deref()),
        ("--refresh-token-file", args.refresh_token_file.as_deref()),
        ("--totp-check-file", args.totp_check_file.as_deref()),
    ])?;
    let prompter = Prompter::detect();
    if !prompter.is_interactive() {
        if wanted.totp_required && args.totp_file.is_none() && args.totp_qr.is_none() {
            return Err(not_given(
                "TOTP secret",
                "--totp-file FILE (or --totp-qr IMAGE)",
                "--no-totp when the account has no second factor",
            ));
        }
        if wanted.client_secret_required && args.client_secret_file.is_none() {
            return Err(not_given(
                "client secret",
                "--client-secret-file FILE",
                "--no-client-secret for a public client",
            ));
        }
    }

    if args.password_file.is_some() || wanted.password {
        let required = args.password_file.is_some() || wanted.password_required;
        if let Some(pw) = input::obtain(
            &prompter,
            args.password_file.as_deref(),
            "password",
            "--password-file",
            required,
        )? {
            account.set_secret(SecretField::Password, Some(pw), now);
            // A new password lifts the lockout guard (see `login`).
            account.header.logon_rejected = None;
        }
    }

    if let Some(totp) = read_totp(&prompter, args, wanted.totp)? {
        let expected = args
            .totp_check_file
            .as_deref()
            .map(|file| SecretSource::parse(file).read("TOTP code to check"))
            .transpose()?;
        check_totp(&totp, expected.as_ref(), now)?;
        account.header.totp = Some(TotpParams {
            algorithm: totp.algorithm,
            digits: totp.digits,
            period: totp.period,
            issuer: totp.issuer.clone(),
            label: totp.label.clone(),
        });
        account.set_secret(SecretField::TotpSecret, Some(totp.secret_base32()), now);
        account.header.last_totp_step = None;
        account.header.logon_rejected = None;
    } else if args.totp_check_file.is_some() {
        return Err(Error::usage(
            "--totp-check-file needs a TOTP secret (--totp-file or --totp-qr)",
        ));
    }

    if (args.client_secret_file.is_some() || wanted.client_secret)
        && let Some(cs) = input::obtain(
            &prompter,
            args.client_secret_file.as_deref(),
            "client secret",
            "--client-secret-file",
            false,
        )?
    {
        account.set_secret(SecretField::ClientSecret, Some(cs), now);
    }

    if let Some(path) = &args.refresh_token_file {
        let token = SecretSource::parse(path).read("refresh token")?;
        if token.expose_secret().is_empty() {
            return Err(Error::usage(
                "the refresh token given with --refresh-token-file is empty",
            ));
        }
        // The same check every token passes, wherever it comes from: it goes into HTTP bodies
        // and, as an access token, into headers and shell text.
        if !crate::oauth::is_token_text(token.expose_secret()) {
            return Err(Error::usage_hint(
                "the refresh token given with --refresh-token-file has spaces, line breaks or control characters",
                "give the token alone, on one line, as the provider issued it",
            ));
        }
        account.set_secret(SecretField::RefreshToken, Some(token), now);
        account.header.refresh_token_active = Some(now);
    }
    Ok(())
}

fn read_totp(prompter: &Prompter, args: &SecretArgs, prompt: bool) -> Result<Option<TotpSecret>> {
    if args.totp_select.is_some() && args.totp_file.is_none() && args.totp_qr.is_none() {
        return Err(Error::usage(
            "--totp-select picks an entry of --totp-file or --totp-qr; give one of them",
        ));
    }
    // Several entries (a Google Authenticator export) need --totp-select; one needs nothing.
    let pick = |entries: Vec<TotpSecret>| match &args.totp_select {
        Some(selector) => crate::totp::select(entries, selector),
        None => crate::totp::single(entries),
    };
    if let Some(image) = &args.totp_qr {
        let found = if input::is_stream(image) {
            let bytes = input::read_stdin("QR code image", input::MAX_STREAM_INPUT)?;
            TotpSecret::all_from_qr_bytes(std::path::Path::new("standard input"), &bytes)
        } else {
            TotpSecret::all_from_qr_image(image)
        };
        return found.and_then(pick).map(Some).map_err(|e| {
            Error::usage_hint(
                format!("{}: {e}", input::shown(image, false)),
                e.hint().unwrap_or_else(|| {
                    "give a sharp PNG or JPEG of the QR code, or the secret with --totp-file".into()
                }),
            )
        });
    }
    let text = match &args.totp_file {
        Some(path) => SecretSource::parse(path).read("TOTP secret")?,
        None if prompt && prompter.is_interactive() => {
            let value = prompter
                .secret("TOTP secret (base32 or otpauth:// URI; empty for none): ")
                .map_err(|e| Error::io("cannot read the TOTP secret from the terminal", e))?;
            if value.expose_secret().is_empty() {
                return Ok(None);
            }
            value
        }
        None => return Ok(None),
    };
    TotpSecret::parse_all(text.expose_secret())
        .and_then(pick)
        .map(Some)
        .map_err(|e| {
            Error::usage_hint(
                format!("the TOTP secret is not usable: {e}"),
                e.hint().unwrap_or_else(|| {
                    "give a base32 secret, an otpauth:// URI or an otpauth-migration:// export"
                        .into()
                }),
            )
        })
}

/// With `--totp-check-file`, refuses a secret that does not give the person's current code;
/// without it, shows the current code so they can compare it with their authenticator app.
fn check_totp(totp: &TotpSecret, expected: Option<&SecretString>, now: i64) -> Result<()> {
    let now = now.max(0) as u64;
    match expected {
        Some(code) => {
            // One step either way allows for a code read just before its step ended.
            if totp.matches(code.expose_secret().trim(), now, 1) {
                Ok(())
            } else {
                Err(Error::usage_hint(
                    "the TOTP secret does not produce the code given with --totp-check-file",
                    "check that the secret belongs to this account and that this machine's clock is right",
                ))
            }
        }
        None => {
            if crate::output::stderr_is_terminal() {
                let code: SecretString = totp.code_at(now);
                crate::output::err(&zeroize::Zeroizing::new(format!(
                    "The current TOTP code is {} ({} s left): compare it with your authenticator app.\n",
                    code.expose_secret(),
                    totp.seconds_left(now)
                )))?;
            }
            Ok(())
        }
    }
}
