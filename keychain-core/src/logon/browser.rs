//! The browser's own part of a logon: it sends requests, follows redirects as a browser does,
//! keeps the cookies, reads the provider's clock from `Date`, caps what it reads, and writes the
//! debug pages. It decides nothing about what a page asks for (that is the adapters' job) and
//! it is the one place a request leaves the process, so the credential policy is checked here.
#![deny(missing_docs)]

use std::time::UNIX_EPOCH;

use reqwest::blocking::{Client, Response};
use reqwest::header::HeaderMap;
use secrecy::SecretString;
use url::Url;
use zeroize::Zeroizing;

use super::debug::{DebugPages, Seen};
use super::html::{self, Page};
use super::{LogonError, LogonStats};
use crate::http::{self, SecretForm};
use crate::oauth::Guard;

/// Beyond this difference between the provider's `Date` and ours, codes follow the provider.
const CLOCK_SKEW_TOLERANCE: i64 = 30;
/// The largest difference between the provider's clock and ours that codes follow (10 minutes).
/// Past it the provider's `Date` is not believed: a `Date` a year ahead would otherwise make
/// keychain compute, and record as used, a time step a year away, and every later logon would
/// fail until a person re-entered the secret.
pub const MAX_CLOCK_OFFSET: i64 = 600;

/// One request to send.
pub(super) struct Request {
    pub method: reqwest::Method,
    pub url: Url,
    pub body: Option<SecretForm>,
    pub headers: Vec<(&'static str, String)>,
    /// What this request does, for progress lines and errors.
    pub step: String,
    /// Whether the body carries the password or a one-time code (counted in the stats).
    pub has_password: bool,
    pub has_code: bool,
}

impl Request {
    pub fn get(url: Url, step: &str) -> Self {
        Request {
            method: reqwest::Method::GET,
            url,
            body: None,
            headers: Vec::new(),
            step: step.into(),
            has_password: false,
            has_code: false,
        }
    }
}

/// What loading a request gave.
pub(super) enum Loaded {
    /// A redirect: the request a browser sends next.
    Redirect(Request),
    /// A page, parsed, with the request that brought it.
    Page {
        at: Request,
        status: u16,
        page: Page,
    },
}

pub(super) struct Browser<'r> {
    client: Client,
    /// Where credentials may go.
    guard: &'r Guard,
    stats: &'r mut LogonStats,
    debug: Option<DebugPages>,
    /// One line per step on stderr.
    progress: bool,
    /// Everything that must not appear in a debug page or an error: the password, this logon's
    /// state and verifier, and every code sent.
    secrets: Vec<SecretString>,
    /// Our clock: the provider's time is estimated from it (and the TOTP step guard reads the
    /// same one, so the step computed and the step recorded agree).
    clock: &'r dyn crate::clock::Clock,
    /// Provider clock minus ours, in seconds, from the last `Date` header.
    clock_offset: i64,
    /// Whether the "provider's clock is off by more than the bound" line was printed.
    clock_warned: bool,
}

impl<'r> Browser<'r> {
    /// A browser with a fresh cookie jar (a session cookie left from an earlier logon would
    /// change the pages) whose client follows no redirect by itself.
    pub fn new(
        guard: &'r Guard,
        stats: &'r mut LogonStats,
        debug_pages: Option<&std::path::Path>,
        progress: bool,
        clock: &'r dyn crate::clock::Clock,
    ) -> Result<Self, LogonError> {
        let client = crate::oauth::http::credential_builder()
            .cookie_store(true)
            .build()
            .map_err(|_| LogonError::Protocol {
                step: "start".into(),
                path: String::new(),
                detail: "the HTTP client could not be built".into(),
            })?;
        let debug = match debug_pages {
            Some(dir) => Some(DebugPages::new(dir, clock.unix())?),
            None => None,
        };
        Ok(Browser {
            client,
            guard,
            stats,
            debug,
            progress,
            secrets: Vec::new(),
            clock,
            clock_offset: 0,
            clock_warned: false,
        })
    }

    /// Keeps `secret` out of every debug page and error from now on.
    pub fn keep_secret(&mut self, secret: SecretString) {
        self.secrets.push(secret);
    }

