//! The child's token endpoint: HTTP/1.1 on a Unix socket (0600, in the run's 0700 folder),
//! one request per connection.
//!
//! `GET /token` with `Authorization: Bearer $KEYCHAIN_TOKEN_AUTH` answers the current token as
//! `login --format json` prints it (`access_token`, `token_type`, `expires_at`, `expires_in`,
//! `scope`). A token still good is answered from memory, without a lock, a file or the audit
//! log (the engine logged it when it handed it out); one that is due is asked of the keeper,
//! and the request waits for its answer. Anything else: 401 (no or a wrong secret, compared in
//! constant time), 404, 405, or 503 with the error's class when no token can be had.
//!
//! One thread answers, one connection at a time: requests for the same token cannot overtake
//! each other, and a refresh is asked for once however many wait.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::{Failure, Shared};
use crate::error::Result;

/// The largest request head read; a longer one is refused.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request, or to read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request waits for the keeper's answer before it is told to try again.
const WAIT_FOR_KEEPER: Duration = Duration::from_secs(120);

/// The open endpoint: its socket and the thread that answers on it.
pub struct Endpoint {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Endpoint {
    /// Binds `token.sock` in `dir` (0600) and starts answering.
    pub(crate) fn open(dir: &Path, shared: Arc<Shared>, secret: SecretString) -> Result<Endpoint> {
        let path = dir.join("token.sock");
        let listener = UnixListener::bind(&path).map_err(|e| super::io_error("open", &path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| super::io_error("restrict", &path, e))?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("keychain-endpoint".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stopped.load(Ordering::Acquire) {
                        return;
                    }
                    if let Ok(stream) = stream {
                        // A client that misbehaves loses its own answer, nothing else.
                        let _ = serve(stream, &shared, &secret);
                    }
                }
            })
            .map_err(|e| super::io_error("start the endpoint for", &path, e))?;
        Ok(Endpoint {
            path,
            stop,
            thread: Some(thread),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops answering: the thread is woken by a connection of our own and joined, and the
    /// socket removed.
    pub(crate) fn close(mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = UnixStream::connect(&self.path);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One request, one answer.
fn serve(mut stream: UnixStream, shared: &Shared, secret: &SecretString) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let Some(head) = read_head(&mut stream)? else {
        return reply(
            &mut stream,
            400,
            "Bad Request",
            &error_json("bad-request", "no request"),
        );
    };
    let mut lines = head.split("\r\n");
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let authorized = lines
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"))
        .any(|(_, value)| bearer_matches(value.trim(), secret));
    if !authorized {
        return reply(
            &mut stream,
            401,
            "Unauthorized",
            &error_json(
                "unauthorized",
                "send Authorization: Bearer $KEYCHAIN_TOKEN_AUTH",
            ),
        );
    }
    let path = target.split('?').next().unwrap_or("");
    if path != "/token" {
        return reply(
            &mut stream,
            404,
            "Not Found",
            &error_json("not-found", "the only path is /token"),
        );
    }
    if method != "GET" {
        return reply(
            &mut stream,
            405,
            "Method Not Allowed",
            &error_json("method", "use GET"),
        );
    }
    match answer(shared) {
        Ok(body) => reply(&mut stream, 200, "OK", &body),
        Err(failure) => reply(
            &mut stream,
            503,
            "Service Unavailable",
            &zeroize::Zeroizing::new(
                serde_json::json!({
                    "ok": false,
                    "error": failure.code,
                    "exit_code": failure.exit_code,
                    "message": failure.message,
                })
                .to_string(),
            ),
        ),
    }
}

/// `Bearer SECRET`, the secret compared in constant time.
fn bearer_matches(value: &str, secret: &SecretString) -> bool {
    let Some((scheme, given)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && bool::from(
            given
                .trim()
                .as_bytes()
                .ct_eq(secret.expose_secret().as_bytes()),
        )
}

/// The current token as JSON, from memory while it is good; otherwise after the keeper's next
/// attempt.
fn answer(shared: &Shared) -> std::result::Result<zeroize::Zeroizing<String>, Failure> {
    let mut state = shared.lock();
    let mut asked = false;
    loop {
        let now = shared.clock.unix();
        if let Some(current) = &state.current {
            let good = current.expires_at.is_none_or(|e| e > now);
            // Good and not yet due; or good, and the keeper has been asked (or just failed, or
            // the child is ending): the best there is.
            let held_back = state
                .not_before
                .is_some_and(|t| std::time::Instant::now() < t);
            if good && (now < state.refresh_at || asked || held_back || state.done) {
                return Ok(token_json(current, now));
            }
        }
        if asked || state.done {
            return Err(failure_of(&state));
        }
        state.wanted = true;
        shared.changed.notify_all();
        let generation = state.generation;
        let (next, timeout) = shared
            .changed
            .wait_timeout_while(state, WAIT_FOR_KEEPER, |s| {
                s.generation == generation && !s.done
            })
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state = next;
        if timeout.timed_out() {
            return Err(failure_of(&state));
        }
        asked = true;
    }
}

fn failure_of(state: &super::State) -> Failure {
    state.failure.clone().unwrap_or(Failure {
        code: "unavailable",
        exit_code: crate::exit::UNAVAILABLE,
        message: "the token is being renewed; try again".into(),
    })
}

/// The document `login --format json` prints (tests/schemas/login.json), `"format"` first.
fn token_json(current: &super::Current, now: i64) -> zeroize::Zeroizing<String> {
    let body = zeroize::Zeroizing::new(
        serde_json::json!({
            "access_token": current.token.expose_secret(),
            "token_type": current.token_type,
            "expires_at": current.expires_at.map(crate::clock::rfc3339),
            "expires_in": current.expires_at.map(|e| e.saturating_sub(now).max(0)),
            "scope": current.scope,
            // `ok` in every document (issue 23), as `login --format json` writes it.
            "ok": true,
        })
        .to_string(),
    );
    // The JSON contract's version, as the CLI's `json::FORMAT`.
    zeroize::Zeroizing::new(format!("{{\"format\":1,{}", &body[1..]))
}

fn error_json(code: &str, message: &str) -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(
        serde_json::json!({ "ok": false, "error": code, "message": message }).to_string(),
    )
}

/// The request line and headers, up to the blank line; `None` when the client sent none.
fn read_head(stream: &mut UnixStream) -> std::io::Result<Option<zeroize::Zeroizing<String>>> {
    let mut head = zeroize::Zeroizing::new(Vec::with_capacity(512));
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
        buf.fill(0);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            head.truncate(end);
            return Ok(std::str::from_utf8(&head)
                .ok()
                .map(|s| zeroize::Zeroizing::new(s.to_string())));
        }
        if head.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

fn reply(stream: &mut UnixStream, status: u16, reason: &str, body: &str) -> std::io::Result<()> {
    let mut out = zeroize::Zeroizing::new(format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len() + 1
    ));
    out.push_str(body);
    out.push('\n');
    stream.write_all(out.as_bytes())?;
    stream.flush()
}
