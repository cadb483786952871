//! Base32 secrets as people and providers actually write them.
//!
//! Providers show secrets in lowercase, in groups of four separated by spaces or hyphens, with
//! or without `=` padding. We tidy that up here and leave the decoding itself to `totp-rs` (which
//! uses the `base32` crate). Errors give the position of a bad character, never the character.

use secrecy::{ExposeSecret, SecretBox, SecretString};
use zeroize::Zeroizing;

use super::TotpError;

/// Decodes a base32 secret, tolerating case, separators and missing padding.
pub(super) fn decode(text: &str) -> Result<SecretBox<[u8]>, TotpError> {
    // The tidied copy holds the secret too, so it is wiped when dropped.
    let mut clean = Zeroizing::new(String::with_capacity(text.len()));
    let mut padding_started = false;
    for (index, ch) in text.chars().enumerate() {
        let position = index + 1;
        match ch {
            // Separators that providers put between groups, and line breaks from pasting.
            c if c.is_ascii_whitespace() || c == '-' => {}
            '=' => padding_started = true,
            c if c.is_ascii_alphabetic() || ('2'..='7').contains(&c) => {
                // Padding only ever ends a base32 string: anything after it means the text
                // was mangled, and guessing what was meant could yield a wrong secret.
                if padding_started {
                    return Err(TotpError::InvalidBase32 { position });
                }
                clean.push(c.to_ascii_uppercase());
            }
            _ => return Err(TotpError::InvalidBase32 { position }),
        }
    }
    if clean.is_empty() {
        return Err(TotpError::EmptySecret);
    }
    // 8 base32 characters carry 5 bytes; a final group of 1, 3 or 6 characters cannot end
    // on a byte boundary, so the secret was cut or has a stray character. The `base32`
    // crate would silently drop those bits.
    if matches!(clean.len() % 8, 1 | 3 | 6) {
        return Err(TotpError::Base32Length {
            length: clean.len(),
        });
    }
    // `clean` holds only A-Z and 2-7 by now, so decoding cannot fail; map the error anyway
    // rather than panic. `totp_rs::Secret` zeroizes its own copy on drop.
    let decoded = totp_rs::Secret::try_from_base32(clean.as_str())
        .map_err(|_| TotpError::InvalidBase32 { position: 1 })?;
    Ok(SecretBox::new(Box::from(decoded.as_bytes())))
}

/// Canonical form for storage: uppercase RFC 4648 base32 without padding.
pub(super) fn encode(bytes: &SecretBox<[u8]>) -> SecretString {
    // `totp_rs::Secret` zeroizes its copy of the bytes on drop; the string is wrapped at once.
    let secret = totp_rs::Secret::from(bytes.expose_secret());
    SecretString::from(secret.to_base32())
}
