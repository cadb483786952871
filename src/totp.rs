//! Placeholder until the TOTP module lands: the API the rest of keychain builds on.
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    #[serde(rename = "SHA1")]
    Sha1,
    #[serde(rename = "SHA256")]
    Sha256,
    #[serde(rename = "SHA512")]
    Sha512,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid TOTP secret")]
pub struct TotpError;

pub struct TotpSecret {
    secret: Zeroizing<Vec<u8>>,
    pub algorithm: Algorithm,
    pub digits: u32,
    pub period: u64,
    pub issuer: Option<String>,
    pub label: Option<String>,
}

impl TotpSecret {
    pub fn parse(_text: &str) -> Result<TotpSecret, TotpError> {
        Err(TotpError)
    }
    pub fn from_qr_image(_path: &std::path::Path) -> Result<TotpSecret, TotpError> {
        Err(TotpError)
    }
    pub fn from_parts(secret: Zeroizing<Vec<u8>>, algorithm: Algorithm, digits: u32, period: u64) -> Result<Self, TotpError> {
        Ok(TotpSecret { secret, algorithm, digits, period, issuer: None, label: None })
    }
    pub fn secret_base32(&self) -> SecretString {
        SecretString::from(format!("{}", self.secret.len()))
    }
    pub fn code_at(&self, _t: u64) -> SecretString {
        SecretString::from(String::new())
    }
    pub fn step_at(&self, t: u64) -> u64 {
        t / self.period
    }
    pub fn seconds_left(&self, t: u64) -> u64 {
        self.period - t % self.period
    }
    pub fn matches(&self, _code: &str, _t: u64, _w: u64) -> bool {
        false
    }
}
