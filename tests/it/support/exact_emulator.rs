//! An Exact Online emulator on 127.0.0.1, written from Exact's documented behaviour and what its
//! logon pages are seen to do: an ASP.NET start page asking for the user name, Azure AD B2C
//! self-asserted pages (user name, password, TOTP), an auto-submit form back to Exact, then a
//! redirect to the redirect URI with `code` and `state`. Its token endpoint applies Exact's
//! rules: 10-minute access tokens, single-use refresh tokens, no refresh within 570 s of the
//! last access token, an error budget (10 errors in an hour block the client for an hour, 429),
//! refresh tokens that expire after 30 days unused. Like Exact (and RFC 6238 §5.2), it accepts a
//! one-time code once per user: a code of a time step at or before the last one accepted is
//! answered "This verification code has already been used", whichever client sent it.
//!
//! Its clock can be moved forward (`POST /__admin/advance?seconds=N`); `GET /__admin/stats`
//! counts what happened. For the month of nights (`tests/it/nights.rs`) it also injects faults
//! for real: `POST /__admin/fault?status=S&seconds=N&scope=token|all` answers token requests (or
//! every request: an outage) with status S for N seconds of its clock (or until `until=T`, Unix
//! seconds on its clock, in place of `seconds`; a 429 with Retry-After;
//! these answers are the provider's fault and do not count against the client's error budget);
//! `POST /__admin/kill-after-rotation?pid=P` sends SIGKILL to process P once the next refresh
//! has rotated the chain, before the answer goes out (a crash mid-refresh);
//! `POST /__admin/password` (form `password`) changes the user's password and revokes every token,
//! as a password reset does; `GET /api/v1/current/Me` with a bearer token says whether an access
//! token is live; `GET /__admin/faults` counts what was injected and how often the error budget
//! blocked the client. Test support only: it keeps everything in memory and trusts loopback.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tiny_http::{Header, Request, Response, Server};
use url::Url;

const TENANT: &str = "/exactonlineb2c.onmicrosoft.com/B2C_1A_SignIn";
const POLICY: &str = "B2C_1A_SignIn";
const ACCESS_TTL: i64 = 600;
const TOO_EARLY: i64 = 570;
const REFRESH_IDLE: i64 = 30 * 24 * 3600;
const ERROR_BUDGET: usize = 10;
const BLOCK: i64 = 3600;

/// Who may log on, and how the emulator behaves.
#[derive(Debug, Clone)]
pub struct Config {
    pub user: String,
    pub password: String,
    /// Base32, as an authenticator app would be given it.
    pub totp_secret: String,
    pub client_id: String,
    pub client_secret: String,
    /// A rate-limited token answer still carries a new refresh token (and rotates the chain).
    pub rate_limited_with_token: bool,
    /// Seconds per TOTP time step (30 at Exact; tests shorten it to keep waits short).
    pub totp_period: u64,
    /// Seconds an access token lives (Exact: 600).
    pub access_ttl: i64,
    /// No refresh within this many seconds of the chain's last access token (Exact: 570).
    pub too_early: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            user: "exact-user@example.com".into(),
            password: "exact-pass-1".into(),
            totp_secret: "JBSWY3DPEHPK3PXP".into(),
            client_id: "exact-client".into(),
            client_secret: "exact-secret".into(),
            rate_limited_with_token: false,
            totp_period: 30,
            access_ttl: ACCESS_TTL,
            too_early: TOO_EARLY,
        }
    }
}

