//! Tests of code computation and base32 secrets. URI, migration and QR tests live beside
//! their modules.

use super::*;

/// RFC 6238 Appendix B seeds: the ASCII digits repeated to the hash's block-friendly length.
const SEED_SHA1: &[u8] = b"12345678901234567890";
const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

/// RFC 6238 Appendix B, copied from the RFC's table (8 digits, 30 s period).
const RFC6238_VECTORS: [(u64, &str, Algorithm); 18] = [
    (59, "94287082", Algorithm::Sha1),
    (59, "46119246", Algorithm::Sha256),
    (59, "90693936", Algorithm::Sha512),
    (1111111109, "07081804", Algorithm::Sha1),
    (1111111109, "68084774", Algorithm::Sha256),
    (1111111109, "25091201", Algorithm::Sha512),
    (1111111111, "14050471", Algorithm::Sha1),
    (1111111111, "67062674", Algorithm::Sha256),
    (1111111111, "99943326", Algorithm::Sha512),
    (1234567890, "89005924", Algorithm::Sha1),
    (1234567890, "91819424", Algorithm::Sha256),
    (1234567890, "93441116", Algorithm::Sha512),
    (2000000000, "69279037", Algorithm::Sha1),
    (2000000000, "90698825", Algorithm::Sha256),
    (2000000000, "38618901", Algorithm::Sha512),
    (20000000000, "65353130", Algorithm::Sha1),
    (20000000000, "77737706", Algorithm::Sha256),
    (20000000000, "47863826", Algorithm::Sha512),
];

/// The 80-bit example secret many providers' docs use; shorter than RFC 4226's 128 bits.
const SHORT_SECRET: &str = "JBSWY3DPEHPK3PXP";
const T: u64 = 1_700_000_000;

fn bytes(seed: &[u8]) -> SecretBox<[u8]> {
    SecretBox::new(Box::from(seed))
}

fn rfc_secret(algorithm: Algorithm) -> TotpSecret {
    let seed = match algorithm {
        Algorithm::Sha1 => SEED_SHA1,
        Algorithm::Sha256 => SEED_SHA256,
        Algorithm::Sha512 => SEED_SHA512,
    };
    TotpSecret::from_parts(bytes(seed), algorithm, 8, 30).unwrap()
}

fn short(digits: u32, period: u64, algorithm: Algorithm) -> TotpSecret {
    let mut secret = TotpSecret::parse(SHORT_SECRET).unwrap();
    secret.digits = digits;
    secret.period = period;
    secret.algorithm = algorithm;
    secret
}

fn code(secret: &TotpSecret, time: u64) -> String {
    secret.code_at(time).expose_secret().to_string()
}

#[test]
fn rfc6238_appendix_b_vectors() {
    for (time, expected, algorithm) in RFC6238_VECTORS {
        let secret = rfc_secret(algorithm);
        assert_eq!(code(&secret, time), expected, "{algorithm} at {time}");
        assert!(secret.matches(expected, time, 0), "{algorithm} at {time}");
    }
}

/// Expected codes come from oathtool 2.6.7, an independent implementation, run once:
/// `oathtool --totp[=sha256] -b JBSWY3DPEHPK3PXP [-d 7|8] [-s 60] --now @1700000000`.
#[test]
fn short_secret_matches_oathtool() {
    assert_eq!(code(&short(6, 30, Algorithm::Sha1), T), "324550");
    assert_eq!(code(&short(7, 30, Algorithm::Sha1), T), "2324550");
    // The 8-digit code starts with 0: the padding must be kept.
    assert_eq!(code(&short(8, 30, Algorithm::Sha1), T), "02324550");
    assert_eq!(code(&short(6, 60, Algorithm::Sha1), T), "508648");
    assert_eq!(code(&short(6, 30, Algorithm::Sha256), T), "049486");
}

