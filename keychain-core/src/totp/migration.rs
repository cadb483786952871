//! Google Authenticator exports: `otpauth-migration://offline?data=BASE64`.
//!
//! The data is a protobuf `MigrationPayload` (decoded with `prost`) holding one entry per
//! account. We keep the TOTP entries and skip HOTP ones; the export has no period field
//! because Google Authenticator only supports 30 s. A large export is split over several QR
//! codes, each a complete payload, so each is read on its own.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use percent_encoding::percent_decode_str;
use prost::Message as _;
use url::Url;
use zeroize::{Zeroize, Zeroizing};

use super::{Algorithm, DEFAULT_PERIOD, TotpError, TotpSecret, uri};

/// Google's `MigrationPayload`; only the field we use is declared (prost skips the others:
/// version, batch size, index and id).
#[derive(prost::Message)]
#[prost(skip_debug)]
struct MigrationPayload {
    #[prost(message, repeated, tag = "1")]
    otp_parameters: Vec<OtpParameters>,
}

/// Google's `MigrationPayload.OtpParameters`. Its Debug is written by hand to leave out the
/// secret, and its secret is wiped on drop.
#[derive(prost::Message)]
#[prost(skip_debug)]
struct OtpParameters {
    #[prost(bytes = "vec", tag = "1")]
    secret: Vec<u8>,
    /// `LABEL` or `ISSUER:LABEL`, as in an otpauth URI's path.
    #[prost(string, tag = "2")]
    name: String,
    #[prost(string, tag = "3")]
    issuer: String,
    /// 0 unspecified, 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5.
    #[prost(int32, tag = "4")]
    algorithm: i32,
    /// 0 unspecified, 1 six, 2 eight.
    #[prost(int32, tag = "5")]
    digits: i32,
    /// 0 unspecified, 1 HOTP, 2 TOTP.
    #[prost(int32, tag = "6")]
    otp_type: i32,
}

const OTP_TYPE_TOTP: i32 = 2;

impl std::fmt::Debug for MigrationPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationPayload")
            .field("otp_parameters", &self.otp_parameters)
            .finish()
    }
}

impl std::fmt::Debug for OtpParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtpParameters")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("otp_type", &self.otp_type)
            .finish_non_exhaustive()
    }
}

impl Drop for OtpParameters {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

/// Reads every TOTP entry of an export. `text` is known to start with `otpauth-migration:`.
pub(super) fn parse(text: &str) -> Result<Vec<TotpSecret>, TotpError> {
    let url = Url::parse(text).map_err(TotpError::InvalidUri)?;
    let result = entries(&url);
    // The parsed URL keeps its own copy of the text, secrets included: wipe it.
    drop(Zeroizing::new(String::from(url)));
    result
}

fn entries(url: &Url) -> Result<Vec<TotpSecret>, TotpError> {
    // The data is read from the raw query rather than with form decoding, which would turn
    // the `+` of base64 into a space whenever an exporter left it unescaped.
    let data = url
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("data="))
        .ok_or(TotpError::MigrationMissingData)?;
    let data: Zeroizing<Vec<u8>> = Zeroizing::new(percent_decode_str(data).collect());

    // Exporters differ on padding; the alphabet is the standard one.
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    // Sized up front so that decoding never reallocates and leaves a stray copy behind.
    let mut payload = Zeroizing::new(Vec::with_capacity(base64::decoded_len_estimate(data.len())));
    engine
        .decode_vec(data.as_slice(), &mut payload)
        .map_err(|_| TotpError::MigrationBase64)?;

    let payload =
        MigrationPayload::decode(payload.as_slice()).map_err(TotpError::MigrationDecode)?;
    let mut secrets = Vec::new();
    for (index, entry) in payload.otp_parameters.iter().enumerate() {
        if entry.otp_type != OTP_TYPE_TOTP {
            continue;
        }
        secrets.push(totp_entry(entry, index + 1)?);
    }
    if secrets.is_empty() {
        return Err(TotpError::NoTotpEntry);
    }
    Ok(secrets)
}