impl Config {
    /// Reads `EXACT_EMU_USER`, `EXACT_EMU_PASSWORD`, `EXACT_EMU_TOTP_SECRET`,
    /// `EXACT_EMU_CLIENT_ID`, `EXACT_EMU_CLIENT_SECRET`, `EXACT_EMU_RATE_LIMITED_WITH_TOKEN`,
    /// and `EXACT_EMU_ACCESS_TTL` / `EXACT_EMU_TOO_EARLY` (seconds: short lifetimes let a demo
    /// run in real time, with no clock to move).
    pub fn from_env() -> Self {
        let d = Config::default();
        let var = |k: &str, d: String| std::env::var(k).unwrap_or(d);
        let secs = |k: &str, d: i64| {
            std::env::var(k).map_or(d, |v| v.parse().unwrap_or_else(|_| panic!("{k}: seconds")))
        };
        Config {
            user: var("EXACT_EMU_USER", d.user),
            password: var("EXACT_EMU_PASSWORD", d.password),
            totp_secret: var("EXACT_EMU_TOTP_SECRET", d.totp_secret),
            client_id: var("EXACT_EMU_CLIENT_ID", d.client_id),
            client_secret: var("EXACT_EMU_CLIENT_SECRET", d.client_secret),
            rate_limited_with_token: std::env::var("EXACT_EMU_RATE_LIMITED_WITH_TOKEN")
                .is_ok_and(|v| v == "1" || v == "true"),
            totp_period: std::env::var("EXACT_EMU_TOTP_PERIOD")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|p| *p > 0)
                .unwrap_or(d.totp_period),
            access_ttl: secs("EXACT_EMU_ACCESS_TTL", d.access_ttl),
            too_early: secs("EXACT_EMU_TOO_EARLY", d.too_early),
        }
    }
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Stats {
    pub requests: u32,
    pub token_requests: u32,
    pub refreshes: u32,
    pub logons: u32,
    pub password_attempts: u32,
    pub totp_attempts: u32,
    /// Codes refused because their time step was used already.
    pub totp_reused: u32,
    pub errors: u32,
}

/// One authorization in progress (Exact's side and B2C's side together).
struct Flow {
    redirect_uri: String,
    state: String,
    challenge: String,
    rvt: String,
    csrf: String,
    tx: String,
    step: u8,
    id_token: String,
}

struct RefreshToken {
    chain: u64,
    current: bool,
    issued_at: i64,
}

struct State {
    config: Config,
    offset: i64,
    stats: Stats,
    flows: HashMap<String, Flow>,
    codes: HashMap<String, (String, String)>,
    refresh: HashMap<String, RefreshToken>,
    /// Per chain: when the last access token was issued.
    chains: HashMap<u64, i64>,
    next_chain: u64,
    error_times: Vec<i64>,
    blocked_until: i64,
    /// The last time step whose code was accepted (the user's, whichever client logged on).
    last_totp_step: Option<u64>,
    /// Live access tokens and when they expire.
    access: HashMap<String, i64>,
    faults: Faults,
}

/// Faults injected through the admin endpoints, and what came of them.
#[derive(Default)]
struct Faults {
    /// (status, until, every request or only the token endpoint)
    active: Option<(u16, i64, bool)>,
    kill_after_rotation: Option<u32>,
    answered: u32,
    killed: u32,
    blocks: u32,
}

/// What the emulator makes of a one-time code.
enum Code {
    Accepted,
    AlreadyUsed,
    Wrong,
}

pub struct Emulator {
    pub base: Url,
    pub port: u16,
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The redirect URI the tests and benches register an Exact account with.
pub const CALLBACK: &str = "http://127.0.0.1:8765/callback";

/// The files `keychain add` reads an Exact account's secrets from (never its arguments).
pub struct SecretFiles<'a> {
    pub password: &'a std::path::Path,
    pub totp: &'a std::path::Path,
    pub client_secret: &'a std::path::Path,
}

impl Emulator {
    /// `keychain add NAME` for `config`'s account on this emulator: its endpoints, client and
    /// user, the redirect URI [`CALLBACK`], and the secrets from `files`.
    pub fn add_args(&self, config: &Config, name: &str, files: &SecretFiles) -> Vec<String> {
        let endpoint = |path: &str| self.base.join(path).unwrap().to_string();
        let file = |path: &std::path::Path| path.to_str().unwrap().to_string();
        vec![
            "add".into(),
            name.into(),
            "--provider".into(),
            "exact-nl".into(),
            "--authorize-url".into(),
            endpoint("api/oauth2/auth"),
            "--token-url".into(),
            endpoint("api/oauth2/token"),
            "--client-id".into(),
            config.client_id.clone(),
            "--redirect-uri".into(),
            CALLBACK.into(),
            "--user".into(),
            config.user.clone(),
            "--password-file".into(),
            file(files.password),
            "--totp-file".into(),
            file(files.totp),
            "--client-secret-file".into(),
            file(files.client_secret),
        ]
    }

