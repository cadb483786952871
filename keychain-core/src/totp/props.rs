//! Property tests for the TOTP parsers that read outside input: pasted text (base32,
//! `otpauth://` URIs, `otpauth-migration://` exports) and QR images. Random and mutated inputs
//! must never panic, and whatever is accepted must be usable (parameters the code generator
//! accepts). Inputs are bounded in size, so time and memory are bounded too.
//!
//! A case that ever fails is kept by proptest in `tests/regressions/` (replayed first on every
//! run), and inputs worth keeping as files go to `tests/regressions/totp/`, replayed by
//! `regression_corpus_parses_without_panic`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use proptest::prelude::*;

use super::{DIGITS_RANGE, MAX_PERIOD, TotpSecret};
use crate::proptest_support::config;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/totp")
        .join(name)
}

/// Everything accepted can compute codes: the parameters are within what `from_parts` checks.
fn assert_usable(secrets: &[TotpSecret]) {
    for secret in secrets {
        assert!(DIGITS_RANGE.contains(&secret.digits), "{secret:?}");
        assert!((1..=MAX_PERIOD).contains(&secret.period), "{secret:?}");
        assert_eq!(secret.code_at(1_700_000_000).expose_len(), secret.digits);
    }
}

trait ExposeLen {
    fn expose_len(&self) -> u32;
}

impl ExposeLen for secrecy::SecretString {
    fn expose_len(&self) -> u32 {
        use secrecy::ExposeSecret;
        self.expose_secret().chars().count() as u32
    }
}

/// Parses `text` and checks the outcome: usable secrets, or an error that can be shown.
fn check_text(text: &str) {
    match TotpSecret::parse_all(text) {
        Ok(secrets) => assert_usable(&secrets),
        Err(error) => drop(error.to_string()),
    }
}

/// `text` with a few random edits: bytes replaced, inserted or removed (kept valid UTF-8).
fn mutated(text: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec((any::<prop::sample::Index>(), any::<char>(), 0u8..3), 1..6).prop_map(
        move |edits| {
            let mut chars: Vec<char> = text.chars().collect();
            for (at, c, kind) in edits {
                let i = at.index(chars.len() + 1);
                match kind {
                    0 if i < chars.len() => chars[i] = c,
                    1 => chars.insert(i, c),
                    _ if i < chars.len() => {
                        chars.remove(i);
                    }
                    _ => chars.push(c),
                }
            }
            chars.into_iter().collect()
        },
    )
}

const URI: &str = "otpauth://totp/ACME%20Co:john.doe%40email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60";
const MIGRATION: &str = include_str!("../../../tests/data/totp/migration-two-entries.txt");

proptest! {
    #![proptest_config(config("totp-text", 512))]

    #[test]
    fn any_text_parses_or_fails_cleanly(text in "\\PC{0,300}") {
        check_text(&text);
    }

    #[test]
    fn otpauth_uris_with_hostile_fields_parse_or_fail_cleanly(
        kind in "totp|hotp|TOTP|x|",
        label in "[A-Za-z0-9%:@. ]{0,40}",
        secret in "[A-Za-z2-7= -]{0,80}",
        digits in prop_oneof![Just(String::new()), "[0-9]{1,25}", "-?[0-9]{1,3}"],
        period in prop_oneof![Just(String::new()), "[0-9]{1,25}", "-?[0-9]{1,3}"],
        algorithm in "SHA1|SHA256|SHA512|MD5|sha1|",
    ) {
        check_text(&format!(
            "otpauth://{kind}/{label}?secret={secret}&digits={digits}&period={period}&algorithm={algorithm}"
        ));
    }

    #[test]
    fn mutated_otpauth_uris_parse_or_fail_cleanly(text in mutated(URI)) {
        check_text(&text);
    }

    #[test]
    fn mutated_migration_exports_parse_or_fail_cleanly(text in mutated(MIGRATION.trim())) {
        check_text(&text);
    }

    #[test]
    fn random_migration_payloads_parse_or_fail_cleanly(
        payload in prop::collection::vec(any::<u8>(), 0..2048)
    ) {
        let data = base64::engine::general_purpose::STANDARD.encode(&payload);
        let data = percent_encoding::utf8_percent_encode(&data, percent_encoding::NON_ALPHANUMERIC);
        check_text(&format!("otpauth-migration://offline?data={data}"));
    }

    #[test]
    fn payloads_with_bytes_of_a_real_export_flipped_parse_or_fail_cleanly(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        let url = url::Url::parse(MIGRATION.trim()).unwrap();
        let data = url.query_pairs().find(|(k, _)| k == "data").unwrap().1.into_owned();
        let mut payload = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
        for (at, byte) in flips {
            let i = at.index(payload.len());
            payload[i] ^= byte;
        }
        let data = base64::engine::general_purpose::STANDARD.encode(&payload);
        let data = percent_encoding::utf8_percent_encode(&data, percent_encoding::NON_ALPHANUMERIC);
        check_text(&format!("otpauth-migration://offline?data={data}"));
    }
}

/// Reads `bytes` as a QR image file; the outcome must be usable secrets or a typed error.
fn check_image(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qr.png");
    std::fs::write(&path, bytes).unwrap();
    match TotpSecret::all_from_qr_image(&path) {
        Ok(secrets) => assert_usable(&secrets),
        Err(error) => drop(error.to_string()),
    }
}

proptest! {
    // Each case decodes an image: fewer cases, small inputs.
    #![proptest_config(config("totp-qr", 48))]

    #[test]
    fn random_bytes_as_an_image_fail_cleanly(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
        png_signature in any::<bool>(),
    ) {
        let mut input = Vec::new();
        if png_signature {
            input.extend_from_slice(b"\x89PNG\r\n\x1a\n");
        }
        input.extend_from_slice(&bytes);
        check_image(&input);
    }

    #[test]
    fn a_real_qr_png_with_bytes_flipped_reads_or_fails_cleanly(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        let mut bytes = std::fs::read(data("qr-otpauth.png")).unwrap();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= byte;
        }
        check_image(&bytes);
    }

    #[test]
    fn random_pictures_hold_no_qr_code_or_fail_cleanly(
        width in 1u32..160,
        height in 1u32..160,
        seed in any::<u64>(),
    ) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let image = image::GrayImage::from_fn(width, height, |_, _| {
            image::Luma([if rng.r#gen::<bool>() { 0 } else { 255 }])
        });
        let mut bytes = Vec::new();
        image
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        check_image(&bytes);
    }
}

/// Every file kept in `tests/regressions/totp/`: text files through the text parser, images
/// through the QR reader.
#[test]
fn regression_corpus_parses_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/regressions/totp");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        match path.extension().and_then(|e| e.to_str()) {
            Some("txt") => check_text(&String::from_utf8_lossy(&bytes)),
            Some("png" | "jpg") => check_image(&bytes),
            _ => continue,
        }
        seen += 1;
    }
    assert!(seen > 0, "the corpus in {} is empty", dir.display());
}
