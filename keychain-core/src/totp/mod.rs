//! TOTP (RFC 6238) secrets: reading them in the forms providers hand out, and computing codes.
//!
//! A provider hands out a TOTP seed as a base32 string, an `otpauth://totp/` URI or a QR code of
//! that URI; Google Authenticator exports seeds as `otpauth-migration://` URIs. This module turns
//! any of those into a [`TotpSecret`], and computes and checks codes with it. The RFC 6238
//! arithmetic is done by `totp-rs`; this module only validates parameters and moves secrets
//! around safely.
//!
//! It must never put a seed or a code into `Debug`, `Display` or an error text: seeds live in a
//! [`SecretBox`], codes are returned as [`SecretString`], and errors cite positions or field
//! names, never values.
#![deny(missing_docs)]

mod base32;
mod error;
mod migration;
mod qr;
mod uri;

#[cfg(test)]
mod props;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use error::TotpError;

/// Digits of a code when the provider says nothing (RFC 6238 and every authenticator app).
pub const DEFAULT_DIGITS: u32 = 6;
/// Seconds per time step when the provider says nothing (RFC 6238 section 5.2).
pub const DEFAULT_PERIOD: u64 = 30;
/// The longest time step accepted (an hour). RFC 6238 recommends 30 s; a period from outside
/// (an otpauth URI, a backup) of 10⁸ s would otherwise make a logon wait for it.
pub const MAX_PERIOD: u64 = 3600;
/// Code lengths RFC 4226 allows (section 5.3); beyond 8 the 31-bit value would be truncated.
pub const DIGITS_RANGE: std::ops::RangeInclusive<u32> = 6..=8;

/// The HMAC hash a TOTP secret is used with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// HMAC-SHA1: the RFC 6238 default and what nearly every provider uses.
    #[default]
    #[serde(rename = "SHA1")]
    Sha1,
    /// HMAC-SHA256.
    #[serde(rename = "SHA256")]
    Sha256,
    /// HMAC-SHA512.
    #[serde(rename = "SHA512")]
    Sha512,
}

impl Algorithm {
    /// The name used in otpauth URIs and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    fn to_totp_rs(self) -> totp_rs::Algorithm {
        match self {
            Algorithm::Sha1 => totp_rs::Algorithm::SHA1,
            Algorithm::Sha256 => totp_rs::Algorithm::SHA256,
            Algorithm::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = TotpError;

    /// Case-insensitive, because otpauth URIs in the wild use `sha1` as often as `SHA1`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]
            .into_iter()
            .find(|algorithm| algorithm.as_str().eq_ignore_ascii_case(name))
            .ok_or(TotpError::UnknownAlgorithm)
    }
}