    pub fn start(config: Config) -> Emulator {
        Self::start_on(config, 0)
    }

    pub fn start_on(config: Config, port: u16) -> Emulator {
        let server = Arc::new(super::loopback_http::server(port));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let state = Arc::new(Mutex::new(State {
            config,
            offset: 0,
            stats: Stats::default(),
            flows: HashMap::new(),
            codes: HashMap::new(),
            refresh: HashMap::new(),
            chains: HashMap::new(),
            next_chain: 1,
            error_times: Vec::new(),
            blocked_until: 0,
            last_totp_step: None,
            access: HashMap::new(),
            faults: Faults::default(),
        }));
        let srv = server.clone();
        let thread = std::thread::spawn(move || {
            for request in srv.incoming_requests() {
                let mut st = state.lock().unwrap();
                handle(&mut st, request);
            }
        });
        Emulator {
            base: Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap(),
            port,
            server,
            thread: Some(thread),
        }
    }

    /// Blocks until the server stops (for the example binary).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn random(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

impl State {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            + self.offset
    }

    fn count_error(&mut self) {
        let now = self.now();
        self.stats.errors += 1;
        self.error_times.push(now);
        self.error_times.retain(|t| now - t < 3600);
        if self.error_times.len() >= ERROR_BUDGET {
            if now >= self.blocked_until {
                self.faults.blocks += 1;
            }
            self.blocked_until = now + BLOCK;
        }
    }

    /// One step either side of the emulator's clock, as Exact allows; a step at or before the
    /// last accepted one is refused as used (RFC 6238 §5.2).
    fn check_code(&mut self, code: &str) -> Code {
        let secret = totp_rs::Secret::try_from_base32(&self.config.totp_secret).expect("base32");
        let period = self.config.totp_period;
        let totp = totp_rs::Builder::new()
            .with_secret(secret)
            .with_step_duration(period)
            .build_noncompliant();
        let now = self.now() as u64;
        let matched = [now.saturating_sub(period), now, now + period]
            .into_iter()
            .find(|t| totp.generate(*t).to_string() == code);
        match matched.map(|t| t / period) {
            None => Code::Wrong,
            Some(step) if self.last_totp_step.is_some_and(|last| step <= last) => {
                self.stats.totp_reused += 1;
                Code::AlreadyUsed
            }
            Some(step) => {
                self.last_totp_step = Some(step);
                Code::Accepted
            }
        }
    }

    fn issue_tokens(&mut self, chain: u64) -> (String, String) {
        let now = self.now();
        let refresh = random(32);
        self.refresh.insert(
            refresh.clone(),
            RefreshToken {
                chain,
                current: true,
                issued_at: now,
            },
        );
        self.chains.insert(chain, now);
        let access = random(32);
        self.access.retain(|_, expires| *expires > now);
        self.access
            .insert(access.clone(), now + self.config.access_ttl);
        (access, refresh)
    }
}

struct Ctx {
    method: String,
    path: String,
    query: HashMap<String, String>,
    form: HashMap<String, String>,
    cookies: HashMap<String, String>,
    headers: HashMap<String, String>,
}

fn parse_pairs(s: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(s.as_bytes())
        .into_owned()
        .collect()
}

fn handle(st: &mut State, mut request: Request) {
    st.stats.requests += 1;
    let raw = request.url().to_string();
    let (path, query) = raw.split_once('?').unwrap_or((&raw, ""));
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let mut headers = HashMap::new();
    let mut cookies = HashMap::new();
    for h in request.headers() {
        let name = h.field.as_str().as_str().to_ascii_lowercase();
        let value = h.value.as_str().to_string();
        if name == "cookie" {
            for pair in value.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=') {
                    cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        headers.insert(name, value);
    }
    let ctx = Ctx {
        method: request.method().as_str().to_string(),
        path: path.to_string(),
        query: parse_pairs(query),
        form: parse_pairs(&body),
        cookies,
        headers,
    };
    let reply = route(st, &ctx);
    let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(st.now() as u64));
    let mut resp = Response::from_string(reply.body)
        .with_status_code(reply.status)
        .with_header(Header::from_bytes("Content-Type", reply.content_type).unwrap())
        .with_header(Header::from_bytes("Date", date).unwrap());
    for (k, v) in reply.headers {
        resp = resp.with_header(Header::from_bytes(k, v).unwrap());
    }
    let _ = request.respond(resp);
}

