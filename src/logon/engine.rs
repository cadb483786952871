//! The page interpreter: send, look at the answer, decide the next request, until the provider
//! redirects to the redirect URI.

use std::time::UNIX_EPOCH;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use reqwest::blocking::{Client, Response};
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use url::Url;
use zeroize::Zeroizing;

use super::b2c::{self, SelfAsserted};
use super::debug::{DebugPages, Seen};
use super::html::{self, Field, Form, Page};
use super::{Flow, LogonError, LogonOutcome, LogonRequest, LogonStats, TotpProvider};
use crate::oauth::TokenResponse;
use crate::oauth::http::{self, SecretForm};

/// A logon that has not reached the redirect URI after this many requests is going in circles.
const MAX_HOPS: u32 = 40;
/// Beyond this difference between the provider's `Date` and ours, codes follow the provider.
const CLOCK_SKEW_TOLERANCE: i64 = 30;
/// The largest difference between the provider's clock and ours that codes follow (10 minutes).
/// Past it the provider's `Date` is not believed: a `Date` a year ahead would otherwise make
/// keychain compute, and record as used, a time step a year away, and every later logon would
/// fail until a person re-entered the secret.
pub const MAX_CLOCK_OFFSET: i64 = 600;
/// LemonLDAP::NG message codes that mean "the credentials were wrong": 4 unknown user,
/// 5 bad credentials, 96 bad one-time code.
const REJECTION_MESSAGES: &[&str] = &["4", "5", "96"];

