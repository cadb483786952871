//! Issue 25, item 5: a neighbour on the loopback. A listener of another user (here `nobody`,
//! started with `setpriv`) on an account's loopback provider port receives nothing: no
//! password (logon page, form post), no refresh token, client secret or code (token endpoint);
//! keychain refuses with exit 2 and names the owner. Servers of our own uid (the stubs, the Exact
//! emulator, LemonLDAP::NG in the other modules) still work.

use crate::support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use keychain::oauth::{self, Endpoints, ErrorClass, TokenError};
use secrecy::SecretString;
use support::login::REDIRECT_URI;
use support::stub::{Answer, Stub};
use support::{Kc, assert_exit, stderr};
use url::Url;

const PASSWORD: &str = "pw-canary-Neighbour-4242";
const REFRESH_TOKEN: &str = "rt-canary-neighbour-0123456789";
const CLIENT_SECRET: &str = "cs-canary-neighbour-9876543210";

/// A tiny HTTP server run as `nobody` on a free loopback port: it answers every GET with a login
/// form, every POST with a token answer, and reports every byte it received.
const SERVER: &str = r#"
import socket, sys, threading
host = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
if host == "::":
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind((host, 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
form = b'<html><body><form method="post" action="/login"><input type="text" name="username"><input type="password" name="password"><input type="submit"></form></body></html>'
token = b'{"access_token":"at-from-nobody","token_type":"bearer","expires_in":600}'
def serve(c):
    c.settimeout(3)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
            print("RECV " + chunk.hex(), flush=True)
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        while len(body) < length:
            chunk = c.recv(65536)
            if not chunk:
                break
            body += chunk
            print("RECV " + chunk.hex(), flush=True)
        if data:
            if data.startswith(b"POST"):
                out, kind = token, b"application/json"
            else:
                out, kind = form, b"text/html"
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: " + kind + b"\r\nConnection: close\r\nContent-Length: " + str(len(out)).encode() + b"\r\n\r\n" + out)
    except Exception:
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

struct Neighbour {
    child: Child,
    host: &'static str,
    port: u16,
    received: Arc<Mutex<Vec<u8>>>,
}

impl Neighbour {
    fn start() -> Neighbour {
        Neighbour::on("127.0.0.1")
    }

    /// Listening on `host` (`127.0.0.1`, `::1`, or `::` for a dual-stack socket).
    fn on(host: &'static str) -> Neighbour {
        let mut child = Command::new("setpriv")
            .args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "/usr/bin/python3",
                "-u",
                "-c",
                SERVER,
                host,
            ])
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("setpriv and /usr/bin/python3 are needed to run a listener as nobody");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port: u16 = lines
            .next()
            .expect("the listener printed its port")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some(hex) = line.strip_prefix("RECV ") {
                    let bytes: Vec<u8> = (0..hex.len() / 2)
                        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                        .collect();
                    sink.lock().unwrap().extend(bytes);
                }
            }
        });
        Neighbour {
            child,
            host,
            port,
            received,
        }
    }

    fn url(&self, path: &str) -> String {
        match self.host {
            "::1" => format!("http://[::1]:{}{path}", self.port),
            // A dual-stack socket reached over IPv4: its accepted sockets are in tcp6, as
            // IPv4-mapped addresses.
            _ => format!("http://127.0.0.1:{}{path}", self.port),
        }
    }

    /// Everything the neighbour was sent, after a moment for its reports to arrive.
    fn received(&self) -> String {
        std::thread::sleep(std::time::Duration::from_millis(300));
        String::from_utf8_lossy(&self.received.lock().unwrap()).into_owned()
    }
}