struct Reply {
    status: u16,
    content_type: &'static str,
    body: String,
    headers: Vec<(&'static str, String)>,
}

fn html(body: String) -> Reply {
    Reply {
        status: 200,
        content_type: "text/html; charset=utf-8",
        body,
        headers: vec![],
    }
}

fn json(status: u16, value: serde_json::Value) -> Reply {
    Reply {
        status,
        content_type: "application/json",
        body: value.to_string(),
        headers: vec![],
    }
}

fn redirect(location: String) -> Reply {
    Reply {
        status: 302,
        content_type: "text/html",
        body: String::new(),
        headers: vec![("Location", location)],
    }
}

fn text(status: u16, body: &str) -> Reply {
    Reply {
        status,
        content_type: "text/plain",
        body: body.into(),
        headers: vec![],
    }
}

fn route(st: &mut State, c: &Ctx) -> Reply {
    let b2c = |rest: &str| format!("{TENANT}{rest}");
    if let Some(reply) = injected_fault(st, c) {
        return reply;
    }
    match (c.method.as_str(), c.path.as_str()) {
        ("GET", "/api/v1/current/Me") => {
            let bearer = c
                .headers
                .get("authorization")
                .and_then(|h| h.strip_prefix("Bearer "));
            let now = st.now();
            match bearer.and_then(|t| st.access.get(t)) {
                Some(expires) if *expires > now => {
                    json(200, serde_json::json!({ "d": { "results": [] } }))
                }
                _ => text(401, "invalid or expired access token"),
            }
        }
        ("POST", "/__admin/fault") => {
            let status = c
                .query
                .get("status")
                .and_then(|s| s.parse().ok())
                .unwrap_or(503);
            // `until` (Unix seconds on the emulator's clock) ends it at an exact moment;
            // `seconds` that long after now.
            let until = match c.query.get("until").and_then(|s| s.parse::<i64>().ok()) {
                Some(until) => until,
                None => {
                    let seconds: i64 = c
                        .query
                        .get("seconds")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    st.now() + seconds
                }
            };
            let all = c.query.get("scope").is_some_and(|s| s == "all");
            st.faults.active = Some((status, until, all));
            json(200, serde_json::json!({ "until": until }))
        }
        ("POST", "/__admin/kill-after-rotation") => {
            st.faults.kill_after_rotation = c.query.get("pid").and_then(|p| p.parse().ok());
            json(
                200,
                serde_json::json!({ "armed": st.faults.kill_after_rotation.is_some() }),
            )
        }
        ("POST", "/__admin/password") => {
            st.config.password = c.form.get("password").cloned().unwrap_or_default();
            for rt in st.refresh.values_mut() {
                rt.current = false;
            }
            st.access.clear();
            json(200, serde_json::json!({ "revoked": true }))
        }
        ("GET", "/__admin/faults") => json(
            200,
            serde_json::json!({
                "answered": st.faults.answered, "killed": st.faults.killed,
                "blocks": st.faults.blocks, "armed": st.faults.kill_after_rotation.is_some(),
            }),
        ),
        ("GET", "/api/oauth2/auth") => authorize(st, c),
        ("GET", "/docs/Login.aspx") => login_page(st, c),
        ("POST", "/docs/Login.aspx") => login_post(st, c),
        ("GET", p) if p == b2c("/oauth2/v2.0/authorize") => b2c_start(st, c),
        ("POST", p) if p == b2c("/SelfAsserted") => self_asserted(st, c),
        ("GET", p) if p.starts_with(TENANT) && p.ends_with("/confirmed") => confirmed(st, c),
        ("POST", "/api/oauth2/signin-oidc") => signin_oidc(st, c),
        ("POST", "/api/oauth2/token") => token(st, c),
        ("POST", "/__admin/advance") => {
            let secs: i64 = c
                .query
                .get("seconds")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            st.offset += secs;
            json(200, serde_json::json!({ "offset": st.offset }))
        }
        ("POST", "/__admin/rate-limited-with-token") => {
            st.config.rate_limited_with_token = c.query.get("on").is_some_and(|v| v == "true");
            json(
                200,
                serde_json::json!({ "on": st.config.rate_limited_with_token }),
            )
        }
        ("GET", "/__admin/stats") => json(200, serde_json::to_value(&st.stats).unwrap()),
        // A page no logon engine knows: for the "unknown page" test.
        ("GET", "/__test/unknown-page") => html(
            r#"<html><body><form method="post" action="/__test/unknown-page">
            <input type="hidden" name="nonce" value="n1">
            <input type="text" name="favourite_colour">
            <input type="text" name="captcha_answer">
            </form></body></html>"#
                .into(),
        ),
        _ => text(404, "not found"),
    }
}

/// The answer of an injected fault, if one is active for this request.
fn injected_fault(st: &mut State, c: &Ctx) -> Option<Reply> {
    let (status, until, all) = st.faults.active?;
    let now = st.now();
    if now >= until {
        st.faults.active = None;
        return None;
    }
    if c.path.starts_with("/__admin/") || !(all || c.path == "/api/oauth2/token") {
        return None;
    }
    st.faults.answered += 1;
    Some(if status == 429 {
        let mut r = json(
            429,
            serde_json::json!({ "error": "rate_limit_exceeded", "error_description": "Too many requests" }),
        );
        r.headers.push(("Retry-After", (until - now).to_string()));
        r
    } else {
        text(status, "Service Unavailable")
    })
}

fn flow_of<'s>(st: &'s mut State, c: &Ctx) -> Option<(String, &'s mut Flow)> {
    let id = c.cookies.get("ExactFlow")?.clone();
    let flow = st.flows.get_mut(&id)?;
    Some((id, flow))
}

