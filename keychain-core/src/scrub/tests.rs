use super::decode::NAMED;
use super::*;
use base64::Engine;
use proptest::prelude::*;

fn scrubber(secrets: &[&str]) -> Scrubber {
    let mut s = Scrubber::new();
    for v in secrets {
        s.add(&SecretString::from(v.to_string()));
    }
    s
}

/// Regression (issue 8, defect 4): an echoed client secret or refresh-token prefix reached
/// stderr and the audit log.
#[test]
fn echoed_secrets_prefixes_and_other_cases_are_cut() {
    let s = scrubber(&["ClientSecret-42xyz", "rt-abcdef0123456789"]);
    assert_eq!(
        s.scrub("bad value ClientSecret-42xyz for you"),
        "bad value [redacted] for you"
    );
    assert_eq!(s.scrub("token rt-abcd… is old"), "token [redacted]… is old");
    assert_eq!(
        s.scrub("CLIENTSECRET-42XYZ and clientsecret"),
        "[redacted] and [redacted]"
    );
    assert_eq!(s.scrub("token RT-AB is fine"), "token RT-AB is fine");
    assert_eq!(s.scrub("nothing here"), "nothing here");
    // A short secret is cut out whole.
    assert_eq!(
        scrubber(&["pin9"]).scrub("your PIN9 was wrong"),
        "your [redacted] was wrong"
    );
}

#[test]
fn multibyte_text_stays_valid() {
    let s = scrubber(&["geheimwörtchen"]);
    assert_eq!(s.scrub("x geheimwörtchen y"), "x [redacted] y");
    assert_eq!(s.scrub("ééé"), "ééé");
}

/// Every view of `out` (its markers made harmless): what a reader could decode.
fn decodings(out: &str) -> Vec<String> {
    let out = out.replace("[redacted]", "\u{0}");
    views(out.as_bytes())
        .into_iter()
        .map(|v| String::from_utf8_lossy(&v.bytes).to_ascii_lowercase())
        .collect()
}

/// Issue 25, item 1: the forms PHP, Python and others echo a secret in.
#[test]
fn a_secret_in_entities_percent_escapes_and_base64_is_cut() {
    let s = scrubber(&["p@ss'w&rd \"x\"", "ClientSecret-42xyz"]);
    for text in [
        "p@ss&#039;w&amp;rd &quot;x&quot;",
        "p@ss&#x27;w&amp;rd &#X22;x&#34",
        "p&commat;ss&apos;w&amp;rd",
        "p%40ss%27w%26rd+%22x%22",
        "p%40ss%27w%26rd%20",
        "'p%40SS%27W%26RD'",
        "p%2540ss%2527w",
        "p&amp;#64;ss&amp;#39;w",
        "p\\u0040ss\\u0027w\\u0026rd",
        "p\\x40ss\\x27w",
        "ClientSecret&#45;42xyz",
        "Q2xpZW50U2VjcmV0LTQyeHl6",
        "Authorization: Basic Y2xpZW50LWlkOkNsaWVudFNlY3JldC00Mnh5eg==",
        "Authorization: Basic Y2xpZW50LWlkOkNsaWVudFNlY3JldC00Mnh5eg",
        "x=Y2xpZW50OkNsaWVudFNlY3JldC00Mnh5eg%3D%3D",
    ] {
        let out = s.scrub(text);
        for d in decodings(&out) {
            assert!(
                !d.contains("p@ss'w") && !d.contains("client"),
                "{text:?} -> {out:?}"
            );
        }
        assert!(out.contains("[redacted]"), "{text:?} -> {out:?}");
    }
}