    /// The secrets kept so far.
    pub fn secrets(&self) -> &[SecretString] {
        &self.secrets
    }

    /// Sends `next` and reads what comes back: a redirect to follow, or a page (at most
    /// [`http::MAX_PAGE`] bytes, written to the debug pages). A rate limit or a server error is
    /// [`LogonError::Unavailable`].
    pub fn load(&mut self, next: Request) -> Result<Loaded, LogonError> {
        let resp = self.send(&next)?;
        let status = resp.status().as_u16();
        if matches!(status, 301 | 302 | 303 | 307 | 308) {
            return self.follow(next, &resp).map(Loaded::Redirect);
        }
        let headers = resp.headers().clone();
        let body = read_page(resp, http::MAX_PAGE, &next.step, next.url.path())?;
        let page = html::parse(&body);
        self.debug_write(&next, status, &headers, &body, &page)?;
        if status == 429 || status >= 500 {
            return Err(LogonError::Unavailable {
                step: next.step.clone(),
                path: crate::oauth::endpoint(&next.url),
                reason: format!("HTTP {status}"),
            });
        }
        Ok(Loaded::Page {
            at: next,
            status,
            page,
        })
    }

    /// Sends `r` and reads an answer that is not a page (at most `limit` bytes, written to the
    /// debug pages as it came): for steps that post to an API, such as B2C's `SelfAsserted`.
    pub fn call(
        &mut self,
        r: &Request,
        limit: u64,
    ) -> Result<(u16, Zeroizing<String>), LogonError> {
        let resp = self.send(r)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let answer = read_page(resp, limit, &r.step, r.url.path())?;
        self.debug_write(r, status, &headers, &answer, &Page::default())?;
        Ok((status, answer))
    }