/// Runs one logon. See [`headless_logon_counted`].
pub fn headless_logon(
    req: &LogonRequest<'_>,
    totp: Option<&mut dyn TotpProvider>,
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
    totp: Option<&mut dyn TotpProvider>,
    stats: &mut LogonStats,
) -> Result<LogonOutcome, LogonError> {
    let client = http::builder()
        .cookie_store(true)
        .build()
        .map_err(|_| LogonError::Protocol {
            step: "start".into(),
            path: String::new(),
            detail: "the HTTP client could not be built".into(),
        })?;
    let debug = match req.debug_pages {
        Some(dir) => Some(DebugPages::new(dir, req.clock.unix())?),
        None => None,
    };
    let state = random_secret(24);
    let verifier = random_secret(32);
    let mut run = Run {
        req,
        client,
        totp,
        stats,
        debug,
        secrets: vec![req.password.clone(), verifier.clone(), state.clone()],
        password_sent: None,
        code_sent: None,
        clock_offset: 0,
        clock_warned: false,
    };
    let start = authorize_url(req, &state, &verifier);
    // Whatever the provider put in an error (a path, field names, a description) is shown
    // and logged: cut the account's secrets and this logon's own out of it first.
    run.drive(start, &state, verifier).map_err(|e| {
        let mut scrubber = run.req.guard.scrubber.clone();
        for secret in &run.secrets {
            scrubber.add(secret);
        }
        e.scrubbed(&scrubber)
    })
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

/// One request to send.
struct Request {
    method: reqwest::Method,
    url: Url,
    body: Option<SecretForm>,
    headers: Vec<(&'static str, String)>,
    /// What this request does, for progress lines and errors.
    step: String,
    /// Whether the body carries the password or a one-time code (counted in the stats).
    has_password: bool,
    has_code: bool,
}

impl Request {
    fn get(url: Url, step: &str) -> Self {
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

/// What a credential step sent, so that a rejection can name it.
#[derive(Clone)]
struct Sent {
    step: String,
    fields: Vec<String>,
}

struct Run<'r, 'a, 't> {
    req: &'r LogonRequest<'a>,
    client: Client,
    totp: Option<&'t mut dyn TotpProvider>,
    stats: &'r mut LogonStats,
    debug: Option<DebugPages>,
    /// Everything that must not appear in a debug page.
    secrets: Vec<SecretString>,
    password_sent: Option<Sent>,
    code_sent: Option<Sent>,
    /// Provider clock minus ours, in seconds, from the last `Date` header.
    clock_offset: i64,
    /// Whether the "provider's clock is off by more than the bound" line was printed.
    clock_warned: bool,
}

/// The credentials the engine sends at most once per logon.
#[derive(Clone, Copy)]
enum Credential {
    Password,
    Code,
}

impl Run<'_, '_, '_> {
    fn drive(
        &mut self,
        start: Url,
        state: &SecretString,
        verifier: SecretString,
    ) -> Result<LogonOutcome, LogonError> {
        let mut next = Request::get(start, "authorize");
        for _ in 0..MAX_HOPS {
            if same_endpoint(&next.url, self.req.redirect_uri) {
                self.progress("redirect URI reached", &next.url);
                return self.finish(&next, state, verifier);
            }
            let resp = self.send(&next)?;
            let status = resp.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                next = self.follow(next, &resp)?;
                continue;
            }
            let headers = resp.headers().clone();
            let body = read_page(resp, http::MAX_PAGE, &next.step, next.url.path())?;
            let page = html::parse(&body);
            self.debug_write(&next, status, &headers, &body, &page)?;
            if status == 429 || status >= 500 {
                return Err(LogonError::Unavailable {
                    step: next.step.clone(),
                    path: next.url.path().into(),
                    reason: format!("HTTP {status}"),
                });
            }
            next = self.interpret(&next, status, page)?;
        }
        Err(LogonError::TooManySteps {
            hops: MAX_HOPS,
            path: next.url.path().into(),
        })
    }

    fn send(&mut self, r: &Request) -> Result<Response, LogonError> {
        // The one place a credential leaves the process: check where it goes first. A 307/308
        // carries the body on, so the check sees redirected requests too.
        if r.has_password || r.has_code {
            let in_body = r.method == reqwest::Method::POST && r.body.is_some();
            self.req.guard.policy.check(&r.step, &r.url, in_body)?;
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
        let resp = builder.send().map_err(|e| LogonError::Unavailable {
            step: r.step.clone(),
            path: r.url.path().into(),
            reason: crate::oauth::describe_send_error(&e),
        })?;
        self.note_clock(resp.headers());
        Ok(resp)
    }

    fn note_clock(&mut self, headers: &HeaderMap) {
        if let Some(offset) = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| offset_from_date(v, self.req.clock.unix()))
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
    fn provider_time(&mut self) -> u64 {
        let offset = followed_offset(self.clock_offset).unwrap_or_else(|| {
            if !self.clock_warned {
                self.clock_warned = true;
                crate::output::progress(&format!(
                    "keychain: warning: the provider's clock differs from ours by {} s, more than the {MAX_CLOCK_OFFSET} s keychain follows; codes use this machine's clock (check both clocks)\n",
                    self.clock_offset.saturating_abs()
                ));
            }
            0
        });
        self.req.clock.unix().saturating_add(offset).max(0) as u64
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
                path: prev.url.path().into(),
                detail: format!("HTTP {status} without a Location"),
            })?;
        let url = prev.url.join(location).map_err(|_| LogonError::Protocol {
            step: prev.step.clone(),
            path: prev.url.path().into(),
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

    /// Decides what to send next from a page.
    fn interpret(&mut self, at: &Request, status: u16, page: Page) -> Result<Request, LogonError> {
        let path = at.url.path().to_string();
        // LemonLDAP::NG answers a wrong password or code with HTTP 200 and a message marker.
        if let Some(m) = page
            .messages
            .iter()
            .find(|m| REJECTION_MESSAGES.contains(&m.code.as_str()))
            && let Some(sent) = self.last_sent(m.code == "96")
        {
            return Err(LogonError::Rejected {
                step: sent.step,
                fields: sent.fields,
            });
        }
        if let Some(m) = page.messages.iter().find(|m| m.is_error) {
            return Err(LogonError::Protocol {
                step: at.step.clone(),
                path,
                detail: format!("the page reports error message {}", m.code),
            });
        }
        if !(200..300).contains(&status) {
            return Err(LogonError::UnknownPage {
                path,
                status,
                fields: all_field_names(&page),
            });
        }
        if let Some(sa) = b2c::detect(&page.scripts) {
            let sa = sa.map_err(|missing| LogonError::Protocol {
                step: "self-asserted page".into(),
                path: path.clone(),
                detail: format!("setting `{missing}` missing"),
            })?;
            return self.self_asserted(&at.url, sa);
        }
        let Some(form) = pick_form(&page.forms) else {
            return Err(LogonError::UnknownPage {
                path,
                status,
                fields: all_field_names(&page),
            });
        };
        self.fill(&at.url, form, status)
    }

    /// The credential step a rejection refers to: the code step when the marker says so or
    /// when a code was the last thing sent.
    fn last_sent(&self, code_marker: bool) -> Option<Sent> {
        if code_marker || self.code_sent.is_some() {
            self.code_sent
                .clone()
                .or_else(|| self.password_sent.clone())
        } else {
            self.password_sent.clone()
        }
    }

    /// Fills and submits an HTML form.
    fn fill(&mut self, page_url: &Url, form: &Form, status: u16) -> Result<Request, LogonError> {
        let mut body = SecretForm::new();
        let mut names = Vec::new();
        let (mut has_password, mut has_code, mut has_user) = (false, false, false);
        let mut unknown_visible = Vec::new();
        let mut clicked = false;
        for field in form
            .fields
            .iter()
            .filter(|f| !f.name.is_empty() && !f.disabled)
        {
            match role(field) {
                Role::Hidden | Role::Value => body.push_plain(&field.name, &field.value),
                Role::Choice => {
                    // Browsers leave unchecked boxes out; LemonLDAP's `checkLogins=on` would
                    // add a page.
                    if field.checked {
                        let value = if field.value.is_empty() {
                            "on"
                        } else {
                            &field.value
                        };
                        body.push_plain(&field.name, value);
                    }
                }
                Role::Submit => {
                    // A browser sends the name of the button that was clicked: the first one.
                    if !clicked {
                        body.push_plain(&field.name, &field.value);
                        clicked = true;
                    }
                    continue;
                }
                Role::Ignore => continue,
                Role::User => {
                    has_user = true;
                    body.push_plain(&field.name, self.req.user);
                }
                Role::Password => {
                    has_password = true;
                    body.push(&field.name, self.req.password.clone());
                }
                Role::Code => {
                    has_code = true;
                    continue; // filled below, once the step is known to be new
                }
                Role::Unknown => {
                    unknown_visible.push(field.name.clone());
                    body.push_plain(&field.name, "");
                }
            }
            names.push(field.name.clone());
        }
        let all_names: Vec<String> = form.fields.iter().map(|f| f.name.clone()).collect();
        if !(unknown_visible.is_empty() || has_password || has_code || has_user) {
            return Err(LogonError::UnknownPage {
                path: page_url.path().into(),
                status,
                fields: all_names,
            });
        }
        let step = if has_code {
            "one-time code"
        } else if has_password {
            "password"
        } else if has_user {
            "user name"
        } else {
            "auto-submit form"
        };
        let credential_fields: Vec<String> = form
            .fields
            .iter()
            .filter(|f| matches!(role(f), Role::User | Role::Password | Role::Code))
            .map(|f| f.name.clone())
            .collect();
        let sent = Sent {
            step: step.into(),
            fields: credential_fields,
        };
        if has_password {
            self.once(Credential::Password, &sent)?;
        }
        if has_code {
            self.once(Credential::Code, &sent)?;
            let code = self.one_time_code(page_url)?;
            for field in form.fields.iter().filter(|f| matches!(role(f), Role::Code)) {
                body.push(&field.name, code.clone());
                names.push(field.name.clone());
            }
        }
        let url =
            form_action(page_url, form.action.as_deref()).ok_or_else(|| LogonError::Protocol {
                step: step.into(),
                path: page_url.path().into(),
                detail: "the form's action is not a URL".into(),
            })?;
        Ok(if form.method == "get" {
            let mut url = url;
            url.set_query(Some(&body.encode()));
            Request {
                has_password,
                has_code,
                ..Request::get(url, step)
            }
        } else {
            Request {
                method: reqwest::Method::POST,
                url,
                body: Some(body),
                headers: Vec::new(),
                step: step.into(),
                has_password,
                has_code,
            }
        })
    }

    /// A password or code is sent at most once per logon: the same credential asked for again
    /// means the first one was refused. Report that; never send it twice (retries lock
    /// accounts). Every step that sends a credential goes through here.
    fn once(&mut self, which: Credential, sent: &Sent) -> Result<(), LogonError> {
        let slot = match which {
            Credential::Password => &mut self.password_sent,
            Credential::Code => &mut self.code_sent,
        };
        if let Some(prev) = slot {
            return Err(LogonError::Rejected {
                step: prev.step.clone(),
                fields: prev.fields.clone(),
            });
        }
        *slot = Some(sent.clone());
        Ok(())
    }

    fn one_time_code(&mut self, page_url: &Url) -> Result<SecretString, LogonError> {
        let at = self.provider_time();
        let Some(totp) = self.totp.as_deref_mut() else {
            return Err(LogonError::TotpRequired {
                path: page_url.path().into(),
            });
        };
        let code = totp.code(at)?;
        self.secrets.push(code.clone());
        Ok(code)
    }

    /// One Azure AD B2C step: post the asked fields, expect `{"status":"200"}`, then fetch the
    /// `confirmed` page, which is the next step.
    fn self_asserted(&mut self, page_url: &Url, sa: SelfAsserted) -> Result<Request, LogonError> {
        let path = page_url.path().to_string();
        let mut body = SecretForm::new();
        let (mut has_password, mut has_code) = (false, false);
        let mut unknown = Vec::new();
        for id in &sa.fields {
            match id.as_str() {
                "signInName" | "logonIdentifier" | "email" | "username" | "userName" => {
                    body.push_plain(id, self.req.user)
                }
                "password" | "currentPassword" => {
                    has_password = true;
                    body.push(id, self.req.password.clone());
                }
                "totpVerificationCode" | "verificationCode" | "otpCode" => has_code = true,
                // What a browser's script sends about itself; the provider only records it.
                "userAgent" => body.push_plain(id, r#"{"client":"keychain"}"#),
                _ => unknown.push(id.clone()),
            }
        }
        if !unknown.is_empty() || sa.fields.is_empty() {
            return Err(LogonError::UnknownPage {
                path,
                status: 200,
                fields: sa.fields.clone(),
            });
        }
        let step = if has_code {
            "one-time code"
        } else if has_password {
            "password"
        } else {
            "user name"
        };
        let sent = Sent {
            step: step.into(),
            fields: sa.fields.clone(),
        };
        if has_password {
            self.once(Credential::Password, &sent)?;
        }
        if has_code {
            self.once(Credential::Code, &sent)?;
            let code = self.one_time_code(page_url)?;
            for id in sa.fields.iter().filter(|id| {
                matches!(
                    id.as_str(),
                    "totpVerificationCode" | "verificationCode" | "otpCode"
                )
            }) {
                body.push(id, code.clone());
            }
            // Asked for by the TOTP step: keep the enrolled authenticator.
            body.push_plain("reset_totp", "false");
        }
        body.push_plain("request_type", "RESPONSE");
        let bad_url = |_| LogonError::Protocol {
            step: step.into(),
            path: path.clone(),
            detail: "SETTINGS.hosts.tenant does not make a URL".into(),
        };
        let post = Request {
            method: reqwest::Method::POST,
            url: sa.post_url(page_url).map_err(bad_url)?,
            body: Some(body),
            headers: vec![
                ("X-CSRF-TOKEN", sa.csrf.clone()),
                ("X-Requested-With", "XMLHttpRequest".into()),
                ("Accept", "application/json".into()),
            ],
            step: step.into(),
            has_password,
            has_code,
        };
        let resp = self.send(&post)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let answer = read_page(resp, http::MAX_JSON_ANSWER, step, post.url.path())?;
        self.debug_write(&post, status, &headers, &answer, &Page::default())?;
        if status == 429 || status >= 500 {
            return Err(LogonError::Unavailable {
                step: step.into(),
                path: post.url.path().into(),
                reason: format!("HTTP {status}"),
            });
        }
        let json: Option<serde_json::Value> = serde_json::from_str(&answer).ok();
        let b2c_status = json.as_ref().and_then(|j| j.get("status")).map(|s| {
            s.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| s.to_string())
        });
        match b2c_status.as_deref() {
            Some("200") => {}
            Some(_) => {
                return Err(LogonError::Rejected {
                    step: step.into(),
                    fields: sa.fields.clone(),
                });
            }
            None => {
                return Err(LogonError::Protocol {
                    step: step.into(),
                    path: post.url.path().into(),
                    detail: format!("HTTP {status} without a JSON `status`"),
                });
            }
        }
        Ok(Request::get(
            sa.confirmed_url(page_url).map_err(bad_url)?,
            "confirm",
        ))
    }

    /// Reads the outcome from the redirect URI (query for the code, fragment for implicit, or
    /// the fields of a form posted there) without sending anything to it.
    fn finish(
        &mut self,
        at: &Request,
        state: &SecretString,
        verifier: SecretString,
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
        let path = at.url.path().to_string();
        if let Some(error) = get("error") {
            // The account's secrets, and this logon's own (password, codes, state, verifier).
            let mut scrubber = self.req.guard.scrubber.clone();
            for secret in &self.secrets {
                scrubber.add(secret);
            }
            let description = get("error_description")
                .map(|d| crate::oauth::sanitize(d.expose_secret(), &scrubber));
            return Err(LogonError::Provider {
                error: crate::oauth::sanitize(error.expose_secret(), &scrubber),
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
        match self.req.flow {
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

    fn progress(&self, step: &str, url: &Url) {
        if self.req.progress {
            crate::output::progress(&format!("logon: {step}: {}\n", http::redact_url(url)));
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
            &secrets,
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

/// Same scheme, host, port and path: the redirect URI, whatever its query.
fn same_endpoint(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
}

/// A form's `action`: absent, empty or a bare fragment mean the current URL with its query.
fn form_action(page: &Url, action: Option<&str>) -> Option<Url> {
    let mut url = match action.map(str::trim) {
        None | Some("") => page.clone(),
        Some(a) if a.starts_with('#') => page.clone(),
        Some(a) => page.join(a).ok()?,
    };
    url.set_fragment(None);
    Some(url)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Hidden,
    /// A visible field with a value of its own (pre-filled); sent as is.
    Value,
    Choice,
    Submit,
    Ignore,
    User,
    Password,
    Code,
    Unknown,
}

/// The last segment of a field name, without separators: `LoginForm$UserName` → `username`.
fn base_name(name: &str) -> String {
    name.rsplit(['$', ':', '.', '['])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase()
        .replace(['_', '-', ']'], "")
}

fn role(f: &Field) -> Role {
    let name = base_name(&f.name);
    let id = base_name(&f.id);
    let is = |list: &[&str]| list.contains(&name.as_str()) || list.contains(&id.as_str());
    match f.kind.as_str() {
        "hidden" => return Role::Hidden,
        "checkbox" | "radio" => return Role::Choice,
        "submit" | "image" => return Role::Submit,
        "button" | "reset" | "file" => return Role::Ignore,
        _ => {}
    }
    if f.autocomplete == "one-time-code"
        || is(&[
            "code",
            "otp",
            "totp",
            "otpcode",
            "totpcode",
            "verificationcode",
            "totpverificationcode",
            "passcode",
        ])
    {
        return Role::Code;
    }
    if f.kind == "password"
        || f.autocomplete == "current-password"
        || is(&["password", "passwd", "pwd"])
    {
        return Role::Password;
    }
    if f.autocomplete == "username"
        || f.kind == "email"
        || is(&[
            "user",
            "username",
            "login",
            "email",
            "userid",
            "loginname",
            "signinname",
            "logonidentifier",
            "identifier",
            "jusername",
        ])
    {
        return Role::User;
    }
    if f.value.is_empty() {
        Role::Unknown
    } else {
        Role::Value
    }
}

/// The login form (one with a password, code or user field), else the only form.
fn pick_form(forms: &[Form]) -> Option<&Form> {
    let has = |f: &Form, r: Role| f.fields.iter().any(|x| role(x) == r);
    forms
        .iter()
        .find(|f| has(f, Role::Password))
        .or_else(|| forms.iter().find(|f| has(f, Role::Code)))
        .or_else(|| forms.iter().find(|f| has(f, Role::User)))
        .or_else(|| {
            if forms.len() == 1 {
                forms.first()
            } else {
                None
            }
        })
}

fn all_field_names(page: &Page) -> Vec<String> {
    page.forms
        .iter()
        .flat_map(|f| &f.fields)
        .filter(|f| !f.name.is_empty())
        .map(|f| f.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_resolve_like_a_browser() {
        let page = Url::parse("http://h/oauth2/authorize?a=1&b=2#frag").unwrap();
        for a in [None, Some(""), Some("#"), Some("#x")] {
            assert_eq!(
                form_action(&page, a).unwrap().as_str(),
                "http://h/oauth2/authorize?a=1&b=2"
            );
        }
        assert_eq!(
            form_action(&page, Some("/totp2fcheck")).unwrap().as_str(),
            "http://h/totp2fcheck"
        );
        assert_eq!(
            form_action(&page, Some("./Login.aspx?x=1"))
                .unwrap()
                .as_str(),
            "http://h/oauth2/Login.aspx?x=1"
        );
    }

    #[test]
    fn field_roles() {
        let f = |kind: &str, name: &str, ac: &str| Field {
            kind: kind.into(),
            name: name.into(),
            autocomplete: ac.into(),
            ..Field::default()
        };
        assert_eq!(role(&f("text", "LoginForm$UserName", "")), Role::User);
        assert_eq!(role(&f("text", "code", "")), Role::Code);
        assert_eq!(role(&f("text", "x", "one-time-code")), Role::Code);
        assert_eq!(role(&f("password", "pw", "")), Role::Password);
        assert_eq!(role(&f("email", "x", "")), Role::User);
        assert_eq!(role(&f("text", "favourite", "")), Role::Unknown);
    }
}
