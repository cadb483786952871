//! Small encodings shared by every layer (digests as hex). A base module: it imports nothing of
//! keychain, so the key stores, the store and the configuration can use it without reaching the
//! record module.
#![deny(missing_docs)]

/// Lowercase hex of `bytes`, for digests. Not for secrets: the `String` is not zeroized.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        assert_eq!(super::hex(&[]), "");
    }
}