fn authorize(st: &mut State, c: &Ctx) -> Reply {
    let q = &c.query;
    if q.get("client_id") != Some(&st.config.client_id) {
        return text(400, "unknown client_id");
    }
    if q.get("response_type").map(String::as_str) != Some("code") {
        return text(400, "response_type must be code");
    }
    let (Some(redirect_uri), Some(state)) = (q.get("redirect_uri"), q.get("state")) else {
        return text(400, "redirect_uri and state required");
    };
    let id = random(16);
    st.flows.insert(
        id.clone(),
        Flow {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            challenge: q.get("code_challenge").cloned().unwrap_or_default(),
            rvt: random(24),
            csrf: random(24),
            tx: format!("StateProperties={}", random(24)),
            step: 0,
            id_token: random(32),
        },
    );
    let mut r = redirect(format!(
        "/docs/Login.aspx?ReturnUrl=%2fapi%2foauth2%2fauth&flow={id}"
    ));
    r.headers
        .push(("Set-Cookie", format!("ExactFlow={id}; Path=/; HttpOnly")));
    r
}

fn login_page(st: &mut State, c: &Ctx) -> Reply {
    let Some((_, flow)) = flow_of(st, c) else {
        return text(400, "no flow cookie");
    };
    let rvt = flow.rvt.clone();
    let mut r = html(format!(
        r#"<!DOCTYPE html><html><head><title>Exact Online</title></head><body>
<form method="post" action="./Login.aspx?ReturnUrl=%2fapi%2foauth2%2fauth" id="LoginForm">
<input type="hidden" name="__VIEWSTATE" value="dDwtMTA4MzE0MjEwNTs7Pg==" />
<input type="hidden" name="__RequestVerificationToken" value="{rvt}" />
<label for="LoginForm_UserName">Username</label>
<input type="text" name="LoginForm$UserName" id="LoginForm_UserName" autocomplete="username" />
<input type="checkbox" name="LoginForm$RememberMe" id="LoginForm_RememberMe" />
<input type="submit" name="LoginForm$btnNext" value="Next" />
</form></body></html>"#
    ));
    // Path-scoped: the engine's jar must send it back to /docs only.
    r.headers.push((
        "Set-Cookie",
        format!("__RequestVerificationToken={rvt}; Path=/docs; HttpOnly"),
    ));
    r
}