#[test]
fn codes_and_tokens_are_cut_by_their_shape() {
    let s = Scrubber::new();
    for (text, value) in [
        (
            r#"<a href="https://app.example/cb?code=SplxlOBeZQQYbYS6WxSbIA&amp;state=x">"#,
            "SplxlOBeZQQYbYS6WxSbIA",
        ),
        (
            r#"<meta http-equiv="refresh" content="0;url=https://app/cb?code=AbCdEf123456">"#,
            "AbCdEf123456",
        ),
        (
            r#"<input type="hidden" name="code" value="hiddenCode99">"#,
            "hiddenCode99",
        ),
        (r#"{"access_token": "at-0123456789"}"#, "at-0123456789"),
        ("refresh_token=rt.0123456789", "rt.0123456789"),
        ("cb#id_token=abcdef&x=1", "abcdef"),
        (
            "next=https%3A%2F%2Fa%2Fcb%3Fcode%3DPercentCode42%26x",
            "PercentCode42",
        ),
        (
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl here",
            "eyJhbGciOiJIUzI1NiJ9",
        ),
        (
            "Authorization: Bearer 2YotnFZFEjr1zCsicMWpAA",
            "2YotnFZFEjr1zCsicMWpAA",
        ),
        (
            "Authorization: Basic dXNlcjpwYXNzd29yZA==",
            "dXNlcjpwYXNzd29yZA",
        ),
    ] {
        let out = s.scrub_page(text);
        assert!(!out.contains(value), "{text:?} -> {out:?}");
    }
    // Ordinary provider text keeps its words.
    for text in [
        "invalid_grant: the code expired",
        "HTTP status code=400",
        "Basic authentication failed",
        "Bearer realm=\"api\", error=\"invalid_token\"",
        "password is required",
    ] {
        assert_eq!(s.scrub(text), text);
    }
}

proptest! {
    /// Whatever the provider wraps around it, in whatever case, no prefix of six or more
    /// characters of a secret survives.
    #[test]
    fn no_prefix_of_a_secret_survives(
        secret in "[A-Za-z0-9_.~-]{6,40}",
        before in "\\PC{0,40}",
        after in "\\PC{0,40}",
        end in 6usize..41,
        upper in any::<bool>(),
    ) {
        let piece = &secret[..end.min(secret.len())];
        let piece = if upper { piece.to_ascii_uppercase() } else { piece.to_string() };
        let text = format!("{before}{piece}{after}");
        // The marker's own letters are not the secret's.
        let out = scrubber(&[&secret]).scrub(&text).replace("[redacted]", "\u{0}");
        let head = secret[..MIN_RUN].to_ascii_lowercase();
        prop_assert!(!out.to_ascii_lowercase().contains(&head));
    }

    /// Issue 25, item 1: a secret written character by character in any mix of HTML
    /// references (numeric, hex, named), percent-escapes (either hex case, `+` for a space)
    /// and JSON escapes, in or out of quotes, leaves no six-character prefix a reader
    /// could decode.
    #[test]
    fn no_prefix_survives_any_entity_or_percent_encoding(
        secret in "[ -~]{6,24}",
        forms in proptest::collection::vec((0u8..7, any::<bool>(), 0usize..3), 24),
        before in "[a-zA-Z0-9 .,:=/-]{0,20}",
        after in "[a-zA-Z0-9 .,:=/-]{0,20}",
        quote in prop::sample::select(vec!["", "\"", "'"]),
    ) {
        let mut encoded = String::new();
        for (c, (form, upper, zeros)) in secret.chars().zip(&forms) {
            let n = c as u32;
            let hex = |s: String| if *upper { s.to_uppercase() } else { s };
            let piece = match form {
                0 => c.to_string(),
                1 => format!("&#{}{n};", "0".repeat(*zeros)),
                2 => format!("&#{}{};", if *upper { "X" } else { "x" }, hex(format!("{n:x}"))),
                3 => NAMED.iter().find(|(_, v)| *v == c)
                    .map_or_else(|| format!("&#{n};"), |(name, _)| format!("&{name};")),
                4 => hex(format!("%{n:02x}")),
                5 if c == ' ' => "+".to_string(),
                5 => format!("\\u{n:04x}"),
                _ => hex(format!("%25{n:02x}")),
            };
            encoded.push_str(&piece);
        }
        let text = format!("{before}{quote}{encoded}{quote}{after}");
        let out = scrubber(&[&secret]).scrub_page(&text);
        let head = secret[..MIN_RUN].to_ascii_lowercase();
        for d in decodings(&out) {
            prop_assert!(!d.contains(&head), "{:?} -> {:?}", text, out);
        }
    }

    /// Issue 25, item 1: a secret in base64 or base64url, padded or not, at any alignment
    /// in a longer string (a Basic header of `client_id:secret`): no run of eight or more
    /// characters that encode only the secret's bytes survives.
    #[test]
    fn no_base64_of_a_secret_survives_at_any_alignment(
        secret in "[ -~]{6,30}",
        prefix in "[ -~]{0,12}",
        suffix in "[ -~]{0,6}",
        url_safe in any::<bool>(),
        pad in any::<bool>(),
        basic in any::<bool>(),
    ) {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
        let data = format!("{prefix}{secret}{suffix}");
        let blob = match (url_safe, pad) {
            (false, true) => STANDARD.encode(&data),
            (false, false) => STANDARD_NO_PAD.encode(&data),
            (true, true) => URL_SAFE.encode(&data),
            (true, false) => URL_SAFE_NO_PAD.encode(&data),
        };
        let text = if basic {
            format!("Authorization: Basic {blob}")
        } else {
            format!("echo {blob} here")
        };
        let out = scrubber(&[&secret]).scrub_page(&text);
        // Characters whose six bits all come from the secret's bytes.
        let (p, q) = (prefix.len(), prefix.len() + secret.len());
        let own: Vec<bool> = (0..blob.len())
            .map(|c| (6 * c) / 8 >= p && (6 * c + 5) / 8 < q)
            .collect();
        for start in 0..blob.len().saturating_sub(7) {
            if own[start..start + 8].iter().all(|o| *o) {
                prop_assert!(!out.contains(&blob[start..start + 8]), "{:?} -> {:?}", text, out);
            }
        }
    }

    /// Issue 25, item 1: codes and tokens nobody told the scrubber about, in a page's link,
    /// meta refresh, hidden input, JSON or fragment, plain or percent-encoded.
    #[test]
    fn codes_and_tokens_are_cut_wherever_a_page_puts_them(
        value in "[A-Za-z0-9_-]{6,40}",
        name in prop::sample::select(vec!["code", "access_token", "refresh_token", "id_token"]),
        context in 0usize..7,
    ) {
        let text = match context {
            0 => format!(r#"<a href="https://app.example/cb?{name}={value}&amp;state=s">go</a>"#),
            1 => format!(r#"<meta http-equiv="refresh" content="0; url=/cb?{name}={value}">"#),
            2 => format!(r#"<input type="hidden" name="{name}" value="{value}"/>"#),
            3 => format!(r#"{{"{name}": "{value}", "x": 1}}"#),
            4 => format!("Location: https://app/cb#{name}={value}&state=s"),
            5 => format!("next=https%3A%2F%2Fapp%2Fcb%3F{name}%3D{value}%26state%3Ds"),
            _ => format!("window.location = 'https:\\/\\/app\\/cb?{name}={value}';"),
        };
        let out = Scrubber::new().scrub_page(&text);
        prop_assert!(!out.contains(&value), "{:?} -> {:?}", text, out);
    }

    /// Ordinary words from inside a secret are left alone: the cut would say what the
    /// secret contains.
    #[test]
    fn pieces_from_inside_a_secret_are_not_cut(word in "[a-z]{6,12}") {
        let secret = format!("xq7-{word}");
        let text = format!("field {word} is required");
        prop_assert_eq!(scrubber(&[&secret]).scrub(&text), text);
    }
}

/// Moved from the token calls with [`sanitize`].
#[test]
fn descriptions_lose_token_like_words() {
    let mut sent = Scrubber::new();
    sent.add(&SecretString::from("sent-token-value".to_string()));
    let d = sanitize(
        "token sent-token-value is bad, also eyJhbGciOiJIUzI1NiJ9abcdefgh",
        &sent,
    );
    assert_eq!(d, "token [redacted] is bad, also [redacted]");
}