/// A TOTP seed with the parameters needed to compute its codes.
///
/// The seed is held in a zeroizing [`SecretBox`] and never shown by `Debug`. The public fields
/// are checked when the value is built; setting `digits` outside 6..=8 or `period` to 0
/// afterwards is a programming error, and computing a code then panics.
#[derive(Clone)]
pub struct TotpSecret {
    secret: SecretBox<[u8]>,
    /// The HMAC hash codes are computed with.
    pub algorithm: Algorithm,
    /// Number of digits of a code, 6 to 8.
    pub digits: u32,
    /// Seconds per time step, at least 1.
    pub period: u64,
    /// Who issued the secret (the service), when known.
    pub issuer: Option<String>,
    /// The account the secret belongs to, when known.
    pub label: Option<String>,
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpSecret")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("period", &self.period)
            .field("issuer", &self.issuer)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl TotpSecret {
    /// Reads a TOTP secret in any form a provider hands out: a base32 secret (defaults SHA1,
    /// 6 digits, 30 s), an `otpauth://totp/...` URI, or an `otpauth-migration://offline?data=...`
    /// export holding exactly one TOTP entry. An export with several entries is an error that
    /// lists them; read it with [`TotpSecret::parse_all`] and pick one with [`select`].
    pub fn parse(text: &str) -> Result<TotpSecret, TotpError> {
        single(Self::parse_all(text)?)
    }

    /// Like [`TotpSecret::parse`], but returns every TOTP entry of a migration export.
    pub fn parse_all(text: &str) -> Result<Vec<TotpSecret>, TotpError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TotpError::EmptySecret);
        }
        // A base32 secret never holds a colon, so anything with one is meant as a URI.
        if let Some((scheme, _)) = text.split_once(':') {
            return if scheme.eq_ignore_ascii_case("otpauth") {
                uri::parse(text).map(|secret| vec![secret])
            } else if scheme.eq_ignore_ascii_case("otpauth-migration") {
                migration::parse(text)
            } else {
                Err(TotpError::UnrecognisedInput)
            };
        }
        let secret = base32::decode(text)?;
        Ok(vec![Self::from_parts(
            secret,
            Algorithm::default(),
            DEFAULT_DIGITS,
            DEFAULT_PERIOD,
        )?])
    }

    /// Reads the QR code in a PNG or JPEG image (a screenshot or photo of the provider's setup
    /// page) and parses its text like [`TotpSecret::parse`].
    pub fn from_qr_image(path: &Path) -> Result<TotpSecret, TotpError> {
        single(qr::secrets(path)?)
    }

    /// Like [`TotpSecret::from_qr_image`], but returns every TOTP entry of a migration export.
    pub fn all_from_qr_image(path: &Path) -> Result<Vec<TotpSecret>, TotpError> {
        qr::secrets(path)
    }

    /// As [`TotpSecret::all_from_qr_image`], for an image read from a stream: `label` names
    /// it in messages (e.g. "standard input").
    pub fn all_from_qr_bytes(label: &Path, bytes: &[u8]) -> Result<Vec<TotpSecret>, TotpError> {
        qr::secrets_in(label, Some(bytes))
    }

    /// Builds a secret from raw seed bytes and parameters, without issuer or label.
    ///
    /// Seeds shorter than the 128 bits RFC 4226 asks for are accepted on purpose: providers
    /// still hand out 80-bit seeds, and refusing them would lock the user out.
    pub fn from_parts(
        secret: SecretBox<[u8]>,
        algorithm: Algorithm,
        digits: u32,
        period: u64,
    ) -> Result<Self, TotpError> {
        if secret.expose_secret().is_empty() {
            return Err(TotpError::EmptySecret);
        }
        check_params(digits, period)?;
        Ok(TotpSecret {
            secret,
            algorithm,
            digits,
            period,
            issuer: None,
            label: None,
        })
    }

    /// Rebuilds a secret from its stored form (base32, as [`TotpSecret::secret_base32`] writes
    /// it) and its parameters, checked exactly as [`TotpSecret::from_parts`] checks new ones.
    pub fn from_stored(
        base32_text: &str,
        algorithm: Algorithm,
        digits: u32,
        period: u64,
    ) -> Result<Self, TotpError> {
        Self::from_parts(
            base32::decode(base32_text.trim())?,
            algorithm,
            digits,
            period,
        )
    }

    /// The same seed with other parameters (from a stored header or a backup), checked as
    /// [`TotpSecret::from_parts`] checks them: numbers from outside never reach the arithmetic
    /// unchecked.
    pub fn with_params(
        mut self,
        algorithm: Algorithm,
        digits: u32,
        period: u64,
    ) -> Result<Self, TotpError> {
        check_params(digits, period)?;
        self.algorithm = algorithm;
        self.digits = digits;
        self.period = period;
        Ok(self)
    }

    /// The seed as uppercase, unpadded base32: the canonical form for storage.
    pub fn secret_base32(&self) -> SecretString {
        base32::encode(&self.secret)
    }

    /// A name a person can recognise the secret by: `ISSUER:LABEL`, or whichever is known.
    pub fn name(&self) -> String {
        match (&self.issuer, &self.label) {
            (Some(issuer), Some(label)) => format!("{issuer}:{label}"),
            (Some(name), None) | (None, Some(name)) => name.clone(),
            (None, None) => "(unnamed)".to_string(),
        }
    }

    /// The code for the time step holding `unix_time`, zero-padded to `digits`.
    pub fn code_at(&self, unix_time: u64) -> SecretString {
        // totp-rs formats with zero padding; the string is wrapped before anything else sees it.
        SecretString::from(self.engine().generate(unix_time).to_string())
    }

    /// The RFC 6238 time step counter for `unix_time`.
    pub fn step_at(&self, unix_time: u64) -> u64 {
        self.assert_valid();
        unix_time / self.period
    }

    /// Seconds until the code for `unix_time` expires, from `period` down to 1.
    pub fn seconds_left(&self, unix_time: u64) -> u64 {
        self.assert_valid();
        self.period - unix_time % self.period
    }

    /// Whether `code` is the code for `unix_time`'s step or one up to `window_steps` steps
    /// before or after it (RFC 6238 section 5.2 recommends at most 1; the work grows with the
    /// window, so keep it small). Whitespace in `code` is ignored, since apps show codes as
    /// `123 456`.
    ///
    /// Each candidate is compared in constant time, and every step in the window is checked
    /// even after a match, so the time taken tells nothing about the code or where it matched.
    pub fn matches(&self, code: &str, unix_time: u64, window_steps: u64) -> bool {
        let code: Zeroizing<String> =
            Zeroizing::new(code.chars().filter(|c| !c.is_whitespace()).collect());
        let engine = self.engine();
        let step = unix_time / self.period;
        let mut found = false;
        for candidate in step.saturating_sub(window_steps)..=step.saturating_add(window_steps) {
            let Some(time) = candidate.checked_mul(self.period) else {
                break;
            };
            let expected = SecretString::from(engine.generate(time).to_string());
            found |= crate::secret::ct_eq_str(expected.expose_secret(), &code);
        }
        found
    }

    /// The totp-rs generator for this secret. totp-rs zeroizes its copy of the seed on drop.
    fn engine(&self) -> totp_rs::Totp {
        self.assert_valid();
        totp_rs::Builder::new()
            .with_algorithm(self.algorithm.to_totp_rs())
            // Checked just above; totp-rs stores digits as u8.
            .with_digits(self.digits as u8)
            .with_step_duration(self.period)
            .with_skew(0)
            .with_secret(self.secret.expose_secret())
            // The checked `build()` refuses seeds under 128 bits, which real providers still
            // issue (see `from_parts`); digits and period are validated by `assert_valid`.
            .build_noncompliant()
    }

    /// Catches public fields changed to values `from_parts` refuses, which would otherwise
    /// divide by zero or make totp-rs panic with a less helpful message.
    fn assert_valid(&self) {
        assert!(
            check_params(self.digits, self.period).is_ok(),
            "TotpSecret fields were set to values from_parts refuses (digits {}, period {})",
            self.digits,
            self.period
        );
    }
}

