//! Property tests: whatever a provider (or anything between it and us) sends as a page, a B2C
//! `SETTINGS` script or a `Date` header, the parsers return a value or a typed error; none
//! panics, and the clock offset that codes follow never leaves its bound.
//!
//! A case that ever fails is kept by proptest under `tests/regressions/` and replayed first on
//! every run; the hand-kept corpus beside it (`tests/regressions/*.txt`) is replayed here too.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use url::Url;

use super::adapters::detect_b2c;
use super::browser::{MAX_CLOCK_OFFSET, followed_offset, offset_from_date};
use super::{LogonError, html};
use crate::scrub::Scrubber;

/// A password a hostile page may echo back, in pieces or another case.
const PASSWORD: &str = "Hx4-qPw9-Zr2Tm7";

/// A login page of the kind the engine sees, to mutate.
const SEED_PAGE: &str = r#"<html><head><script>var SETTINGS = {"csrf":"c1","transId":"T=1",
"api":"CombinedSigninAndSignup","hosts":{"tenant":"/t/B2C_1A","policy":"B2C_1A"}};
var SA_FIELDS = {"AttributeFields":[{"ID":"signInName"},{"ID":"password"}]};</script></head>
<body><div class="message message-negative alert"><span trmsg="5"></span></div>
<form method="post" action="/login?x=1"><input type="hidden" name="token" value="abc">
<input name="user" autocomplete="username"><input type="password" name="password">
<select name="lang"><option value="en" selected>en</option></select><textarea name="t">x</textarea>
<input type="checkbox" name="remember" checked><button name="go" value="1">Go</button></form></body></html>"#;

fn config(file: &'static str) -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))),
        ..ProptestConfig::default()
    }
}

/// Every self-asserted page the detector finds yields URLs or a typed error, never a panic.
fn exercise_b2c(scripts: &[String]) {
    if let Some(Ok(sa)) = detect_b2c(scripts) {
        let page = Url::parse("https://login.example.com/t/B2C_1A/oauth2/authorize").unwrap();
        let _ = sa.post_url(&page);
        let _ = sa.confirmed_url(&page);
    }
}

fn exercise_page(text: &str) {
    let page = html::parse(text);
    exercise_b2c(&page.scripts);
}

#[test]
fn corpus_of_pages_and_dates_that_once_failed() {
    let corpus = include_str!("../../../tests/regressions/logon_inputs.txt");
    for case in corpus.split("\n----\n") {
        exercise_page(case);
        let _ = offset_from_date(case.trim(), 0);
    }
}

