//! The wire under a [`KvClient`]: for https one keep-alive reqwest client per process and trust
//! (built at the first call, and never torn down: see [`CLIENTS`] and [`Http`]); for plain http
//! to a loopback address one exchange in the calling thread (`loopback`); and the one place a
//! call is sent and its answer read.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{
    Answer, BaoError, CONNECT_TIMEOUT, KvClient, REQUEST_TIMEOUT, errors_mention, loopback,
};

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
        if self.inner.http.trust == Trust::NoTls {
            return self.send_loopback(&method, &url, body, token);
        }
        let mut request = self.inner.http.get()?.request(method, url);
        if let Some(token) = token {
            let mut value =
                HeaderValue::from_str(token.expose_secret()).map_err(|_| bad_token())?;
            value.set_sensitive(true);
            request = request.header("X-Vault-Token", value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().map_err(|e| BaoError::Unreachable {
            addr: self.addr().to_string(),
            detail: transport_detail(&e),
        })?;
        let status = response.status();
        let text =
            crate::http::read_capped(response, MAX_ANSWER).map_err(|e| BaoError::Unreachable {
                addr: self.addr().to_string(),
                detail: e.to_string(),
            })?;
        self.answer(status, &text)
    }

    /// [`Self::send`] for plain http (a loopback address): one exchange on a `TcpStream` in
    /// this thread, without reqwest's runtime thread (see `loopback`).
    fn send_loopback(
        &self,
        method: &Method,
        url: &url::Url,
        body: Option<&Value>,
        token: Option<&SecretString>,
    ) -> Result<Answer, BaoError> {
        let token = token.map(ExposeSecret::expose_secret);
        if token.is_some_and(|t| !loopback::fits_a_header(t)) {
            return Err(bad_token());
        }
        let json = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|_| BaoError::Settings("cannot encode a request body".into()))?
            .map(zeroize::Zeroizing::new);
        let reply = loopback::exchange(
            method.as_str(),
            url,
            token,
            json.as_deref().map(|j| &j[..]),
            MAX_ANSWER,
        )
        .map_err(|failure| BaoError::Unreachable {
            addr: self.addr().to_string(),
            detail: match failure {
                loopback::Failure::Connect(why) => format!("cannot connect ({why})"),
                loopback::Failure::TimedOut => format!(
                    "no answer within {}",
                    humantime::format_duration(REQUEST_TIMEOUT)
                ),
                loopback::Failure::Broken => "the connection failed".to_string(),
                loopback::Failure::TooLarge => {
                    crate::http::BodyError::TooLarge { limit: MAX_ANSWER }.to_string()
                }
            },
        })?;
        let status = StatusCode::from_u16(reply.status).map_err(|_| BaoError::Unreachable {
            addr: self.addr().to_string(),
            detail: "the connection failed".to_string(),
        })?;
        let text = zeroize::Zeroizing::new(String::from_utf8_lossy(&reply.body).into_owned());
        self.answer(status, &text)
    }

    /// The answer's JSON body (`Null` when empty or not JSON); a sealed server is an error.
    fn answer(&self, status: StatusCode, text: &str) -> Result<Answer, BaoError> {
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(text).unwrap_or(Value::Null)
        };
        if status == StatusCode::SERVICE_UNAVAILABLE && errors_mention(&body, "sealed") {
            return Err(BaoError::Sealed {
                addr: self.addr().to_string(),
            });
        }
        Ok(Answer { status, body })
    }
}

/// A token that cannot go in a header line as it is.
fn bad_token() -> BaoError {
    BaoError::NoToken("the token holds characters no HTTP header can carry".into())
}

/// Which certificates a client trusts.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Trust {
    /// The system's roots (https without a CA of its own).
    System,
    /// Only the CA in this PEM bundle: a keychain pointed at its own server trusts nothing else.
    OnlyCa(Vec<u8>),
    /// Plain http (loopback only, [`OpenBaoSettings::validate`]): no reqwest client at all;
    /// every call is one exchange on a `TcpStream` in the calling thread (`loopback`).
    ///
    /// [`OpenBaoSettings::validate`]: super::super::settings::OpenBaoSettings::validate
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
    pub(super) trust: Trust,
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