/// Converts entry number `number` (1-based, counting every entry of the export).
fn totp_entry(entry: &OtpParameters, number: usize) -> Result<TotpSecret, TotpError> {
    let algorithm = match entry.algorithm {
        // Unspecified: Google Authenticator itself falls back to SHA1, the RFC default.
        0 | 1 => Algorithm::Sha1,
        2 => Algorithm::Sha256,
        3 => Algorithm::Sha512,
        _ => return Err(TotpError::MigrationAlgorithm { entry: number }),
    };
    let digits = match entry.digits {
        0 | 1 => 6,
        2 => 8,
        _ => return Err(TotpError::MigrationDigits { entry: number }),
    };
    let secret = secrecy::SecretBox::new(Box::from(entry.secret.as_slice()));
    let mut totp = TotpSecret::from_parts(secret, algorithm, digits, DEFAULT_PERIOD)?;
    let (prefix, label) = uri::split_name(&entry.name);
    totp.issuer = Some(entry.issuer.trim().to_string())
        .filter(|issuer| !issuer.is_empty())
        .or(prefix);
    totp.label = label;
    Ok(totp)
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_no_leak;
    use super::*;
    use secrecy::ExposeSecret;

    const T: u64 = 1_700_000_000;
    /// Made by `tests/data/totp/make_migration.py`, which encodes the protobuf by hand.
    const TWO_ENTRIES: &str = include_str!("../../../tests/data/totp/migration-two-entries.txt");

    /// Builds an export with prost (the fixture above checks prost against a hand encoding).
    fn export(entries: Vec<OtpParameters>) -> String {
        let bytes = MigrationPayload {
            otp_parameters: entries,
        }
        .encode_to_vec();
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        let data = percent_encoding::utf8_percent_encode(&data, percent_encoding::NON_ALPHANUMERIC);
        format!("otpauth-migration://offline?data={data}")
    }

    fn entry(
        secret: &[u8],
        name: &str,
        algorithm: i32,
        digits: i32,
        otp_type: i32,
    ) -> OtpParameters {
        OtpParameters {
            secret: secret.to_vec(),
            name: name.to_string(),
            issuer: String::new(),
            algorithm,
            digits,
            otp_type,
        }
    }

    #[test]
    fn fixture_with_two_entries_parses_both() {
        let secrets = TotpSecret::parse_all(TWO_ENTRIES).unwrap();
        assert_eq!(secrets.len(), 2);

        let alice = &secrets[0];
        assert_eq!(alice.issuer.as_deref(), Some("Example"));
        assert_eq!(alice.label.as_deref(), Some("alice@example.com"));
        assert_eq!(alice.algorithm, Algorithm::Sha1);
        assert_eq!(alice.digits, 6);
        assert_eq!(alice.period, 30);
        assert_eq!(alice.secret_base32().expose_secret(), "JBSWY3DPEHPK3PXP");
        // oathtool --totp -b JBSWY3DPEHPK3PXP --now @1700000000
        assert_eq!(alice.code_at(T).expose_secret(), "324550");

        let bob = &secrets[1];
        assert_eq!(bob.issuer.as_deref(), Some("Other Corp"));
        assert_eq!(bob.label.as_deref(), Some("bob"));
        assert_eq!(bob.algorithm, Algorithm::Sha256);
        assert_eq!(bob.digits, 8);
        assert_eq!(
            bob.secret_base32().expose_secret(),
            "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"
        );
        // oathtool --totp=sha256 -d 8 -b HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ --now @1700000000
        assert_eq!(bob.code_at(T).expose_secret(), "71688188");
    }

    #[test]
    fn parse_lists_the_entries_when_there_are_several() {
        let error = TotpSecret::parse(TWO_ENTRIES).unwrap_err();
        assert!(matches!(error, TotpError::SeveralEntries { count: 2, .. }));
        let message = error.to_string();
        assert!(
            message.contains("1. Example:alice@example.com"),
            "{message}"
        );
        assert!(message.contains("2. Other Corp:bob"), "{message}");
        assert_no_leak(
            &error,
            &["JBSWY3DPEHPK3PXP", "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"],
        );

        let bob = super::super::select(TotpSecret::parse_all(TWO_ENTRIES).unwrap(), "2").unwrap();
        assert_eq!(bob.label.as_deref(), Some("bob"));
    }

    #[test]
    fn single_totp_entry_parses_and_hotp_entries_are_skipped() {
        let text = export(vec![
            entry(b"counter-secret", "hotp-account", 1, 1, 1),
            entry(b"time-secret", "Issuer:carol", 3, 2, OTP_TYPE_TOTP),
        ]);
        let secret = TotpSecret::parse(&text).unwrap();
        assert_eq!(secret.label.as_deref(), Some("carol"));
        assert_eq!(secret.issuer.as_deref(), Some("Issuer"));
        assert_eq!(secret.algorithm, Algorithm::Sha512);
        assert_eq!(secret.digits, 8);
    }

    #[test]
    fn unspecified_algorithm_and_digits_mean_sha1_and_six() {
        let text = export(vec![entry(b"time-secret", "dave", 0, 0, OTP_TYPE_TOTP)]);
        let secret = TotpSecret::parse(&text).unwrap();
        assert_eq!(secret.algorithm, Algorithm::Sha1);
        assert_eq!(secret.digits, 6);
        assert_eq!(secret.issuer, None);
    }

    #[test]
    fn unpadded_and_unescaped_base64_is_accepted() {
        let raw = TWO_ENTRIES.trim().replace("%3D", "");
        assert_eq!(TotpSecret::parse_all(&raw).unwrap().len(), 2);
        // A payload whose base64 holds `+` and `/`, written without percent-encoding.
        let bytes = MigrationPayload {
            otp_parameters: vec![entry(&[0xfb, 0xef, 0xf8], "eve", 1, 1, OTP_TYPE_TOTP)],
        }
        .encode_to_vec();
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert!(data.contains('+') && data.contains('/'), "{data}");
        let text = format!("otpauth-migration://offline?data={data}");
        let secret = TotpSecret::parse(&text).unwrap();
        assert_eq!(secret.secret.expose_secret(), &[0xfb, 0xef, 0xf8]);
    }

    #[test]
    fn bad_exports_give_clear_errors_without_secrets() {
        const CANARY: &[u8] = b"canary-secret-bytes";
        let canary_b32 = "MNQW4YLSPEWXGZLDOJSXILLCPF2GK4Y";
        type Expected = fn(&TotpError) -> bool;
        let cases: Vec<(String, Expected)> = vec![
            (export(vec![entry(CANARY, "a", 4, 1, OTP_TYPE_TOTP)]), |e| {
                matches!(e, TotpError::MigrationAlgorithm { entry: 1 })
            }),
            (
                export(vec![
                    entry(CANARY, "a", 1, 1, 1),
                    entry(CANARY, "b", 1, 7, OTP_TYPE_TOTP),
                ]),
                |e| matches!(e, TotpError::MigrationDigits { entry: 2 }),
            ),
            (export(vec![entry(CANARY, "a", 1, 1, 1)]), |e| {
                matches!(e, TotpError::NoTotpEntry)
            }),
            (export(vec![]), |e| matches!(e, TotpError::NoTotpEntry)),
            (export(vec![entry(b"", "a", 1, 1, OTP_TYPE_TOTP)]), |e| {
                matches!(e, TotpError::EmptySecret)
            }),
            ("otpauth-migration://offline?date=AAAA".to_string(), |e| {
                matches!(e, TotpError::MigrationMissingData)
            }),
            ("otpauth-migration://offline".to_string(), |e| {
                matches!(e, TotpError::MigrationMissingData)
            }),
            (
                "otpauth-migration://offline?data=Y2FuYXJ5*".to_string(),
                |e| matches!(e, TotpError::MigrationBase64),
            ),
            // Valid base64 of bytes that are not a protobuf message (a truncated field).
            (
                "otpauth-migration://offline?data=CgVjYW5h".to_string(),
                |e| matches!(e, TotpError::MigrationDecode(_)),
            ),
        ];
        for (text, expected) in cases {
            let error = TotpSecret::parse(&text).unwrap_err();
            assert!(expected(&error), "{text}: {error:?}");
            assert_no_leak(&error, &["canary", canary_b32, "Y2FuYXJ5"]);
        }
    }

    #[test]
    fn debug_of_a_decoded_entry_leaves_out_the_secret() {
        let shown = format!("{:?}", entry(b"canary-secret-bytes", "a", 1, 1, 2));
        assert!(
            !shown.contains("canary") && !shown.contains("99, 97"),
            "{shown}"
        );
    }
}