fn login_post(st: &mut State, c: &Ctx) -> Reply {
    let Some((id, flow)) = flow_of(st, c) else {
        return text(400, "no flow cookie");
    };
    let rvt_ok = c.form.get("__RequestVerificationToken") == Some(&flow.rvt)
        && c.cookies.get("__RequestVerificationToken") == Some(&flow.rvt)
        && c.form.contains_key("__VIEWSTATE")
        && c.query.contains_key("ReturnUrl");
    if !rvt_ok {
        return text(400, "anti-forgery token missing or wrong");
    }
    // A browser leaves an unchecked box out; "on" here would mean it was sent anyway.
    if c.form.contains_key("LoginForm$RememberMe") {
        return text(400, "unchecked box was sent");
    }
    if c.form
        .get("LoginForm$UserName")
        .map(String::as_str)
        .unwrap_or("")
        .is_empty()
    {
        return text(400, "user name missing");
    }
    redirect(format!(
        "{TENANT}/oauth2/v2.0/authorize?client_id=exact&flow={id}"
    ))
}

fn b2c_page(flow: &Flow, api: &str, fields: &[&str]) -> Reply {
    let settings = serde_json::json!({
        "remoteResource": "https://static.exactonline.example/b2c/selfAsserted.html",
        "retryLimit": 3,
        "api": api,
        "csrf": flow.csrf,
        "transId": flow.tx,
        "pageViewId": "8d2c2b7e",
        "hosts": { "tenant": TENANT, "policy": POLICY, "static": "https://static.example/" },
        "locale": { "lang": "en" },
    });
    let sa_fields = serde_json::json!({
        "AttributeFields": fields.iter().map(|f| serde_json::json!({
            "IS_REQ": true, "IS_RHB": false, "IS_ROF": false, "ID": f, "UX_INPUT_TYPE": "TextBox",
        })).collect::<Vec<_>>()
    });
    html(format!(
        r#"<!DOCTYPE html><html><head><title>Sign in</title>
<script data-container="true" nonce="abc">
var CONTENT = {{"button_continue":"Continue"}};
var SETTINGS = {settings};
var SA_FIELDS = {sa_fields};
</script></head><body><div id="api"></div>
<form id="localAccountForm" action="JavaScript:void(0);" class="localAccount"><div class="entry"></div></form>
</body></html>"#
    ))
}

fn step_page(flow: &Flow) -> Reply {
    match flow.step {
        0 => b2c_page(
            flow,
            "CombinedSigninAndSignup",
            &["signInName", "userAgent"],
        ),
        1 => b2c_page(flow, "SelfAsserted", &["password"]),
        _ => b2c_page(flow, "SelfAsserted", &["totpVerificationCode"]),
    }
}

fn b2c_start(st: &mut State, c: &Ctx) -> Reply {
    let id = c.query.get("flow").cloned().unwrap_or_default();
    let Some(flow) = st.flows.get_mut(&id) else {
        return text(400, "unknown flow");
    };
    flow.step = 0;
    let mut r = step_page(flow);
    r.headers.push((
        "Set-Cookie",
        format!("x-ms-cpim-trans={id}; Path={TENANT}; HttpOnly"),
    ));
    r
}

fn b2c_flow<'s>(st: &'s mut State, c: &Ctx) -> Option<&'s mut Flow> {
    let id = c.cookies.get("x-ms-cpim-trans")?;
    st.flows.get_mut(id)
}