proptest! {
    #![proptest_config(config("../tests/regressions/logon_pages.proptest"))]

    #[test]
    fn any_text_parses_as_a_page(text in "\\PC{0,400}") {
        exercise_page(&text);
    }

    #[test]
    fn mutated_login_pages_parse(
        cut in 0usize..SEED_PAGE.len(),
        insert in "[<>\"'=/{}\\[\\]a-z ]{0,12}",
        at in 0usize..SEED_PAGE.len(),
    ) {
        let mut text = SEED_PAGE.to_string();
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.insert_str(at, &insert);
        let cut = (0..=cut.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        exercise_page(&text[..cut]);
        exercise_page(&text[cut..]);
    }

    #[test]
    fn any_b2c_settings_give_urls_or_a_named_error(
        csrf in "\\PC{0,20}",
        trans in "\\PC{0,20}",
        tenant in "\\PC{0,40}",
        policy in "\\PC{0,20}",
        api in "\\PC{0,20}",
        ids in proptest::collection::vec("\\PC{0,12}", 0..4),
        drop_key in 0usize..7,
    ) {
        let mut settings = serde_json::json!({
            "csrf": csrf, "transId": trans, "api": api,
            "hosts": {"tenant": tenant, "policy": policy},
        });
        // One setting missing or of the wrong type, now and then.
        match drop_key {
            0 => { settings.as_object_mut().unwrap().remove("csrf"); }
            1 => { settings["hosts"] = serde_json::json!(7); }
            2 => { settings["api"] = serde_json::json!(null); }
            _ => {}
        }
        let fields: Vec<_> = ids.iter().map(|id| serde_json::json!({"ID": id})).collect();
        let script = format!(
            "var SETTINGS = {settings};\nvar SA_FIELDS = {};",
            serde_json::json!({"AttributeFields": fields})
        );
        match detect_b2c(std::slice::from_ref(&script)) {
            Some(Ok(_)) => prop_assert!(drop_key > 2),
            Some(Err(missing)) => prop_assert!(missing.starts_with("SETTINGS.") || missing.starts_with("SA_FIELDS")),
            None => prop_assert!(false, "a SETTINGS script was not detected"),
        }
        exercise_b2c(&[script]);
    }

    /// Whatever a page or redirect puts in an error (a path, field names, a detail, an OAuth2
    /// error), no prefix of the password reaches the error's text or its `Debug`.
    #[test]
    fn provider_text_in_any_logon_error_is_scrubbed(
        before in "\\PC{0,20}",
        after in "\\PC{0,20}",
        end in 6usize..=PASSWORD.len(),
        upper in any::<bool>(),
        variant in 0usize..8,
        encoding in 0usize..5,
    ) {
        use base64::Engine;
        let piece = &PASSWORD[..end];
        let piece = if upper { piece.to_ascii_uppercase() } else { piece.to_string() };
        // Issue 25, item 1: as the provider may echo it.
        let piece = match encoding {
            0 => piece,
            1 => piece.bytes().map(|b| format!("%{b:02X}")).collect(),
            2 => piece.chars().map(|c| format!("&#x{:x};", c as u32)).collect(),
            3 => piece.chars().map(|c| format!("&#0{};", c as u32)).collect(),
            _ => base64::engine::general_purpose::STANDARD.encode(format!("client:{piece}")),
        };
        let echo = format!("{before}{piece}{after}");
        let error = match variant {
            0 => LogonError::Rejected { step: "password".into(), fields: vec![echo.clone()], said: Some(echo) },
            1 => LogonError::Provider { error: echo.clone(), description: Some(echo) },
            2 => LogonError::Protocol { step: "x".into(), path: echo.clone(), detail: echo },
            3 => LogonError::UnknownPage { path: echo.clone(), status: 200, fields: vec![echo] },
            4 => LogonError::TooManySteps { hops: 40, path: echo },
            5 => LogonError::Policy(crate::oauth::CredentialRefused::Host {
                step: "password".into(),
                host: echo,
            }),
            6 => LogonError::CodeNotTaken { said: echo },
            _ => LogonError::TotpRequired { path: echo },
        };
        let mut scrubber = Scrubber::new();
        scrubber.add(&secrecy::SecretString::from(PASSWORD.to_string()));
        let error = error.scrubbed(&scrubber);
        let shown = format!("{error} {error:?}");
        let head = PASSWORD[..6].to_ascii_lowercase();
        for decoded in crate::scrub::decodings(&shown) {
            prop_assert!(!decoded.contains(&head), "{}", shown);
        }
    }

    #[test]
    fn any_date_header_gives_a_bounded_offset(value in "\\PC{0,40}", now in any::<i64>()) {
        if let Some(followed) = offset_from_date(&value, now).and_then(followed_offset) {
            prop_assert!(followed.saturating_abs() <= MAX_CLOCK_OFFSET);
        }
    }

    #[test]
    fn real_dates_at_any_distance_are_followed_only_within_the_bound(
        secs in 0u64..253_402_300_799,
        now in any::<i64>(),
    ) {
        let date = httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
        let offset = offset_from_date(&date, now).expect("a date we wrote");
        prop_assert_eq!(offset, (secs as i64).saturating_sub(now));
        match followed_offset(offset) {
            Some(f) => prop_assert!(f.saturating_abs() <= MAX_CLOCK_OFFSET),
            None => prop_assert!(offset.saturating_abs() > MAX_CLOCK_OFFSET),
        }
    }
}