#[test]
fn codes_have_exactly_the_configured_digits() {
    for digits in DIGITS_RANGE {
        let secret = short(digits, 30, Algorithm::Sha1);
        for time in (0..3000).step_by(30) {
            let code = code(&secret, time);
            assert_eq!(code.len(), digits as usize);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}

#[test]
fn steps_and_seconds_left_follow_the_period() {
    let secret = short(6, 30, Algorithm::Sha1);
    assert_eq!(secret.step_at(0), 0);
    assert_eq!(secret.step_at(29), 0);
    assert_eq!(secret.step_at(30), 1);
    assert_eq!(secret.step_at(59), 1);
    assert_eq!(secret.seconds_left(0), 30);
    assert_eq!(secret.seconds_left(29), 1);
    assert_eq!(secret.seconds_left(30), 30);
    // RFC 6238 Appendix B gives the step for 1111111109 as 0x23523EC.
    assert_eq!(secret.step_at(1111111109), 0x23523EC);

    let minute = short(6, 60, Algorithm::Sha1);
    assert_eq!(minute.step_at(T), T / 60);
    assert_eq!(minute.seconds_left(T), 60 - T % 60);
    // A code holds for its whole step and changes at the boundary.
    let start = minute.step_at(T) * 60;
    assert_eq!(code(&minute, start), code(&minute, start + 59));
    assert_ne!(code(&minute, start), code(&minute, start + 60));

    let every_second = short(6, 1, Algorithm::Sha1);
    assert_eq!(every_second.step_at(T), T);
    assert_eq!(every_second.seconds_left(T), 1);
}

#[test]
fn matches_accepts_the_window_and_nothing_else() {
    let secret = short(6, 30, Algorithm::Sha1);
    let now = code(&secret, T);
    let previous = code(&secret, T - 30);
    let next = code(&secret, T + 30);
    let two_back = code(&secret, T - 60);

    assert!(secret.matches(&now, T, 0));
    assert!(!secret.matches(&previous, T, 0));
    assert!(secret.matches(&previous, T, 1));
    assert!(secret.matches(&next, T, 1));
    assert!(!secret.matches(&two_back, T, 1));
    assert!(secret.matches(&two_back, T, 2));
}

#[test]
fn matches_ignores_spaces_and_rejects_malformed_codes() {
    let secret = short(6, 30, Algorithm::Sha1);
    assert!(secret.matches("324 550", T, 0));
    assert!(secret.matches(" 324550\n", T, 0));
    assert!(!secret.matches("32455", T, 0));
    assert!(!secret.matches("3245500", T, 0));
    assert!(!secret.matches("", T, 1));
    assert!(!secret.matches("32455x", T, 0));
}

#[test]
fn matches_near_the_ends_of_time_does_not_overflow() {
    let secret = short(6, 30, Algorithm::Sha1);
    let first = code(&secret, 0);
    assert!(secret.matches(&first, 0, 1));
    assert!(secret.matches(&first, 0, 5));
    let last = code(&secret, u64::MAX);
    assert!(secret.matches(&last, u64::MAX, 1));
}

#[test]
fn from_parts_rejects_bad_parameters() {
    let seed = || bytes(SEED_SHA1);
    for digits in [0, 5, 9, 10, u32::MAX] {
        let error = TotpSecret::from_parts(seed(), Algorithm::Sha1, digits, 30).unwrap_err();
        assert!(matches!(error, TotpError::InvalidDigits { digits: d } if d == digits));
    }
    let error = TotpSecret::from_parts(seed(), Algorithm::Sha1, 6, 0).unwrap_err();
    assert!(matches!(error, TotpError::ZeroPeriod));
    let error = TotpSecret::from_parts(bytes(b""), Algorithm::Sha1, 6, 30).unwrap_err();
    assert!(matches!(error, TotpError::EmptySecret));
    assert!(TotpSecret::from_parts(seed(), Algorithm::Sha1, 6, 1).is_ok());
    assert!(TotpSecret::from_parts(bytes(&[7]), Algorithm::Sha1, 8, MAX_PERIOD).is_ok());
    // Regression (issue 8, defect 7): a period of 10⁸ s made a logon sleep for it.
    for period in [MAX_PERIOD + 1, 100_000_000, u64::MAX] {
        let error = TotpSecret::from_parts(seed(), Algorithm::Sha1, 6, period).unwrap_err();
        assert!(matches!(error, TotpError::PeriodTooLong { .. }));
    }
}

#[test]
#[should_panic(expected = "values from_parts refuses")]
fn code_at_panics_clearly_when_fields_are_set_out_of_range() {
    let mut secret = short(6, 30, Algorithm::Sha1);
    secret.digits = 12;
    let _ = secret.code_at(T);
}

#[test]
fn plain_base32_gets_the_defaults() {
    let secret = TotpSecret::parse(SHORT_SECRET).unwrap();
    assert_eq!(secret.algorithm, Algorithm::Sha1);
    assert_eq!(secret.digits, 6);
    assert_eq!(secret.period, 30);
    assert_eq!(secret.issuer, None);
    assert_eq!(secret.label, None);
    assert_eq!(secret.secret_base32().expose_secret(), SHORT_SECRET);
}

#[test]
fn base32_is_read_tolerantly_and_stored_canonically() {
    // b"Hello!" is JBSWY3DPEE====== in padded RFC 4648 base32.
    for text in [
        "JBSWY3DPEE",
        "JBSWY3DPEE======",
        "jbswy3dpee",
        "jbsw y3dp ee",
        "JBSW-Y3DP-EE",
        "  jbsw-y3dp\tee==\n",
    ] {
        let secret = TotpSecret::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(secret.secret.expose_secret(), b"Hello!", "{text:?}");
        assert_eq!(secret.secret_base32().expose_secret(), "JBSWY3DPEE");
    }
    let spaced = TotpSecret::parse("jbsw y3dp ehpk 3pxp").unwrap();
    assert_eq!(code(&spaced, T), "324550");
}

#[test]
fn invalid_base32_gives_the_position_only() {
    let cases: [(&str, usize); 5] = [
        ("JBSWY3DP0HPK3PXP", 9),
        ("JBSWY3DPEHPK3PX1", 16),
        ("JBSW=Y3DPEHPK3PXP", 6),
        ("JBSWY3DPÄHPK3PXP", 9),
        ("JBSWY3DP_HPK3PXP", 9),
    ];
    for (text, expected) in cases {
        let error = TotpSecret::parse(text).unwrap_err();
        assert!(
            matches!(error, TotpError::InvalidBase32 { position } if position == expected),
            "{text:?}: {error:?}"
        );
        assert!(error.to_string().contains(&format!("character {expected}")));
        assert_no_leak(&error, &["JBSWY3DP", "HPK3P"]);
    }
}

#[test]
fn truncated_and_empty_base32_are_refused() {
    for text in ["JBSWY3DPE", "JBSWY3DPEHP", "JBSWY3DPEHPK3P", "A"] {
        let error = TotpSecret::parse(text).unwrap_err();
        assert!(matches!(error, TotpError::Base32Length { .. }), "{text:?}");
        assert_no_leak(&error, &["JBSWY"]);
    }
    for text in ["", "   ", "====", "- -"] {
        let error = TotpSecret::parse(text).unwrap_err();
        assert!(matches!(error, TotpError::EmptySecret), "{text:?}");
    }
}

#[test]
fn unknown_schemes_are_refused_without_echo() {
    let error = TotpSecret::parse("https://example.com/?secret=JBSWY3DPEHPK3PXP").unwrap_err();
    assert!(matches!(error, TotpError::UnrecognisedInput));
    assert_no_leak(&error, &[SHORT_SECRET]);
}

#[test]
fn debug_never_shows_the_secret_or_a_code() {
    let mut secret = short(8, 30, Algorithm::Sha256);
    secret.issuer = Some("Example".into());
    secret.label = Some("alice@example.com".into());
    let debug = format!("{secret:?}");
    let pretty = format!("{secret:#?}");
    for shown in [&debug, &pretty] {
        assert!(!shown.contains(SHORT_SECRET));
        assert!(!shown.to_lowercase().contains(&SHORT_SECRET.to_lowercase()));
        assert!(!shown.contains(&code(&secret, T)));
        assert!(!shown.contains("72, 101")); // the seed as a byte list
        assert!(shown.contains("Sha256") && shown.contains("alice@example.com"));
    }
    assert!(!format!("{:?}", secret.code_at(T)).contains(&code(&secret, T)));
    assert!(!format!("{:?}", secret.secret_base32()).contains(SHORT_SECRET));
}

#[test]
fn algorithm_names_in_serde_display_and_parsing() {
    for (algorithm, name) in [
        (Algorithm::Sha1, "SHA1"),
        (Algorithm::Sha256, "SHA256"),
        (Algorithm::Sha512, "SHA512"),
    ] {
        assert_eq!(algorithm.to_string(), name);
        let json = serde_json::to_string(&algorithm).unwrap();
        assert_eq!(json, format!("\"{name}\""));
        assert_eq!(serde_json::from_str::<Algorithm>(&json).unwrap(), algorithm);
        assert_eq!(name.to_lowercase().parse::<Algorithm>().unwrap(), algorithm);
    }
    assert!(matches!(
        "MD5".parse::<Algorithm>(),
        Err(TotpError::UnknownAlgorithm)
    ));
}

#[test]
fn select_by_number_name_issuer_or_label() {
    let entry = |issuer: Option<&str>, label: &str| {
        let mut secret = TotpSecret::parse(SHORT_SECRET).unwrap();
        secret.issuer = issuer.map(String::from);
        secret.label = Some(label.to_string());
        secret
    };
    let entries = || {
        vec![
            entry(Some("Example"), "alice"),
            entry(Some("Example"), "bob"),
            entry(None, "carol"),
        ]
    };
    assert_eq!(
        select(entries(), "2").unwrap().label.as_deref(),
        Some("bob")
    );
    assert_eq!(
        select(entries(), "example:ALICE").unwrap().label.as_deref(),
        Some("alice")
    );
    assert_eq!(
        select(entries(), "carol").unwrap().label.as_deref(),
        Some("carol")
    );

    let error = select(entries(), "Example").unwrap_err();
    assert!(matches!(error, TotpError::SeveralEntries { count: 2, .. }));
    assert!(
        error
            .to_string()
            .contains("1. Example:alice, 2. Example:bob")
    );

    for selector in ["0", "4", "dave"] {
        let error = select(entries(), selector).unwrap_err();
        assert!(matches!(error, TotpError::NoSuchEntry { .. }), "{selector}");
        assert!(error.to_string().contains("3. carol"));
    }
}

/// Asserts that neither an error's message nor any of its causes contains any of `secrets`,
/// in any letter case.
pub(super) fn assert_no_leak(error: &(dyn std::error::Error + 'static), secrets: &[&str]) {
    let mut texts = vec![error.to_string(), format!("{error:?}")];
    let mut source = error.source();
    while let Some(cause) = source {
        texts.push(cause.to_string());
        texts.push(format!("{cause:?}"));
        source = cause.source();
    }
    for text in texts {
        for secret in secrets {
            assert!(
                !text.to_lowercase().contains(&secret.to_lowercase()),
                "error text leaks a secret: {text}"
            );
        }
    }
}
