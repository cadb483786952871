//! The page interpreter: send, look at the answer, decide the next request, until the provider
//! redirects to the redirect URI.
//!
//! The parts it drives: the [`browser`](super::browser) sends and reads, the credential
//! [`guard`](super::guard) lets each credential out once, the [`adapters`](super::adapters)
//! fill the pages they know, and the [`finisher`](super::finisher) reads the outcome from the
//! redirect. What stays here is the order: the authorization request, the provider's own
//! rejection and error markers before any adapter, and the bound on the number of steps.
#![deny(missing_docs)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use url::Url;
use zeroize::Zeroizing;

use super::browser::{Browser, Loaded, Request};
use super::guard::{Carries, CredentialGuard, Sent};
use super::html::Page;
use super::{
    Flow, LogonError, LogonOutcome, LogonRequest, LogonStats, TotpSource, adapters, finisher, forms,
};
use crate::scrub::Scrubber;

/// A logon that has not reached the redirect URI after this many requests is going in circles.
const MAX_HOPS: u32 = 40;
/// LemonLDAP::NG message codes that mean "the credentials were wrong", with the portal's own
/// English words for them (`Portal/Main/Constants.pm` and `htdocs/static/languages/en.json`:
/// the page carries only the code, its script shows the words): 4 unknown user, 5 bad
/// credentials, 96 bad one-time code, 110 second factor failed (2.x with 2FA retries on).
/// LemonLDAP::NG 2.21 keeps no used time steps (`Common/TOTP.pm` `verifyCode` tries the
/// steps around its clock and nothing else), so a 96 is a code that matched no step: the
/// wrong secret, or a clock off by more than its range.
const REJECTION_MESSAGES: &[(&str, &str)] = &[
    ("4", "User not found in directory"),
    ("5", "Wrong credentials"),
    ("96", "Invalid verification code"),
    ("110", "Second factor validation failed, please retry"),
];
/// LemonLDAP::NG message codes that say the code was not judged: 82 (`PE_TOKENEXPIRED`) is
/// the second-factor form's token running out (the code came too late), not a wrong secret.
const CODE_NOT_TAKEN_MESSAGES: &[(&str, &str)] = &[("82", "Exceeded authentication timeout")];
/// The message codes that refer to the one-time code rather than the password.
const CODE_MESSAGES: &[&str] = &["96", "110"];
/// Words with which a plain HTML page, after a one-time code was sent, says the code was not
/// judged (RFC 6238 §5.2 replay refusals, expiry) rather than wrong. Narrower than Azure AD
/// B2C's list (`adapters::b2c`), whose words are an error message: these are searched in a
/// whole page's text.
const CODE_NOT_TAKEN_TEXT: &[&str] = &[
    "already been used",
    "already used",
    "has been used",
    "code has expired",
    "code expired",
    "code is expired",
];
/// The most of a provider's sentence quoted.
const MAX_SAID: usize = 200;

/// The sentence of `text` that says a code was used or expired, if one does.
fn code_not_taken_in(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let at = CODE_NOT_TAKEN_TEXT.iter().find_map(|w| lower.find(w))?;
    // `to_lowercase` may change byte lengths: cut the original at char boundaries near `at`.
    let at = (0..=at.min(text.len()))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let ends = |c: char| matches!(c, '.' | '!' | '?');
    let start = text[..at].rfind(ends).map_or(0, |i| i + 1);
    let end = text[at..].find(ends).map_or(text.len(), |i| at + i + 1);
    let sentence = crate::text::escape_value(text[start..end].trim())
        .chars()
        .take(MAX_SAID)
        .collect();
    Some(sentence)
}

/// Runs one logon. See [`headless_logon_counted`].
pub fn headless_logon(
    req: &LogonRequest<'_>,
    totp: Option<&mut dyn TotpSource>,
) -> Result<LogonOutcome, LogonError> {
    headless_logon_counted(req, totp, &mut LogonStats::default())
}

/// Runs one logon and counts its requests into `stats`.
///
/// The engine builds its own client: the cookie jar must be fresh for every logon (a session
/// cookie left from an earlier one would change the pages) and redirects must not be followed
/// by the client.
pub fn headless_logon_counted(
    req: &LogonRequest<'_>,
    totp: Option<&mut dyn TotpSource>,
    stats: &mut LogonStats,
) -> Result<LogonOutcome, LogonError> {
    let mut browser = Browser::new(req.guard, stats, req.debug_pages, req.progress, req.clock)?;
    let state = random_secret(24);
    let verifier = random_secret(32);
    for secret in [req.password, &verifier, &state] {
        browser.keep_secret(secret.clone());
    }
    let mut logon = Logon {
        req,
        browser,
        sent: CredentialGuard::default(),
        totp,
    };
    let start = authorize_url(req, &state, &verifier);
    // Whatever the provider put in an error (a path, field names, a description) is shown
    // and logged: cut the account's secrets and this logon's own out of it first.
    logon
        .drive(start, &state, verifier)
        .map_err(|e| e.scrubbed(&logon.scrubber()))
}

/// `response_type`, `state` and PKCE on the authorization endpoint.
fn authorize_url(req: &LogonRequest<'_>, state: &SecretString, verifier: &SecretString) -> Url {
    let mut url = req.endpoints.authorize.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", req.client_id)
            .append_pair("redirect_uri", req.redirect_uri.as_str())
            .append_pair("scope", req.scope)
            .append_pair("state", state.expose_secret());
        match req.flow {
            Flow::Code => {
                let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose_secret()));
                q.append_pair("response_type", "code")
                    .append_pair("code_challenge", &challenge)
                    .append_pair("code_challenge_method", "S256");
            }
            // OpenID Connect knows no bare `token` response type (LemonLDAP::NG answers
            // "Unknown response type"): with the `openid` scope the implicit flow is
            // `id_token token`, and a nonce is then required.
            Flow::Implicit if req.scope.split(' ').any(|s| s == "openid") => {
                q.append_pair("response_type", "id_token token")
                    .append_pair("nonce", random_secret(16).expose_secret());
            }
            Flow::Implicit => {
                q.append_pair("response_type", "token");
            }
        }
    }
    url
}

