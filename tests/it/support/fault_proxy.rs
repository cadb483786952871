//! A reverse proxy on 127.0.0.1 for the month of nights (`support::nights`): it passes every
//! request to a real server (LemonLDAP::NG, OpenBao) and back unchanged, except that
//! - it injects provider faults for real, on the simulation's clock: [`FaultProxy::fault`]
//!   answers token requests (`scope` [`Scope::Token`]) or every request (an outage) with a
//!   status for a number of simulated seconds, a 429 with `Retry-After`;
//! - it can stamp the answers' `Date` with the simulation's time ([`FaultProxy::dated`]): the
//!   server behind it keeps real time where libfaketime cannot reach its clock (OpenBao is Go),
//!   and a shared keychain takes the store's `Date` as its reference clock.
//!
//! A server that is down is answered as a sealed OpenBao answers (503, "Vault is sealed"), which
//! keychain takes for "the store is unavailable", and a portal that is down as a 502.
//! Test support only: it trusts loopback and reads whole bodies into memory.
#![allow(dead_code)]

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tiny_http::{Header, Response, Server};
use url::Url;

/// Which requests a fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `POST .../token` only (a burst at the token endpoint).
    Token,
    /// Every request (an outage).
    All,
}

struct Fault {
    status: u16,
    until: i64,
    scope: Scope,
}

struct State {
    backend: Url,
    /// The simulation's time minus real time, in seconds (shared with the driver's clock).
    offset: Arc<AtomicI64>,
    /// Stamp `Date` with the simulation's time.
    dated: bool,
    /// How a server that is down is answered.
    down: DownAs,
    fault: Mutex<Option<Fault>>,
    answered: AtomicU32,
    http: reqwest::blocking::Client,
}

/// How the proxy answers when the server behind it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownAs {
    /// As a sealed OpenBao: keychain's "store unavailable".
    SealedStore,
    /// 502 Bad Gateway.
    BadGateway,
}

pub struct FaultProxy {
    pub url: Url,
    state: Arc<State>,
    server: Arc<Server>,
}

impl FaultProxy {
    /// A proxy in front of `backend`, its faults timed on `offset` (simulation minus real, s).
    pub fn start(backend: &Url, offset: Arc<AtomicI64>, dated: bool, down: DownAs) -> FaultProxy {
        let server = Arc::new(super::loopback_http::server(0));
        let port = server.server_addr().to_ip().unwrap().port();
        let http = keychain::http::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let state = Arc::new(State {
            backend: backend.clone(),
            offset,
            dated,
            down,
            fault: Mutex::new(None),
            answered: AtomicU32::new(0),
            http,
        });
        for _ in 0..4 {
            let (server, state) = (server.clone(), state.clone());
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    serve(&state, request);
                }
            });
        }
        FaultProxy {
            url: Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap(),
            state,
            server,
        }
    }

    /// From now on until `until` (Unix seconds on the simulation's clock), answers the requests
    /// of `scope` with `status`.
    pub fn fault_until(&self, status: u16, until: i64, scope: Scope) {
        *self.state.fault.lock().unwrap() = Some(Fault {
            status,
            until,
            scope,
        });
    }

    /// Requests answered by an injected fault so far.
    pub fn answered(&self) -> u32 {
        self.state.answered.load(Ordering::SeqCst)
    }

    /// The same URL on the proxy: `backend`'s path and query on the proxy's address.
    pub fn join(&self, path: &str) -> Url {
        self.url.join(path).unwrap()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn sim_now(state: &State) -> i64 {
    let real = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    real + state.offset.load(Ordering::SeqCst)
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap()
}

fn serve(state: &State, mut request: tiny_http::Request) {
    let now = sim_now(state);
    let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(now.max(0) as u64));
    let is_token = request.method() == &tiny_http::Method::Post
        && request
            .url()
            .split('?')
            .next()
            .unwrap_or("")
            .ends_with("/token");
    let injected = {
        let mut fault = state.fault.lock().unwrap();
        if fault.as_ref().is_some_and(|f| f.until <= now) {
            *fault = None;
        }
        fault
            .as_ref()
            .filter(|f| f.scope == Scope::All || is_token)
            .map(|f| f.status)
    };
    if let Some(status) = injected {
        state.answered.fetch_add(1, Ordering::SeqCst);
        let mut response = Response::from_string(format!("injected fault {status}\n"))
            .with_status_code(status)
            .with_header(header("Date", &date));
        if status == 429 {
            response = response.with_header(header("Retry-After", "60"));
        }
        let _ = request.respond(response);
        return;
    }
    let mut body = Vec::new();
    let _ = std::io::Read::read_to_end(request.as_reader(), &mut body);
    let url = state.backend.join(request.url()).unwrap();
    let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes()).unwrap();
    let mut forward = state.http.request(method, url);
    for h in request.headers() {
        let name = h.field.as_str().as_str();
        if ["host", "connection", "content-length", "transfer-encoding"]
            .contains(&name.to_ascii_lowercase().as_str())
        {
            continue;
        }
        forward = forward.header(name, h.value.as_str());
    }
    let answer = match forward.body(body).send() {
        Ok(answer) => answer,
        Err(_) => {
            let response = match state.down {
                DownAs::SealedStore => Response::from_string(r#"{"errors":["Vault is sealed"]}"#)
                    .with_status_code(503)
                    .with_header(header("Content-Type", "application/json")),
                DownAs::BadGateway => Response::from_string("bad gateway\n").with_status_code(502),
            };
            let _ = request.respond(response.with_header(header("Date", &date)));
            return;
        }
    };
    let status = answer.status().as_u16();
    let mut headers = Vec::new();
    for (name, value) in answer.headers() {
        let lower = name.as_str();
        if [
            "connection",
            "content-length",
            "transfer-encoding",
            "keep-alive",
        ]
        .contains(&lower)
            || (state.dated && lower == "date")
        {
            continue;
        }
        if let Ok(value) = value.to_str() {
            headers.push(header(name.as_str(), value));
        }
    }
    if state.dated {
        headers.push(header("Date", &date));
    }
    let bytes = answer.bytes().map(|b| b.to_vec()).unwrap_or_default();
    let mut response = Response::from_data(bytes).with_status_code(status);
    for h in headers {
        response.add_header(h);
    }
    let _ = request.respond(response);
}
