//! The wire under a [`KvClient`]: one keep-alive client of reqwest's async API per process and
//! trust (built at the first call, and never torn down: see [`CLIENTS`] and [`Http`]), driven
//! on a current-thread tokio runtime in the calling thread ([`RUNTIME`]), and the one place a
//! call is sent and its answer read.
//!
//! Why not reqwest's blocking client: it runs a tokio runtime on a thread of its own, started
//! at the first call of a process, and hands every request to that thread and the answer back
//! (thread start, futex wake-ups, an epoll loop). On a cached `login` (a 3 ms process) that was
//! a large share of what the shared store costs over the local one (issue 20, item 7). Here the
//! thread that needs an answer runs the runtime itself (`block_on`) for as long as its call
//! takes: no runtime thread, no hand-off, for http and https alike. Two calls overlap without a
//! thread: one started ([`KvClient::start`], a cached `login`'s witness read) is a task of the
//! runtime, on the wire while the thread does its own work, driven again whenever the thread
//! waits for its next call (the write), and answered at [`KvClient::finish`]. Two threads may still
//! call at once: tokio lets one of them drive the connections while the other waits for its turn,
//! on the same runtime.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use reqwest::Client;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use zeroize::Zeroizing;

use super::{Answer, BaoError, CONNECT_TIMEOUT, KvClient, REQUEST_TIMEOUT, errors_mention};

/// Largest answer read: a record is at most 16 MiB, 22 MiB in base64, plus the envelope.
const MAX_ANSWER: u64 = 32 << 20;

/// The process's runtime for every OpenBao call: current-thread (it starts no thread), built at
/// the first call and never dropped (nothing to shut down on the way out).
static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();

/// How many turns of [`RUNTIME`] a started call gets before [`KvClient::start`] returns: each
/// turn runs what is ready and polls the sockets without waiting (no sleep). On loopback the
/// connect, the connection's task and the request's write take two (strace); twice that for
/// margin, each turn more costs one poll. Too few would only leave the request to be sent at
/// the thread's next wait on the store: later, never wrong.
const PRIME_TURNS: usize = 4;

/// How many calls [`KvClient::start`] sent whose answers are not in yet.
static UNANSWERED: AtomicUsize = AtomicUsize::new(0);

/// At most this many turns of [`RUNTIME`] before a call, for a started call's answer to be
/// taken in (each turn polls the sockets without waiting).
const SETTLE_TURNS: usize = 8;

/// Before a call is sent: lets a started call whose answer is already on the socket finish
/// (a few turns of the runtime, none if nothing was started), so that its keep-alive
/// connection is back in the pool and the call goes out on it, instead of on a new connection
/// the store must accept (a cached `login`'s write after its witness read: issue 20, item 7).
/// An answer not in yet is not waited for: the call then opens a connection of its own.
fn settle_started(runtime: &tokio::runtime::Runtime) {
    if UNANSWERED.load(Ordering::SeqCst) == 0 {
        return;
    }
    runtime.block_on(async {
        for _ in 0..SETTLE_TURNS {
            if UNANSWERED.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
    });
}

/// A call [`KvClient::start`] sent: its task on [`RUNTIME`].
pub(super) struct Started {
    task: tokio::task::JoinHandle<Result<(StatusCode, Zeroizing<String>), BaoError>>,
}

fn runtime() -> Result<&'static tokio::runtime::Runtime, BaoError> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| BaoError::Settings(format!("cannot set up the HTTP client: {e}")))
}

impl KvClient {
    pub(super) fn send(
        &self,
        method: Method,
        api: &str,
        body: Option<&Value>,
        token: Option<&SecretString>,
    ) -> Result<Answer, BaoError> {
        let runtime = runtime()?;
        settle_started(runtime);
        let exchange = self.exchange(method, api, body, token)?;
        let (status, text) = runtime.block_on(exchange)?;
        self.answer(status, &text)
    }