/// Digits 6..=8 and a period of 1..=[`MAX_PERIOD`] seconds, or the error that names the
/// parameter.
pub fn check_params(digits: u32, period: u64) -> Result<(), TotpError> {
    if !DIGITS_RANGE.contains(&digits) {
        return Err(TotpError::InvalidDigits { digits });
    }
    if period == 0 {
        return Err(TotpError::ZeroPeriod);
    }
    if period > MAX_PERIOD {
        return Err(TotpError::PeriodTooLong {
            period,
            max: MAX_PERIOD,
        });
    }
    Ok(())
}

/// The only entry of `entries`, or an error listing them so the user can choose.
pub fn single(mut entries: Vec<TotpSecret>) -> Result<TotpSecret, TotpError> {
    match entries.len() {
        0 => Err(TotpError::NoTotpEntry),
        1 => Ok(entries.remove(0)),
        _ => Err(TotpError::SeveralEntries {
            count: entries.len(),
            entries: list(&entries),
        }),
    }
}

/// `1. ISSUER:LABEL, 2. ...`: how entries are shown when the user has to choose.
fn list(entries: &[TotpSecret]) -> String {
    numbered(entries.iter().enumerate())
}

/// Like [`list`], for a subset that keeps the entries' original 0-based indices.
fn numbered<'a>(entries: impl Iterator<Item = (usize, &'a TotpSecret)>) -> String {
    entries
        .map(|(index, entry)| format!("{}. {}", index + 1, entry.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Picks one entry of a multi-entry export by its 1-based number, by `ISSUER:LABEL`, or by
/// issuer or label alone when only one entry has it (names compare case-insensitively).
pub fn select(entries: Vec<TotpSecret>, selector: &str) -> Result<TotpSecret, TotpError> {
    let selector = selector.trim();
    if let Ok(number) = selector.parse::<usize>() {
        if (1..=entries.len()).contains(&number) {
            return Ok(entries.into_iter().nth(number - 1).expect("checked range"));
        }
        return Err(TotpError::NoSuchEntry {
            selector: selector.to_string(),
            entries: list(&entries),
        });
    }
    let same = |name: &Option<String>| {
        name.as_deref()
            .is_some_and(|name| name.eq_ignore_ascii_case(selector))
    };
    let chosen: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, entry)| {
            entry.name().eq_ignore_ascii_case(selector) || same(&entry.issuer) || same(&entry.label)
        })
        .map(|(index, _)| index)
        .collect();
    match chosen[..] {
        [] => Err(TotpError::NoSuchEntry {
            selector: selector.to_string(),
            entries: list(&entries),
        }),
        [index] => Ok(entries
            .into_iter()
            .nth(index)
            .expect("index from enumerate")),
        _ => Err(TotpError::SeveralEntries {
            count: chosen.len(),
            entries: numbered(chosen.iter().map(|&index| (index, &entries[index]))),
        }),
    }
}

#[cfg(test)]
mod tests;