fn self_asserted(st: &mut State, c: &Ctx) -> Reply {
    let user = st.config.user.clone();
    let password = st.config.password.clone();
    let Some(flow) = b2c_flow(st, c) else {
        return text(400, "no transaction cookie");
    };
    let headers_ok = c.headers.get("x-csrf-token") == Some(&flow.csrf)
        && c.headers.get("x-requested-with").map(String::as_str) == Some("XMLHttpRequest")
        && c.query.get("tx") == Some(&flow.tx)
        && c.query.get("p").map(String::as_str) == Some(POLICY)
        && c.form.get("request_type").map(String::as_str) == Some("RESPONSE");
    if !headers_ok {
        return json(
            403,
            serde_json::json!({"status":"403","message":"CSRF or transaction check failed"}),
        );
    }
    let fail = |m: &str| {
        json(
            200,
            serde_json::json!({"status":"400","errorCode":"AADB2C90225","message":m}),
        )
    };
    match flow.step {
        0 => {
            if !c
                .form
                .get("signInName")
                .is_some_and(|u| u.eq_ignore_ascii_case(&user))
            {
                return fail("We can't seem to find your account.");
            }
            flow.step = 1;
        }
        1 => {
            st.stats.password_attempts += 1;
            let flow = b2c_flow(st, c).unwrap();
            if c.form.get("password") != Some(&password) {
                flow.step = 9; // a failed password ends the transaction
                return fail("Your password is incorrect.");
            }
            flow.step = 2;
        }
        2 => {
            st.stats.totp_attempts += 1;
            let code = c.form.get("totpVerificationCode").cloned();
            let verdict = match code {
                Some(code) if c.form.get("reset_totp").map(String::as_str) == Some("false") => {
                    st.check_code(&code)
                }
                _ => Code::Wrong,
            };
            let flow = b2c_flow(st, c).unwrap();
            match verdict {
                Code::Accepted => flow.step = 3,
                Code::AlreadyUsed => {
                    flow.step = 9;
                    return fail("This verification code has already been used.");
                }
                Code::Wrong => {
                    flow.step = 9;
                    return fail(
                        "The verification code you have entered does not match our records.",
                    );
                }
            }
        }
        _ => return fail("The transaction has ended."),
    }
    json(200, serde_json::json!({"status":"200"}))
}

fn confirmed(st: &mut State, c: &Ctx) -> Reply {
    let Some(flow) = b2c_flow(st, c) else {
        return text(400, "no transaction cookie");
    };
    if c.query.get("csrf_token") != Some(&flow.csrf) || c.query.get("tx") != Some(&flow.tx) {
        return text(400, "csrf_token or tx wrong");
    }
    match flow.step {
        1 | 2 => step_page(flow),
        3 => html(format!(
            r#"<html><head><title>Working...</title></head><body onload="javascript:document.forms[0].submit()">
<form method="POST" name="hiddenform" action="/api/oauth2/signin-oidc">
<input type="hidden" name="id_token" value="{}" />
<input type="hidden" name="state" value="{}" />
<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit" /></noscript>
</form></body></html>"#,
            flow.id_token,
            c.cookies
                .get("x-ms-cpim-trans")
                .cloned()
                .unwrap_or_default()
        )),
        _ => text(400, "transaction ended"),
    }
}

fn signin_oidc(st: &mut State, c: &Ctx) -> Reply {
    let id = c.form.get("state").cloned().unwrap_or_default();
    let Some(flow) = st.flows.remove(&id) else {
        return text(400, "unknown state");
    };
    if c.form.get("id_token") != Some(&flow.id_token) || flow.step != 3 {
        return text(400, "id_token wrong");
    }
    st.stats.logons += 1;
    let code = random(32);
    st.codes.insert(
        code.clone(),
        (flow.challenge.clone(), flow.redirect_uri.clone()),
    );
    let mut target = Url::parse(&flow.redirect_uri).expect("redirect_uri");
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &flow.state);
    redirect(target.to_string())
}

fn token_error(st: &mut State, status: u16, error: &str, description: &str) -> Reply {
    st.count_error();
    json(
        status,
        serde_json::json!({ "error": error, "error_description": description }),
    )
}

fn tokens_json(st: &mut State, access: &str, refresh: &str) -> serde_json::Value {
    // Exact sends expires_in as a string.
    serde_json::json!({
        "access_token": access, "token_type": "bearer",
        "expires_in": st.config.access_ttl.to_string(), "refresh_token": refresh,
    })
}

