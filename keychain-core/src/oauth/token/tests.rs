use super::*;
use crate::scrub::Scrubber;
use proptest::prelude::*;
use secrecy::ExposeSecret;

fn sent(v: &str) -> Scrubber {
    let mut s = Scrubber::new();
    s.add(&SecretString::from(v.to_string()));
    s
}

fn err(status: u16, body: &str) -> TokenError {
    match classify(status, None, body, &sent("sent-token-value")) {
        Err(Classified::Error(e)) => e,
        Err(_) => panic!("not a classified error"),
        Ok(_) => panic!("unexpected success"),
    }
}

#[test]
fn exact_error_texts_are_classified() {
    for d in [
        "Old refresh token used",
        "invalid or empty chainId",
        "The refresh token expired at 2026-01-01 10:00:00",
    ] {
        let body = format!(r#"{{"error":"invalid_grant","error_description":"{d}"}}"#);
        assert!(
            matches!(err(400, &body), TokenError::Rejected { description: Some(ref x), .. } if x == d)
        );
    }
    // Exact's words retire the token whatever `error` comes with them.
    assert!(matches!(
        err(
            400,
            r#"{"error":"invalid_request","error_description":"Old refresh token used."}"#
        ),
        TokenError::Rejected { .. }
    ));
    let e = err(
        400,
        r#"{"error":"TooEarlyToRefreshTokens","refresh_token":"new-one"}"#,
    );
    match e {
        TokenError::RateLimited {
            new_refresh_token: Some(t),
            ..
        } => {
            assert_eq!(t.expose_secret(), "new-one")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        err(429, "slow"),
        TokenError::RateLimited {
            new_refresh_token: None,
            ..
        }
    ));
}

/// Regression (issue 8, defect 1): any 4xx used to retire the refresh token.
#[test]
fn only_a_dead_grant_is_rejected_every_other_4xx_is_refused() {
    for (status, body) in [
        (
            400,
            r#"{"error":"invalid_request","error_description":"unsupported parameter"}"#,
        ),
        (
            401,
            r#"{"error":"invalid_client","error_description":"bad client"}"#,
        ),
        (403, "<html>Forbidden by the WAF</html>"),
        (404, "Not Found"),
        (407, ""),
        (400, r#"{"error":"unauthorized_client"}"#),
    ] {
        match classify(status, None, body, &Scrubber::new()) {
            Err(Classified::Refused { status: s, .. }) => assert_eq!(s, status),
            _ => panic!("HTTP {status} {body} must be a refusal, not a dead grant"),
        }
    }
    // `invalid_grant`, and LemonLDAP::NG's bare `invalid_request` for an unknown token.
    for body in [
        r#"{"error":"invalid_grant"}"#,
        r#"{"error":"invalid_request"}"#,
    ] {
        assert!(matches!(
            classify(400, None, body, &Scrubber::new()),
            Err(Classified::Error(TokenError::Rejected { .. }))
        ));
    }
    match classify(407, None, "", &Scrubber::new()) {
        Err(Classified::Refused { error, .. }) => {
            assert_eq!(error, "Proxy Authentication Required")
        }
        _ => panic!("407"),
    }
}

#[test]
fn server_errors_are_unavailable_and_strings_parse() {
    assert!(matches!(
        classify(503, None, "", &Scrubber::new()),
        Err(Classified::Unavailable(_))
    ));
    let ok = classify(
        200,
        None,
        r#"{"access_token":"a","token_type":"bearer","expires_in":"600","refresh_token":"r"}"#,
        &Scrubber::new(),
    )
    .ok()
    .unwrap();
    assert_eq!(ok.expires_in, Some(600));
    assert!(!format!("{ok:?}").contains("\"a\""));
}

#[test]
fn tokens_that_could_inject_a_header_or_a_command_are_refused() {
    for body in [
        r#"{"access_token":"a\r\nX-Evil: 1","token_type":"bearer"}"#,
        r#"{"access_token":"a b","token_type":"bearer"}"#,
        r#"{"access_token":"a","refresh_token":"r\n","token_type":"bearer"}"#,
    ] {
        assert!(
            matches!(
                classify(200, None, body, &Scrubber::new()),
                Err(Classified::Protocol(_))
            ),
            "{body}"
        );
    }
}

/// Regression (review): a success answer with an unusable access token lost the rotated
/// refresh token it carried.
#[test]
fn an_unusable_success_answer_still_hands_back_its_refresh_token() {
    let body = r#"{"access_token":"a b","refresh_token":"rt-new-1","token_type":"bearer"}"#;
    match classify(200, None, body, &Scrubber::new()) {
        Err(Classified::Rotated(_, token)) => assert_eq!(token.expose_secret(), "rt-new-1"),
        _ => panic!("the refresh token was not handed back"),
    }
    let missing = r#"{"refresh_token":"rt-new-1"}"#;
    assert!(matches!(
        classify(200, None, missing, &Scrubber::new()),
        Err(Classified::Rotated(..))
    ));
}

/// The canary every generated answer may echo, in any case or as a piece.
const CANARY: &str = "Qz7vKx9-Wv2Lp4Tn8Rb3";

fn canary_scrubber() -> Scrubber {
    let mut s = Scrubber::new();
    s.add(&SecretString::from(CANARY.to_string()));
    s
}

/// Every text a classified answer can put in front of a person.
fn shown(result: &Result<TokenResponse, Classified>) -> String {
    match result {
        Ok(r) => format!("{r:?}"),
        Err(Classified::Error(e)) => format!("{e} {e:?}"),
        Err(Classified::Refused {
            error, description, ..
        }) => format!("{error} {description:?}"),
        Err(Classified::Protocol(d) | Classified::Unavailable(d)) => d.clone(),
        Err(Classified::Rotated(d, token)) => format!("{d} {token:?}"),
    }
}

fn assert_no_canary(text: &str) {
    let text = text.to_ascii_lowercase();
    let head = CANARY[..crate::scrub::MIN_RUN].to_ascii_lowercase();
    assert!(!text.contains(&head), "a prefix of the secret in {text:?}");
}

#[test]
fn corpus_of_answers_that_once_failed() {
    let corpus = include_str!("../../../../tests/regressions/token_answers.txt");
    for line in corpus.lines() {
        let (status, body) = line.split_once(' ').unwrap_or((line, ""));
        let status: u16 = status.parse().unwrap();
        let result = classify(status, None, body, &canary_scrubber());
        assert_no_canary(&shown(&result));
        if let Ok(r) = result {
            assert!(r.expires_in.is_none_or(|e| e <= MAX_EXPIRES_IN), "{line}");
        }
    }
}

/// A JSON value of any shape, for fields a provider may fill with anything.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        "\\PC{0,30}".prop_map(serde_json::Value::from),
        Just(serde_json::json!({"nested": [1, 2]})),
    ]
}