fn random_secret(bytes: usize) -> SecretString {
    let mut buf = Zeroizing::new(vec![0u8; bytes]);
    rand::rngs::OsRng.fill_bytes(&mut buf);
    SecretString::from(URL_SAFE_NO_PAD.encode(&*buf))
}

/// One logon in progress: what the adapters see of it.
pub(super) struct Logon<'r, 'a, 't> {
    pub req: &'r LogonRequest<'a>,
    pub browser: Browser<'r>,
    sent: CredentialGuard,
    totp: Option<&'t mut dyn TotpSource>,
}

impl Logon<'_, '_, '_> {
    /// Lets the credentials a step carries out, once each: see [`CredentialGuard::claim`].
    pub fn claim(&mut self, carries: Carries, step: &Sent) -> Result<(), LogonError> {
        self.sent.claim(carries, step)
    }

    /// A code for the provider's current time step, kept out of debug pages and errors.
    pub fn one_time_code(&mut self, page_url: &Url) -> Result<SecretString, LogonError> {
        let at = self.browser.provider_time();
        let Some(totp) = self.totp.as_deref_mut() else {
            return Err(LogonError::TotpRequired {
                path: crate::oauth::endpoint(page_url),
            });
        };
        let code = totp.code(at)?;
        self.browser.keep_secret(code.clone());
        Ok(code)
    }

    /// The account's secrets and this logon's own (password, codes, state, verifier).
    fn scrubber(&self) -> Scrubber {
        let mut scrubber = self.req.guard.scrubber.clone();
        for secret in self.browser.secrets() {
            scrubber.add(secret);
        }
        scrubber
    }

    fn drive(
        &mut self,
        start: Url,
        state: &SecretString,
        verifier: SecretString,
    ) -> Result<LogonOutcome, LogonError> {
        let mut next = Request::get(start, "authorize");
        for _ in 0..MAX_HOPS {
            if same_endpoint(&next.url, self.req.redirect_uri) {
                self.browser.progress("redirect URI reached", &next.url);
                return finisher::finish(&next, self.req.flow, state, verifier, &self.scrubber());
            }
            next = match self.browser.load(next)? {
                Loaded::Redirect(r) => r,
                Loaded::Page { at, status, page } => self.interpret(&at, status, &page)?,
            };
        }
        Err(LogonError::TooManySteps {
            hops: MAX_HOPS,
            path: crate::oauth::endpoint(&next.url),
        })
    }

    /// Decides what to send next from a page.
    fn interpret(&mut self, at: &Request, status: u16, page: &Page) -> Result<Request, LogonError> {
        let path = crate::oauth::endpoint(&at.url);
        // LemonLDAP::NG answers a wrong password or code with HTTP 200 and a message marker.
        let words = |table: &[(&str, &'static str)], code: &str| {
            table.iter().find(|(c, _)| *c == code).map(|(_, w)| *w)
        };
        if let Some((m, said)) = page
            .messages
            .iter()
            .find_map(|m| words(REJECTION_MESSAGES, &m.code).map(|w| (m, w)))
            && let Some(rejected) = self
                .sent
                .rejection(CODE_MESSAGES.contains(&m.code.as_str()), Some(said))
        {
            return Err(rejected);
        }
        if self.sent.code_sent()
            && let Some(said) = page
                .messages
                .iter()
                .find_map(|m| words(CODE_NOT_TAKEN_MESSAGES, &m.code))
        {
            return Err(LogonError::CodeNotTaken { said: said.into() });
        }
        // A plain HTML provider that says so in words (a replay refusal, an expired code).
        if self.sent.code_sent()
            && let Some(said) = code_not_taken_in(&page.text)
        {
            return Err(LogonError::CodeNotTaken { said });
        }
        if let Some(m) = page.messages.iter().find(|m| m.is_error) {
            return Err(LogonError::Protocol {
                step: at.step.clone(),
                path,
                detail: format!("the page reports error message {}", m.code),
            });
        }
        let unknown = || LogonError::UnknownPage {
            path: path.clone(),
            status,
            fields: forms::all_field_names(page),
        };
        if !(200..300).contains(&status) {
            return Err(unknown());
        }
        match adapters::select(page, self.req.adapters) {
            Some(adapter) => adapter.fill(self, &at.url, status, page),
            None => Err(unknown()),
        }
    }
}

/// Same scheme, host, port and path: the redirect URI, whatever its query.
fn same_endpoint(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_saying_a_code_was_used_or_expired_is_quoted_by_its_sentence() {
        assert_eq!(
            code_not_taken_in("Sign in. This code has already been used! Try again").as_deref(),
            Some("This code has already been used!")
        );
        assert_eq!(
            code_not_taken_in("Your one-time code has expired").as_deref(),
            Some("Your one-time code has expired")
        );
        for fine in [
            "",
            "Invalid authenticator code.",
            "Your password has expired.",
            "Welcome back",
        ] {
            assert_eq!(code_not_taken_in(fine), None, "{fine}");
        }
        // Text whose lower case is longer than itself, and no panic at any cut.
        assert!(code_not_taken_in("İİİ ALREADY USED İ").is_some());
    }
}