    /// [`Self::send`], sent now and answered at [`Self::finish`]: the call runs on [`RUNTIME`]
    /// whenever this thread drives it (any later `block_on` of this process, the next call's
    /// included), so the caller's own work and its next call overlap this one's round trip,
    /// without a thread. The runtime is turned a few times here ([`PRIME_TURNS`]) so that the
    /// connection is made and the request is on the wire before this returns.
    ///
    /// Nothing about the call changes: the same request, sent once, with the same deadline (it
    /// counts from now), the same cap and checks on the answer, the store's `Date` observed as
    /// on every call (the reading's spread is from sending to the moment the answer was taken
    /// in, so it can only be wider, never wrong). A started call never waited for is dropped
    /// with the process, its answer unread.
    pub(super) fn start(
        &self,
        method: Method,
        api: &str,
        body: Option<&Value>,
        token: Option<&SecretString>,
    ) -> Result<Started, BaoError> {
        let runtime = runtime()?;
        settle_started(runtime);
        let exchange = self.exchange(method, api, body, token)?;
        UNANSWERED.fetch_add(1, Ordering::SeqCst);
        let task = runtime.spawn(async move {
            let answer = exchange.await;
            UNANSWERED.fetch_sub(1, Ordering::SeqCst);
            answer
        });
        runtime.block_on(async {
            for _ in 0..PRIME_TURNS {
                tokio::task::yield_now().await;
            }
        });
        Ok(Started { task })
    }

    /// The answer of a call [`Self::start`] sent, waited for if it has not come yet.
    pub(super) fn finish(&self, started: Started) -> Result<Answer, BaoError> {
        let (status, text) =
            runtime()?
                .block_on(started.task)
                .map_err(|_| BaoError::Unreachable {
                    addr: self.addr().to_string(),
                    detail: "the connection failed".into(),
                })??;
        self.answer(status, &text)
    }

    /// One call as a future of its own (it borrows nothing, so it can also run as a task of
    /// [`RUNTIME`]): sent once, its answer's status and body (capped).
    fn exchange(
        &self,
        method: Method,
        api: &str,
        body: Option<&Value>,
        token: Option<&SecretString>,
    ) -> Result<
        impl Future<Output = Result<(StatusCode, Zeroizing<String>), BaoError>> + use<>,
        BaoError,
    > {
        let url = self
            .inner
            .base
            .join(&format!("v1/{api}"))
            .map_err(|_| BaoError::Settings(format!("cannot form a URL for {api}")))?;
        let mut request = self.inner.http.get()?.request(method, url);
        if let Some(token) = token {
            let mut value =
                HeaderValue::from_str(token.expose_secret()).map_err(|_| bad_token())?;
            value.set_sensitive(true);
            request = request.header("X-Vault-Token", value);
        }
        if let Some(body) = body {
            // The body may carry a secret id or a sealed record: encoded into a zeroized
            // buffer that reqwest owns until the request is sent, and zeroized when it drops it.
            let json = Zeroizing::new(
                serde_json::to_vec(body)
                    .map_err(|_| BaoError::Settings("cannot encode a request body".into()))?,
            );
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(bytes::Bytes::from_owner(json));
        }
        let addr = self.addr().to_string();
        Ok(async move {
            let unreachable = |detail: String| BaoError::Unreachable {
                addr: addr.clone(),
                detail,
            };
            let sent = std::time::SystemTime::now();
            let response = request
                .send()
                .await
                .map_err(|e| unreachable(transport_detail(&e)))?;
            // The store's clock is a shared keychain's reference for token times (issue 19).
            let date = response.headers().get(reqwest::header::DATE);
            let date = date.and_then(|d| d.to_str().ok());
            crate::clock::reference::observe(date, sent, std::time::SystemTime::now());
            let status = response.status();
            let text = crate::http::read_capped_async(response, MAX_ANSWER)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            Ok((status, text))
        })
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
    /// Plain http (loopback only, [`OpenBaoSettings::validate`]): no certificate at all, and a
    /// name resolves to its loopback addresses only ([`LoopbackOnly`]).
    ///
    /// [`OpenBaoSettings::validate`]: super::super::settings::OpenBaoSettings::validate
    NoTls,
}

/// The process's HTTP clients, one per [`Trust`], built once and kept until the process ends:
/// every `KvClient` of the process shares one (and its keep-alive connections, which live on
/// [`RUNTIME`]), and none is ever dropped.
static CLIENTS: Mutex<Vec<(Trust, Client)>> = Mutex::new(Vec::new());

/// The process's client for one [`Trust`], taken from [`CLIENTS`] or built at the first call,
/// by the thread that makes it (on a cached `login`'s fast path, before its witness read is
/// sent).
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
    let mut builder = crate::http::async_builder()
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
        Trust::NoTls => {
            builder = builder
                .tls_certs_only(Vec::new())
                .dns_resolver(LoopbackOnly)
        }
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    clients.push((trust.clone(), client.clone()));
    Ok(client)
}

