//! `otpauth://totp/ISSUER:LABEL?secret=...` URIs, the format of authenticator QR codes.
//!
//! Follows the Key Uri Format that Google Authenticator defined and other apps adopted: the
//! label may carry an `ISSUER:` prefix, the `issuer` parameter names the issuer too (and wins,
//! being the newer and less ambiguous of the two), and `algorithm`, `digits` and `period`
//! default to SHA1, 6 and 30. Unknown parameters (`image`, `counter`, ...) are ignored.

use percent_encoding::percent_decode_str;
use url::Url;
use zeroize::Zeroizing;

use super::{Algorithm, DEFAULT_DIGITS, DEFAULT_PERIOD, TotpError, TotpSecret, base32};

/// Reads an `otpauth://` URI. `text` is known to start with `otpauth:` (any case).
pub(super) fn parse(text: &str) -> Result<TotpSecret, TotpError> {
    let url = Url::parse(text).map_err(TotpError::InvalidUri)?;
    let result = from_url(&url);
    // The parsed URL keeps its own copy of the text, secret included: wipe it.
    drop(Zeroizing::new(String::from(url)));
    result
}

fn from_url(url: &Url) -> Result<TotpSecret, TotpError> {
    // The type sits where a web URL has its host. Checked before anything else, so that an
    // HOTP URI gets the clear "not supported" rather than some complaint about its parameters.
    match url.host_str() {
        Some(kind) if kind.eq_ignore_ascii_case("totp") => {}
        Some(kind) if kind.eq_ignore_ascii_case("hotp") => return Err(TotpError::HotpNotSupported),
        _ => return Err(TotpError::UnsupportedOtpType),
    }

    let mut secret: Option<Zeroizing<String>> = None;
    let mut issuer: Option<String> = None;
    let mut algorithm: Option<String> = None;
    let mut digits: Option<String> = None;
    let mut period: Option<String> = None;
    for (name, value) in url.query_pairs() {
        let slot = match name.to_ascii_lowercase().as_str() {
            "secret" => {
                // Owned at once into a zeroizing string: the value is the seed itself.
                let value = Zeroizing::new(value.into_owned());
                if secret.replace(value).is_some() {
                    return Err(TotpError::RepeatedParameter { name: "secret" });
                }
                continue;
            }
            "issuer" => (&mut issuer, "issuer"),
            "algorithm" => (&mut algorithm, "algorithm"),
            "digits" => (&mut digits, "digits"),
            "period" => (&mut period, "period"),
            _ => continue,
        };
        // A repeated parameter means two readers could see two different secrets; refuse
        // rather than guess which one the provider meant.
        if slot.0.replace(value.into_owned()).is_some() {
            return Err(TotpError::RepeatedParameter { name: slot.1 });
        }
    }

    let secret = secret.ok_or(TotpError::MissingSecret)?;
    let algorithm = match algorithm {
        Some(name) => name.parse()?,
        None => Algorithm::default(),
    };
    let digits = number(digits, "digits", DEFAULT_DIGITS)?;
    let period = number(period, "period", DEFAULT_PERIOD)?;

    let (prefix, label) = split_label(url.path().trim_start_matches('/'))?;
    let issuer = issuer
        .map(|issuer| issuer.trim().to_string())
        .filter(|issuer| !issuer.is_empty())
        .or(prefix);

    let mut totp = TotpSecret::from_parts(base32::decode(&secret)?, algorithm, digits, period)?;
    totp.issuer = issuer;
    totp.label = label;
    Ok(totp)
}

/// Parses a numeric parameter, naming it (never quoting it) when it is not a number.
fn number<N: std::str::FromStr>(
    value: Option<String>,
    name: &'static str,
    default: N,
) -> Result<N, TotpError> {
    match value {
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| TotpError::InvalidNumber { name }),
        None => Ok(default),
    }
}

/// Splits a percent-encoded `ISSUER:LABEL` (or plain `LABEL`) path into its parts. The colon
/// may itself be percent-encoded, and apps put a space after it, so both parts are trimmed.
pub(super) fn split_label(path: &str) -> Result<(Option<String>, Option<String>), TotpError> {
    let decoded = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| TotpError::InvalidLabel)?;
    Ok(split_name(&decoded))
}

