//! The redirect finisher: reads the outcome of a logon from the request that reached the
//! redirect URI (the query for a code, the fragment for the implicit flow, or the fields of a
//! form posted there), without sending anything to it: nothing listens there, and the URL is
//! all there is. The `state` sent at the start must come back (compared in constant time).
#![deny(missing_docs)]

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::browser::Request;
use super::{Flow, LogonError, LogonOutcome};
use crate::oauth::TokenResponse;
use crate::scrub::Scrubber;

/// The outcome carried by `at`, the request that reached the redirect URI. `scrubber` cuts the
/// account's and this logon's secrets out of an error the provider put there.
pub(super) fn finish(
    at: &Request,
    flow: Flow,
    state: &SecretString,
    verifier: SecretString,
    scrubber: &Scrubber,
) -> Result<LogonOutcome, LogonError> {
    let mut params: Vec<(String, SecretString)> = Vec::new();
    let mut add = |s: &str| {
        for (k, v) in url::form_urlencoded::parse(s.as_bytes()) {
            params.push((k.into_owned(), SecretString::from(v.into_owned())));
        }
    };
    if let Some(q) = at.url.query() {
        add(q);
    }
    if let Some(f) = at.url.fragment() {
        add(f);
    }
    if let Some(body) = &at.body {
        add(&Zeroizing::new(body.encode()));
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let path = crate::oauth::endpoint(&at.url);
    if let Some(error) = get("error") {
        let description =
            get("error_description").map(|d| crate::scrub::sanitize(d.expose_secret(), scrubber));
        return Err(LogonError::Provider {
            error: crate::scrub::sanitize(error.expose_secret(), scrubber),
            description,
        });
    }
    let returned = get("state").ok_or_else(|| LogonError::Protocol {
        step: "redirect URI".into(),
        path: path.clone(),
        detail: "parameter `state` missing".into(),
    })?;
    if !crate::secret::ct_eq(&returned, state) {
        return Err(LogonError::Protocol {
            step: "redirect URI".into(),
            path,
            detail: "parameter `state` does not match the one sent".into(),
        });
    }
    let missing = |name: &str| LogonError::Protocol {
        step: "redirect URI".into(),
        path: path.clone(),
        detail: format!("parameter `{name}` missing"),
    };
    match flow {
        Flow::Code => Ok(LogonOutcome::Code {
            code: get("code").ok_or_else(|| missing("code"))?,
            code_verifier: verifier,
        }),
        Flow::Implicit => Ok(LogonOutcome::Token(TokenResponse {
            access_token: get("access_token")
                .filter(|t| crate::oauth::is_token_text(t.expose_secret()))
                .ok_or_else(|| missing("access_token"))?,
            token_type: get("token_type")
                .map(|t| t.expose_secret().to_string())
                .unwrap_or_else(|| "bearer".into()),
            expires_in: get("expires_in")
                .and_then(|e| crate::oauth::expires_in_from_text(e.expose_secret())),
            refresh_token: get("refresh_token")
                .filter(|t| crate::oauth::is_token_text(t.expose_secret())),
            scope: get("scope").map(|s| s.expose_secret().to_string()),
        })),
    }
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;

    fn at(url: &str) -> Request {
        Request::get(Url::parse(url).unwrap(), "redirect")
    }

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    #[test]
    fn the_code_comes_back_with_its_verifier_only_with_the_state_sent() {
        let state = secret("st8");
        let ok = finish(
            &at("http://h/cb?code=c0de&state=st8"),
            Flow::Code,
            &state,
            secret("v"),
            &Scrubber::new(),
        );
        match ok {
            Ok(LogonOutcome::Code {
                code,
                code_verifier,
            }) => {
                assert_eq!(code.expose_secret(), "c0de");
                assert_eq!(code_verifier.expose_secret(), "v");
            }
            other => panic!("expected a code, got {other:?}"),
        }
        let forged = finish(
            &at("http://h/cb?code=c0de&state=other"),
            Flow::Code,
            &state,
            secret("v"),
            &Scrubber::new(),
        );
        assert!(
            forged.unwrap_err().to_string().contains("does not match"),
            "a foreign state is refused"
        );
    }

    #[test]
    fn a_provider_error_is_reported_scrubbed() {
        let mut scrubber = Scrubber::new();
        scrubber.add(&secret("Hx4-qPw9-Zr2"));
        let e = finish(
            &at("http://h/cb?error=access_denied&error_description=bad+Hx4-qPw9-Zr2"),
            Flow::Code,
            &secret("s"),
            secret("v"),
            &scrubber,
        )
        .unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains("access_denied"), "{shown}");
        assert!(!shown.contains("Hx4-qPw9"), "{shown}");
    }
}