    fn send(&mut self, r: &Request) -> Result<Response, LogonError> {
        // The one place a credential leaves the process: check where it goes first. A 307/308
        // carries the body on, so the check sees redirected requests too.
        if r.has_password || r.has_code {
            let in_body = r.method == reqwest::Method::POST && r.body.is_some();
            self.guard.policy.check(&r.step, &r.url, in_body)?;
        }
        if r.step != "redirect" {
            self.progress(&r.step, &r.url);
        }
        self.stats.requests += 1;
        self.stats.password_posts += u32::from(r.has_password);
        self.stats.code_posts += u32::from(r.has_code);
        let mut builder = self.client.request(r.method.clone(), r.url.clone());
        for (name, value) in &r.headers {
            builder = builder.header(*name, value);
        }
        if let Some(body) = &r.body {
            builder = builder
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body.encode());
        }
        let resp = builder.send().map_err(|e| {
            match crate::oauth::CredentialRefused::from_send_error(&r.step, &e) {
                Some(refused) => LogonError::Policy(refused),
                None => LogonError::Unavailable {
                    step: r.step.clone(),
                    path: crate::oauth::endpoint(&r.url),
                    reason: crate::oauth::describe_send_error(&e),
                },
            }
        })?;
        self.note_clock(resp.headers());
        Ok(resp)
    }

    fn note_clock(&mut self, headers: &HeaderMap) {
        if let Some(offset) = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| offset_from_date(v, self.clock.unix()))
        {
            self.clock_offset = offset;
        }
    }

    /// The provider's time as best we know it: ours, unless its `Date` says otherwise by more
    /// than the tolerance (a TOTP step is 30 s; a smaller difference is noise from the
    /// one-second resolution of `Date`).
    ///
    /// An offset beyond [`MAX_CLOCK_OFFSET`] is not followed: our clock is used and a warning
    /// printed, because the provider's `Date` may come from anything in between (a proxy, a
    /// cache) and a time step far ahead, once recorded as used, blocks every later logon.
    pub fn provider_time(&mut self) -> u64 {
        let offset = followed_offset(self.clock_offset).unwrap_or_else(|| {
            if !self.clock_warned {
                self.clock_warned = true;
                crate::progress::step(&format!(
                    "keychain: warning: the provider's clock differs from ours by {} s, more than the {MAX_CLOCK_OFFSET} s keychain follows; codes use this machine's clock (check both clocks)\n",
                    self.clock_offset.saturating_abs()
                ));
            }
            0
        });
        self.clock.unix().saturating_add(offset).max(0) as u64
    }

    /// Redirects, as a browser follows them: 303 always becomes a GET; 307 and 308 keep method
    /// and body; 301 and 302 after a POST become a GET.
    fn follow(&mut self, prev: Request, resp: &Response) -> Result<Request, LogonError> {
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| LogonError::Protocol {
                step: prev.step.clone(),
                path: crate::oauth::endpoint(&prev.url),
                detail: format!("HTTP {status} without a Location"),
            })?;
        let url = prev.url.join(location).map_err(|_| LogonError::Protocol {
            step: prev.step.clone(),
            path: crate::oauth::endpoint(&prev.url),
            detail: "a Location that is not a URL".into(),
        })?;
        if self.debug.is_some() {
            let empty = Page::default();
            let headers = resp.headers().clone();
            self.debug_write(&prev, status, &headers, "", &empty)?;
        }
        let keep = matches!(status, 307 | 308)
            || (matches!(status, 301 | 302) && prev.method == reqwest::Method::GET);
        Ok(if keep {
            Request {
                url,
                step: "redirect".into(),
                ..prev
            }
        } else {
            Request::get(url, "redirect")
        })
    }

    /// One progress line for a person watching: the step and where it goes, redacted.
    pub fn progress(&self, step: &str, url: &Url) {
        if self.progress {
            crate::progress::step(&format!("logon: {step}: {}\n", http::redact_url(url)));
        }
    }

    fn debug_write(
        &mut self,
        at: &Request,
        status: u16,
        headers: &HeaderMap,
        body: &str,
        page: &Page,
    ) -> Result<(), LogonError> {
        let Some(debug) = self.debug.as_mut() else {
            return Ok(());
        };
        // Values of hidden fields that carry tokens or codes (a form posting an id_token back
        // to the relying party) are credentials too.
        let mut secrets = self.secrets.clone();
        for field in page.forms.iter().flat_map(|f| &f.fields) {
            let n = field.name.to_ascii_lowercase();
            if !field.value.is_empty()
                && [
                    "token",
                    "code",
                    "assertion",
                    "samlresponse",
                    "password",
                    "secret",
                ]
                .iter()
                .any(|m| n.contains(m))
            {
                secrets.push(SecretString::from(field.value.clone()));
            }
        }
        // The account's secrets (a client secret, a refresh token) too: a page may echo them.
        let mut scrubber = self.guard.scrubber.clone();
        for secret in &secrets {
            scrubber.add(secret);
        }
        let sent_fields = at.body.as_ref().map(SecretForm::names).unwrap_or_default();
        debug.write(
            &Seen {
                method: at.method.as_str(),
                url: &at.url,
                sent_fields: &sent_fields,
                status,
                headers,
                body,
            },
            &scrubber,
        )
    }
}

/// A page or answer, at most `limit` bytes.
fn read_page(
    resp: Response,
    limit: u64,
    step: &str,
    path: &str,
) -> Result<Zeroizing<String>, LogonError> {
    http::read_capped(resp, limit).map_err(|e| match e {
        http::BodyError::TooLarge { .. } => LogonError::Protocol {
            step: step.into(),
            path: path.into(),
            detail: e.to_string(),
        },
        http::BodyError::Read => LogonError::Unavailable {
            step: step.into(),
            path: path.into(),
            reason: e.to_string(),
        },
    })
}

/// The provider's clock minus ours, in seconds, from a `Date` header; `None` when the value is
/// not an HTTP date. Total for any text and any `now`.
pub(super) fn offset_from_date(value: &str, now: i64) -> Option<i64> {
    let theirs = httpdate::parse_http_date(value)
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?;
    let theirs = i64::try_from(theirs.as_secs()).ok()?;
    Some(theirs.saturating_sub(now))
}

/// The offset codes follow: none within the tolerance (noise), the offset itself within
/// [`MAX_CLOCK_OFFSET`], and `None` beyond it (not believed).
pub(super) fn followed_offset(offset: i64) -> Option<i64> {
    match offset.saturating_abs() {
        d if d <= CLOCK_SKEW_TOLERANCE => Some(0),
        d if d <= MAX_CLOCK_OFFSET => Some(offset),
        _ => None,
    }
}