fn token(st: &mut State, c: &Ctx) -> Reply {
    st.stats.token_requests += 1;
    let f = &c.form;
    let now = st.now();
    if now < st.blocked_until {
        let mut body = serde_json::json!({
            "error": "rate_limit_exceeded",
            "error_description": "Too many errors: this client is blocked for an hour",
        });
        if st.config.rate_limited_with_token
            && f.get("grant_type").map(String::as_str) == Some("refresh_token")
            && let Some(new) = rotate(st, f.get("refresh_token").map(String::as_str).unwrap_or(""))
        {
            body["refresh_token"] = new.into();
        }
        let mut r = json(429, body);
        r.headers
            .push(("Retry-After", (st.blocked_until - now).to_string()));
        return r;
    }
    if f.get("client_id") != Some(&st.config.client_id)
        || f.get("client_secret") != Some(&st.config.client_secret)
    {
        return token_error(st, 401, "invalid_client", "Client authentication failed");
    }
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = f.get("code").cloned().unwrap_or_default();
            let Some((challenge, redirect_uri)) = st.codes.remove(&code) else {
                return token_error(st, 400, "invalid_grant", "Invalid authorization code");
            };
            let verifier = f.get("code_verifier").cloned().unwrap_or_default();
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if !challenge.is_empty() && computed != challenge {
                return token_error(st, 400, "invalid_grant", "PKCE verification failed");
            }
            if f.get("redirect_uri") != Some(&redirect_uri) {
                return token_error(st, 400, "invalid_grant", "redirect_uri mismatch");
            }
            let chain = st.next_chain;
            st.next_chain += 1;
            let (access, refresh) = st.issue_tokens(chain);
            json(200, tokens_json(st, &access, &refresh))
        }
        Some("refresh_token") => {
            st.stats.refreshes += 1;
            let presented = f.get("refresh_token").cloned().unwrap_or_default();
            let Some(rt) = st.refresh.get(&presented) else {
                return token_error(st, 400, "invalid_grant", "invalid or empty chainId");
            };
            if !rt.current {
                return token_error(st, 400, "invalid_grant", "Old refresh token used");
            }
            if now > rt.issued_at + REFRESH_IDLE {
                let at = humantime::format_rfc3339_seconds(
                    UNIX_EPOCH + Duration::from_secs((rt.issued_at + REFRESH_IDLE) as u64),
                );
                return token_error(
                    st,
                    400,
                    "invalid_grant",
                    &format!("The refresh token expired at {at}"),
                );
            }
            let last_access = st.chains.get(&rt.chain).copied().unwrap_or(0);
            let too_early = st.config.too_early;
            if now - last_access < too_early {
                st.count_error();
                let mut body = serde_json::json!({
                    "error": "invalid_request",
                    "error_description": format!("TooEarlyToRefreshTokens: wait {} s", too_early - (now - last_access)),
                });
                if st.config.rate_limited_with_token {
                    body["refresh_token"] = rotate(st, &presented).unwrap_or_default().into();
                }
                return json(400, body);
            }
            let chain = rt.chain;
            st.refresh.get_mut(&presented).unwrap().current = false;
            let (access, refresh) = st.issue_tokens(chain);
            if let Some(pid) = st.faults.kill_after_rotation.take() {
                // The chain has rotated; the client dies before the answer reaches it.
                let killed = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status()
                    .is_ok_and(|s| s.success());
                st.faults.killed += u32::from(killed);
            }
            json(200, tokens_json(st, &access, &refresh))
        }
        _ => token_error(
            st,
            400,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

/// Retires `presented` and issues a new refresh token in its chain, without an access token
/// (the rate-limited answer that still rotates).
fn rotate(st: &mut State, presented: &str) -> Option<String> {
    let rt = st.refresh.get_mut(presented)?;
    if !rt.current {
        return None;
    }
    rt.current = false;
    let chain = rt.chain;
    let now = st.now();
    let new = random(32);
    st.refresh.insert(
        new.clone(),
        RefreshToken {
            chain,
            current: true,
            issued_at: now,
        },
    );
    Some(new)
}