/// The resolver of the plain-http client: a name (only `localhost` passes
/// [`OpenBaoSettings::validate`]) resolves to its loopback addresses alone, so that a
/// `localhost` that some resolver maps elsewhere never sends the token off this machine in the
/// clear. (An address in the URL is not resolved; `validate` allowed only loopback ones.)
///
/// [`OpenBaoSettings::validate`]: super::super::settings::OpenBaoSettings::validate
struct LoopbackOnly;

impl reqwest::dns::Resolve for LoopbackOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        // `localhost` comes from the hosts file: resolved here, without a blocking-pool thread.
        let found = (name.as_str(), 0).to_socket_addrs().map(|addrs| {
            addrs
                .filter(|a| a.ip().is_loopback())
                .collect::<Vec<SocketAddr>>()
        });
        Box::pin(async move {
            match found {
                Ok(addrs) if !addrs.is_empty() => {
                    Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
                }
                Ok(_) => Err("the host has no loopback address".into()),
                Err(e) => Err(e.into()),
            }
        })
    }
}

/// What went wrong on the wire, in words: refused, timed out, TLS.
fn transport_detail(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!(
            "no answer within {}",
            crate::text::duration(REQUEST_TIMEOUT)
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    use super::super::super::settings::{AuthSettings, OpenBaoSettings};
    use super::KvClient;

    /// The request head a plain HTTP server on `listener` receives next (read with a deadline:
    /// a request that never comes fails the test instead of hanging it).
    fn next_request(listener: &TcpListener) -> (std::net::TcpStream, String) {
        listener.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut conn = loop {
            match listener.accept() {
                Ok((conn, _)) => break conn,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "no connection without anyone waiting for the answer"
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        conn.set_nonblocking(false).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            conn.read_exact(&mut byte)
                .expect("the request arrives without anyone waiting for its answer");
            head.push(byte[0]);
        }
        (conn, String::from_utf8(head).unwrap())
    }

    #[test]
    fn a_started_read_is_on_the_wire_before_its_answer_is_waited_for() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "s.a-test-token\n").unwrap();
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let client = KvClient::new(&OpenBaoSettings {
            addr: format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port()),
            mount: "kv".into(),
            path: "team".into(),
            ca_cert: None,
            auth: AuthSettings::TokenFile { token_file },
        })
        .unwrap();

        let started = client.start_read("kv", "team/audit/3").unwrap();
        // Nothing drives the client now: the request must already be sent.
        let (mut conn, head) = next_request(&listener);
        assert!(
            head.starts_with("GET /v1/kv/data/team/audit/3 HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains("x-vault-token: s.a-test-token\r\n"),
            "{head}"
        );
        let body = r#"{"data":{"data":{"value":"aGk="},"metadata":{"version":4}}}"#;
        write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        // Its answer, taken now, is what a plain read gives.
        let entry = client.finish_read(started).unwrap();
        assert_eq!(entry.version, 4);
        let data = entry.data.unwrap();
        assert_eq!(data["value"], "aGk=");
    }
}
