//! The wire under a [`KvClient`]: one keep-alive HTTP client per process and trust (built at
//! the first call, and never torn down: see [`CLIENTS`] and [`Http`]), and the one place a
//! call is sent and its answer read.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{Answer, BaoError, CONNECT_TIMEOUT, KvClient, REQUEST_TIMEOUT, errors_mention};

/// Largest answer read: a record is at most 16 MiB, 22 MiB in base64, plus the envelope.
const MAX_ANSWER: u64 = 32 << 20;
impl KvClient {
    pub(super) fn send(
        &self,
        method: Method,
        api: &str,
        body: Option<&Value>,
        token: Option<&SecretString>,
    ) -> Result<Answer, BaoError> {
        let url = self
            .inner
            .base
            .join(&format!("v1/{api}"))
            .map_err(|_| BaoError::Settings(format!("cannot form a URL for {api}")))?;
        let mut request = self.inner.http.get()?.request(method, url);
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(token.expose_secret()).map_err(|_| {
                BaoError::NoToken("the token holds characters no HTTP header can carry".into())
            })?;
            value.set_sensitive(true);
            request = request.header("X-Vault-Token", value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let sent = std::time::SystemTime::now();
        let response = request.send().map_err(|e| BaoError::Unreachable {
            addr: self.addr().to_string(),
            detail: transport_detail(&e),
        })?;
        // The store's clock is a shared keychain's reference for token times (issue 19).
        let date = response.headers().get(reqwest::header::DATE);
        let date = date.and_then(|d| d.to_str().ok());
        crate::clock::reference::observe(date, sent, std::time::SystemTime::now());
        let status = response.status();
        let text =
            crate::http::read_capped(response, MAX_ANSWER).map_err(|e| BaoError::Unreachable {
                addr: self.addr().to_string(),
                detail: e.to_string(),
            })?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        if status == StatusCode::SERVICE_UNAVAILABLE && errors_mention(&body, "sealed") {
            return Err(BaoError::Sealed {
                addr: self.addr().to_string(),
            });
        }
        Ok(Answer { status, body })
    }
}

/// Which certificates a client trusts.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Trust {
    /// The system's roots (https without a CA of its own).
    System,
    /// Only the CA in this PEM bundle: a keychain pointed at its own server trusts nothing else.
    OnlyCa(Vec<u8>),
    /// Plain http (loopback only, [`OpenBaoSettings::validate`]): no trust store to load for
    /// connections that never use one.
    NoTls,
}

/// The process's HTTP clients, one per [`Trust`], built once and kept until the process ends:
/// every `KvClient` of the process shares one (and its keep-alive connections), and none is
/// ever dropped, because dropping a blocking client waits for its runtime thread to shut down,
/// which every short command (a cached `login`) would pay on its way out.
static CLIENTS: Mutex<Vec<(Trust, Client)>> = Mutex::new(Vec::new());

/// The process's client for one [`Trust`], taken from [`CLIENTS`] or built at the first call,
/// by the thread that makes it: on a cached `login`'s fast path that is the thread reading the
/// witness while the main thread opens the keys and the record, so building it (its runtime
/// thread started and waited for, and for https the trust store loaded) costs no wall time.
pub(super) struct Http {
    trust: Trust,
    client: std::sync::OnceLock<Result<Client, String>>,
}

impl Http {
    pub(super) fn new(trust: Trust) -> Self {
        Http {
            trust,
            client: std::sync::OnceLock::new(),
        }
    }

    pub(super) fn get(&self) -> Result<&Client, BaoError> {
        self.client
            .get_or_init(|| build_client(&self.trust))
            .as_ref()
            .map_err(|e| BaoError::Settings(format!("cannot set up the HTTP client: {e}")))
    }
}

/// Builds the client for `trust` once per process (see [`CLIENTS`]).
fn build_client(trust: &Trust) -> Result<Client, String> {
    let mut clients = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, client)) = clients.iter().find(|(t, _)| t == trust) {
        return Ok(client.clone());
    }
    let mut builder = crate::http::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(60));
    match trust {
        Trust::System => {}
        Trust::OnlyCa(pem) => {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|_| "the CA certificate holds no PEM certificate".to_string())?;
            builder = builder.tls_certs_only(certs);
        }
        Trust::NoTls => builder = builder.tls_certs_only(Vec::new()),
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    clients.push((trust.clone(), client.clone()));
    Ok(client)
}

/// What went wrong on the wire, in words: refused, timed out, TLS.
fn transport_detail(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!(
            "no answer within {}",
            humantime::format_duration(REQUEST_TIMEOUT)
        )
    } else if e.is_connect() {
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        let mut last = String::from("cannot connect");
        while let Some(s) = source {
            last = s.to_string();
            source = s.source();
        }
        format!("cannot connect ({last})")
    } else {
        "the connection failed".to_string()
    }
}