impl Drop for Neighbour {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn add(kc: &Kc, auth: &str, token: &str, extra: &[&str]) {
    assert_exit(&support::login::add_oauth2(kc, auth, token, extra), 0);
}

fn assert_refused(out: &std::process::Output, neighbour: &Neighbour) {
    assert_exit(out, 2);
    let err = stderr(out);
    assert!(
        err.contains("belongs to another user") && err.contains("uid 65534"),
        "{err}"
    );
    assert!(
        err.contains(&format!("127.0.0.1:{}", neighbour.port)),
        "{err}"
    );
    assert!(err.contains("nothing was sent"), "{err}");
    assert_eq!(neighbour.received(), "", "the neighbour was sent a request");
}

#[test]
fn a_refresh_token_and_client_secret_are_not_sent_to_a_neighbours_port() {
    let neighbour = Neighbour::start();
    let kc = Kc::with_file_store();
    let rt = kc.file("rt", REFRESH_TOKEN);
    let cs = kc.file("cs", CLIENT_SECRET);
    add(
        &kc,
        &neighbour.url("/auth"),
        &neighbour.url("/token"),
        &[
            "--no-password",
            "--no-totp",
            "--refresh-token-file",
            rt.to_str().unwrap(),
            "--client-secret-file",
            cs.to_str().unwrap(),
        ],
    );
    let out = kc.run(&["login", "acct"]);
    assert_refused(&out, &neighbour);
    // The refresh token is kept: nothing was decided about it.
    assert_exit(&kc.run(&["show", "acct", "--reveal", "refresh-token"]), 0);
}

#[test]
fn a_password_is_not_sent_to_a_neighbours_logon_page() {
    let neighbour = Neighbour::start();
    let kc = Kc::with_file_store();
    let pw = kc.file("pw", PASSWORD);
    add(
        &kc,
        &neighbour.url("/auth"),
        &neighbour.url("/token"),
        &["--password-file", pw.to_str().unwrap(), "--no-totp"],
    );
    let out = kc.run(&["login", "acct"]);
    assert_refused(&out, &neighbour);
}

/// Our own server serves the logon page; its form posts to the neighbour's port on the same
/// host (which the host rule allows): the post is refused on its connection.
#[test]
fn a_logon_form_posting_to_a_neighbours_port_is_refused() {
    let neighbour = Neighbour::start();
    let action = neighbour.url("/login");
    let stub = Stub::start(move |_| {
        Answer::html(&format!(
            r#"<html><body><form method="post" action="{action}">
            <input type="text" name="username"><input type="password" name="password">
            <input type="submit" value="Log on"></form></body></html>"#
        ))
    });
    let kc = Kc::with_file_store();
    let pw = kc.file("pw", PASSWORD);
    add(
        &kc,
        &stub.url("/auth"),
        &stub.url("/token"),
        &["--password-file", pw.to_str().unwrap(), "--no-totp"],
    );
    let out = kc.run(&["login", "acct"]);
    assert_refused(&out, &neighbour);
    // Our own server was asked for the page: the check lets our uid's servers through.
    assert!(!stub.seen().is_empty());
    assert_eq!(stub.carrying(PASSWORD), 0);
}

/// The token endpoint's every call, through the library: a code exchange and a refresh go to
/// the neighbour's port; both are refused as policy, nothing sent.
#[test]
fn a_code_exchange_and_a_refresh_are_not_sent_to_a_neighbours_token_endpoint() {
    let neighbour = Neighbour::start();
    let endpoints = Endpoints {
        authorize: Url::parse(&neighbour.url("/auth")).unwrap(),
        token: Url::parse(&neighbour.url("/token")).unwrap(),
    };
    let guard = oauth::Guard::for_endpoints(&endpoints);
    let client = oauth::http::client().unwrap();
    let s = |v: &str| SecretString::from(v.to_string());
    let exchanged = oauth::exchange_code(
        &client,
        &endpoints,
        &guard,
        "cli",
        Some(&s(CLIENT_SECRET)),
        &s("code-canary-1234567890"),
        &s("verifier-canary-1234567890"),
        &Url::parse(REDIRECT_URI).unwrap(),
    );
    let refreshed = oauth::refresh(
        &client,
        &endpoints,
        &guard,
        "cli",
        Some(&s(CLIENT_SECRET)),
        &s(REFRESH_TOKEN),
    );
    for result in [exchanged, refreshed] {
        match result {
            Err(e @ TokenError::Policy(_)) => {
                assert_eq!(e.class(), ErrorClass::Policy);
                assert!(e.to_string().contains("uid 65534"), "{e}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(neighbour.received(), "", "the neighbour was sent a request");

    // The same calls to a server of our own uid go through.
    let stub = Stub::start(|_| {
        Answer::json(
            200,
            r#"{"access_token":"at-ours","token_type":"bearer","expires_in":600}"#,
        )
    });
    let ours = Endpoints {
        authorize: Url::parse(&stub.url("/auth")).unwrap(),
        token: Url::parse(&stub.url("/token")).unwrap(),
    };
    oauth::refresh(
        &client,
        &ours,
        &oauth::Guard::for_endpoints(&ours),
        "cli",
        Some(&s(CLIENT_SECRET)),
        &s(REFRESH_TOKEN),
    )
    .expect("our own server answers");
}

/// The same over IPv6 (`/proc/net/tcp6`) and through a dual-stack socket reached over IPv4
/// (its accepted socket is in tcp6 with IPv4-mapped addresses).
#[test]
fn a_neighbour_on_the_ipv6_loopback_or_a_dual_stack_socket_is_refused_too() {
    for host in ["::1", "::"] {
        let neighbour = Neighbour::on(host);
        let endpoints = Endpoints {
            authorize: Url::parse(&neighbour.url("/auth")).unwrap(),
            token: Url::parse(&neighbour.url("/token")).unwrap(),
        };
        let client = oauth::http::client().unwrap();
        let refreshed = oauth::refresh(
            &client,
            &endpoints,
            &oauth::Guard::for_endpoints(&endpoints),
            "cli",
            Some(&SecretString::from(CLIENT_SECRET.to_string())),
            &SecretString::from(REFRESH_TOKEN.to_string()),
        );
        match refreshed {
            Err(e @ TokenError::Policy(_)) => {
                assert!(e.to_string().contains("uid 65534"), "{host}: {e}")
            }
            other => panic!("{host}: expected a refusal, got {other:?}"),
        }
        assert_eq!(
            neighbour.received(),
            "",
            "{host}: the neighbour was sent a request"
        );
    }
}