/// Text that may carry the canary: whole or its first 6 or more characters, in any case.
fn echo() -> impl Strategy<Value = String> {
    (
        "\\PC{0,20}",
        6usize..=CANARY.len(),
        any::<bool>(),
        "\\PC{0,20}",
    )
        .prop_map(|(before, end, upper, after)| {
            let piece = &CANARY[..end];
            let piece = if upper {
                piece.to_ascii_uppercase()
            } else {
                piece.to_string()
            };
            format!("{before}{piece}{after}")
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(
                "../tests/regressions/token_answers.proptest",
            ),
        )),
        ..ProptestConfig::default()
    })]

    /// Random bytes as an answer: a value or a typed error, never a panic.
    #[test]
    fn any_body_is_classified(status in 100u16..600, body in "\\PC{0,200}") {
        let result = classify(status, None, &body, &canary_scrubber());
        if (200..300).contains(&status) {
            prop_assert!(
                result.is_ok()
                    || matches!(result, Err(Classified::Protocol(_) | Classified::Rotated(..)))
            );
        }
    }

    /// Structured answers with any values in any field, echoing the secret anywhere text
    /// goes: no panic, `expires_in` within its bound, no piece of the secret shown.
    #[test]
    fn any_token_answer_is_bounded_and_shows_no_secret(
        status in prop_oneof![Just(200u16), Just(400), Just(401), Just(403), Just(429), 400u16..500],
        access in prop_oneof![echo().prop_map(serde_json::Value::from), any_json()],
        expires in any_json(),
        error in prop_oneof![echo().prop_map(serde_json::Value::from), any_json()],
        description in prop_oneof![echo().prop_map(serde_json::Value::from), any_json()],
        refresh in any_json(),
    ) {
        let body = serde_json::json!({
            "access_token": access, "token_type": "bearer", "expires_in": expires,
            "error": error, "error_description": description, "refresh_token": refresh,
        })
        .to_string();
        let result = classify(status, None, &body, &canary_scrubber());
        if let Ok(r) = &result {
            prop_assert!(r.expires_in.is_none_or(|e| e <= MAX_EXPIRES_IN));
            prop_assert!(is_token_text(r.access_token.expose_secret()));
        }
        assert_no_canary(&shown(&result));
    }
}