/// Splits an already decoded `ISSUER:LABEL` or `LABEL`; empty parts become `None`.
pub(super) fn split_name(name: &str) -> (Option<String>, Option<String>) {
    let non_empty = |part: &str| Some(part.trim().to_string()).filter(|part| !part.is_empty());
    match name.split_once(':') {
        Some((issuer, label)) => (non_empty(issuer), non_empty(label)),
        None => (None, non_empty(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_no_leak;
    use super::*;
    use secrecy::ExposeSecret;

    const T: u64 = 1_700_000_000;
    /// A secret that occurs nowhere else, so a leak of it into an error is unmistakable.
    const CANARY: &str = "CANARYSECRETQQQQ";

    fn parse(text: &str) -> Result<TotpSecret, TotpError> {
        TotpSecret::parse(text)
    }

    #[test]
    fn full_uri_sets_every_field() {
        let secret = parse(
            "otpauth://totp/ACME%20Co:john.doe%40email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ\
             &issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60",
        )
        .unwrap();
        assert_eq!(secret.issuer.as_deref(), Some("ACME Co"));
        assert_eq!(secret.label.as_deref(), Some("john.doe@email.com"));
        assert_eq!(secret.algorithm, Algorithm::Sha256);
        assert_eq!(secret.digits, 8);
        assert_eq!(secret.period, 60);
        assert_eq!(
            secret.secret_base32().expose_secret(),
            "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"
        );
    }

    #[test]
    fn missing_parameters_take_the_defaults() {
        let secret = parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(secret.algorithm, Algorithm::Sha1);
        assert_eq!(secret.digits, 6);
        assert_eq!(secret.period, 30);
        assert_eq!(secret.issuer, None);
        assert_eq!(secret.label.as_deref(), Some("alice"));
        // Same code as oathtool gives for the bare secret (see the core tests).
        assert_eq!(secret.code_at(T).expose_secret(), "324550");
    }

    #[test]
    fn issuer_comes_from_the_parameter_or_the_prefix() {
        let issuer_label = |uri: &str| {
            let secret = parse(uri).unwrap();
            (secret.issuer, secret.label)
        };
        let both = |issuer: &str, label: &str| (Some(issuer.to_string()), Some(label.to_string()));
        assert_eq!(
            issuer_label("otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP"),
            both("Example", "alice")
        );
        assert_eq!(
            issuer_label("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=Example"),
            both("Example", "alice")
        );
        assert_eq!(
            issuer_label("otpauth://totp/Old:alice?secret=JBSWY3DPEHPK3PXP&issuer=New"),
            both("New", "alice")
        );
        assert_eq!(
            issuer_label("otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer="),
            both("Example", "alice")
        );
        // Encoded colon, a space after it, and `+` for a space in the form-encoded query.
        assert_eq!(
            issuer_label("otpauth://totp/Big%20Corp%3A%20alice?secret=JBSWY3DPEHPK3PXP"),
            both("Big Corp", "alice")
        );
        assert_eq!(
            issuer_label("otpauth://totp/alice?issuer=Big+Corp&secret=JBSWY3DPEHPK3PXP"),
            both("Big Corp", "alice")
        );
        assert_eq!(
            issuer_label("otpauth://totp/?secret=JBSWY3DPEHPK3PXP"),
            (None, None)
        );
    }

    #[test]
    fn secret_is_read_tolerantly() {
        for uri in [
            "otpauth://totp/a?secret=jbswy3dpehpk3pxp",
            "otpauth://totp/a?secret=JBSW%20Y3DP%20EHPK%203PXP",
            "otpauth://totp/a?secret=jbsw+y3dp+ehpk+3pxp",
            "otpauth://totp/a?secret=JBSW-Y3DP-EHPK-3PXP",
            "otpauth://totp/a?secret=JBSWY3DPEE%3D%3D%3D%3D%3D%3D",
            "OTPAUTH://TOTP/a?SECRET=JBSWY3DPEHPK3PXP&ALGORITHM=sha1",
        ] {
            let secret = parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
            assert!(
                ["JBSWY3DPEHPK3PXP", "JBSWY3DPEE"]
                    .contains(&secret.secret_base32().expose_secret()),
                "{uri}"
            );
        }
    }

    #[test]
    fn algorithm_names_are_case_insensitive() {
        for (name, algorithm) in [
            ("sha1", Algorithm::Sha1),
            ("Sha256", Algorithm::Sha256),
            ("sha512", Algorithm::Sha512),
        ] {
            let uri = format!("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&algorithm={name}");
            assert_eq!(parse(&uri).unwrap().algorithm, algorithm);
        }
    }

    #[test]
    fn hotp_is_refused_clearly() {
        let error = parse(&format!("otpauth://hotp/a?secret={CANARY}&counter=1")).unwrap_err();
        assert!(matches!(error, TotpError::HotpNotSupported));
        assert!(error.to_string().contains("HOTP"));
        assert_no_leak(&error, &[CANARY]);
    }

    #[test]
    fn bad_uris_give_errors_without_the_secret() {
        type Expected = fn(&TotpError) -> bool;
        let cases: Vec<(String, Expected)> = vec![
            (format!("otpauth://totp/a?secret={CANARY}&digits=9"), |e| {
                matches!(e, TotpError::InvalidDigits { digits: 9 })
            }),
            (
                format!("otpauth://totp/a?secret={CANARY}&digits=six"),
                |e| matches!(e, TotpError::InvalidNumber { name: "digits" }),
            ),
            (format!("otpauth://totp/a?secret={CANARY}&period=0"), |e| {
                matches!(e, TotpError::ZeroPeriod)
            }),
            (
                format!("otpauth://totp/a?secret={CANARY}&period=-30"),
                |e| matches!(e, TotpError::InvalidNumber { name: "period" }),
            ),
            (
                format!("otpauth://totp/a?secret={CANARY}&algorithm=MD5"),
                |e| matches!(e, TotpError::UnknownAlgorithm),
            ),
            (
                format!("otpauth://totp/a?secret={CANARY}&secret={CANARY}"),
                |e| matches!(e, TotpError::RepeatedParameter { name: "secret" }),
            ),
            (
                format!("otpauth://totp/a?secret={CANARY}&digits=6&digits=8"),
                |e| matches!(e, TotpError::RepeatedParameter { name: "digits" }),
            ),
            (format!("otpauth://totp/a?secret={CANARY}1"), |e| {
                matches!(e, TotpError::InvalidBase32 { position: 17 })
            }),
            (format!("otpauth://totp/a?secret={CANARY}Q"), |e| {
                matches!(e, TotpError::Base32Length { length: 17 })
            }),
            (format!("otpauth://totp/%FF?secret={CANARY}"), |e| {
                matches!(e, TotpError::InvalidLabel)
            }),
            (format!("otpauth://steam/a?secret={CANARY}"), |e| {
                matches!(e, TotpError::UnsupportedOtpType)
            }),
            (format!("otpauth:totp?secret={CANARY}"), |e| {
                matches!(e, TotpError::UnsupportedOtpType)
            }),
            (format!("otpauth://[totp/a?secret={CANARY}"), |e| {
                matches!(e, TotpError::InvalidUri(_))
            }),
            ("otpauth://totp/a?issuer=Example".to_string(), |e| {
                matches!(e, TotpError::MissingSecret)
            }),
            ("otpauth://totp/a?secret=".to_string(), |e| {
                matches!(e, TotpError::EmptySecret)
            }),
        ];
        for (uri, expected) in cases {
            let error = parse(&uri).unwrap_err();
            assert!(expected(&error), "{uri}: {error:?}");
            assert_no_leak(&error, &[CANARY, "CANARYSECRET"]);
        }
    }

    #[test]
    fn other_schemes_are_not_mistaken_for_otpauth() {
        for text in [
            format!("otpauth-other://totp/a?secret={CANARY}"),
            format!("http://totp/a?secret={CANARY}"),
        ] {
            let error = parse(&text).unwrap_err();
            assert!(matches!(error, TotpError::UnrecognisedInput), "{text}");
            assert_no_leak(&error, &[CANARY]);
        }
    }

    #[test]
    fn corpus_of_uris_that_once_failed() {
        for uri in include_str!("../../../tests/regressions/otpauth_uris.txt").lines() {
            match parse(uri) {
                Ok(secret) => {
                    assert!(super::super::check_params(secret.digits, secret.period).is_ok());
                    let _ = secret.code_at(u64::MAX);
                }
                Err(error) => assert_no_leak(&error, &["JBSWY3DPEHPK3PXP"]),
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 256,
            failure_persistence: Some(Box::new(
                proptest::test_runner::FileFailurePersistence::Direct(
                    "../tests/regressions/otpauth_uris.proptest",
                ),
            )),
            ..proptest::test_runner::Config::default()
        })]

        /// Any value for any parameter: a secret whose numbers are in range (so that codes can
        /// be computed at any time), or an error that does not show the seed.
        #[test]
        fn any_otpauth_parameters_give_a_usable_secret_or_an_error_without_it(
            digits in "-?[0-9]{0,25}|\\PC{0,6}",
            period in "-?[0-9]{0,25}|\\PC{0,6}",
            algorithm in "(?i)sha(1|256|512)|\\PC{0,8}",
            issuer in "\\PC{0,12}",
            label in "\\PC{0,12}",
            time in proptest::prelude::any::<u64>(),
        ) {
            let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let uri = format!(
                "otpauth://totp/{}?secret={CANARY}&digits={}&period={}&algorithm={}&issuer={}",
                enc(&label), enc(&digits), enc(&period), enc(&algorithm), enc(&issuer)
            );
            match parse(&uri) {
                Ok(secret) => {
                    proptest::prop_assert!(super::super::check_params(secret.digits, secret.period).is_ok());
                    let _ = secret.code_at(time);
                    let _ = secret.step_at(time);
                    let _ = secret.seconds_left(time);
                    let shown = format!("{secret:?}");
                    proptest::prop_assert!(!shown.contains(CANARY));
                }
                Err(error) => assert_no_leak(&error, &[CANARY]),
            }
        }
    }
}
