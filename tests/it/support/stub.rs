//! A misbehaving provider on 127.0.0.1, for what LemonLDAP::NG and the Exact emulator cannot be
//! made to do: a WAF's 403, a proxy's 407, a moved endpoint's 404, an answer of absurd size or
//! numbers, a `Date` a year ahead, a login page that sends the password elsewhere.
//!
//! Each test gives one function that answers every request; the stub records what it was sent
//! (method, path with query, body), so a test can count password attempts.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tiny_http::{Header, Response, Server};

/// One request as the stub saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub url: String,
    pub body: String,
}

/// What to answer.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Sent without a Content-Length (chunked), so the reader cannot know the size up front.
    pub chunked: bool,
}

impl Answer {
    pub fn json(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            chunked: false,
        }
    }

    pub fn html(body: &str) -> Answer {
        Answer {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: body.as_bytes().to_vec(),
            chunked: false,
        }
    }

    pub fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
            chunked: false,
        }
    }

    pub fn redirect(status: u16, location: &str) -> Answer {
        Answer {
            status,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
            chunked: false,
        }
    }

    pub fn chunked(mut self) -> Answer {
        self.chunked = true;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Handler = dyn Fn(&Seen) -> Answer + Send + Sync;

pub struct Stub {
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
}

impl Stub {
    /// Serves `handler` on a free port of 127.0.0.1 until dropped.
    pub fn start(handler: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Stub {
        let server = Arc::new(super::loopback_http::server(0));
        let base = format!("http://{}", server.server_addr().to_ip().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (s, log) = (server.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            for mut request in s.incoming_requests() {
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let req = Seen {
                    method: request.method().to_string(),
                    url: request.url().to_string(),
                    body,
                };
                log.lock().unwrap().push(req.clone());
                let answer = handler(&req);
                let headers = answer
                    .headers
                    .iter()
                    .map(|(k, v)| Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap())
                    .collect();
                let length = (!answer.chunked).then_some(answer.body.len());
                let response = Response::new(
                    answer.status.into(),
                    headers,
                    std::io::Cursor::new(answer.body),
                    length,
                    None,
                );
                let _ = request.respond(response);
            }
        });
        Stub {
            base,
            seen,
            server,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Requests whose body or URL carries `value`.
    pub fn carrying(&self, value: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.body.contains(value) || s.url.contains(value))
            .count()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
