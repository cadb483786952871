//! Test support: real servers on loopback (LemonLDAP::NG, the Exact Online emulator) and a
//! TOTP source. No mocks: every test talks HTTP to a real server. Every server listens on a port
//! the kernel chose (port 0) and that was never let go before the server had it.

use std::fs::File;
use std::net::TcpListener;
use std::ops::Deref;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use keychain::logon::{LogonError, TotpSource};
use secrecy::SecretString;
use url::Url;

/// A LemonLDAP::NG portal on 127.0.0.1, on a port this process bound (port 0) and handed over
/// while still holding it, so that no other process can take it in between.
pub struct Llng {
    pub url: Url,
    pub base: tempfile::TempDir,
    server: Mutex<Child>,
    /// Never written to: when this process ends, however it ends, the portal sees end of file
    /// and stops (`llng_serve.pl`). What stops the shared portal, whose `Drop` never runs.
    _lifeline: std::io::PipeWriter,
    shared: bool,
}

/// The portal the tests of one run share: started on first use, stopped when the run ends.
static SHARED: OnceLock<Llng> = OnceLock::new();
/// Turns on the shared portal: tests that only log on share it; a test that reads its log has it
/// to itself, so that every line after its mark is its own.
static TURNS: RwLock<()> = RwLock::new(());

impl Llng {
    /// A portal of this test's own: for a test that stops it. Fails loudly when it cannot start:
    /// a test that needs the identity provider must never pass without it.
    pub fn start() -> Llng {
        Llng::launch(false, None)
    }

    /// A portal of this test's own whose clock is moved by libfaketime: it reads the offset
    /// (`+Ns`) from `offset_file` at every clock call, so a test moves it by rewriting the file.
    pub fn start_on_clock(offset_file: &std::path::Path) -> Llng {
        Llng::launch(false, Some(offset_file))
    }

    /// The shared portal, for a test that logs on but never reads the log. Give each such test
    /// its own keychain: the portal keeps no state per user that two logons could collide on
    /// (no TOTP replay check, no brute-force lockout, one session per logon).
    pub fn shared() -> Turn {
        let guard = TURNS.read().unwrap_or_else(PoisonError::into_inner);
        Turn {
            llng: SHARED.get_or_init(|| Llng::launch(true, None)),
            log_from: None,
            _guard: Guard::Shared(guard),
        }
    }

    /// The shared portal to this test alone until the value is dropped, for a test that counts
    /// what reached it: `log()` then holds only this test's lines.
    pub fn exclusive() -> Turn {
        let guard = TURNS.write().unwrap_or_else(PoisonError::into_inner);
        let llng = SHARED.get_or_init(|| Llng::launch(true, None));
        Turn {
            llng,
            log_from: Some(llng.log_bytes().len()),
            _guard: Guard::Exclusive(guard),
        }
    }

    fn launch(shared: bool, offset_file: Option<&std::path::Path>) -> Llng {
        let scripts = std::env::var("KEYCHAIN_LLNG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/idp/lemonldap")
            });
        let setup = scripts.join("setup.sh");
        assert!(
            setup.exists(),
            "LemonLDAP::NG scripts not found in {} (set KEYCHAIN_LLNG_DIR)",
            scripts.display()
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let base = tempfile::tempdir().expect("temp dir");
        // What start.sh does before it starts the portal; the portal itself it starts on a
        // port it can only name, so it is started here instead, on the socket bound above.
        let out = Command::new("bash")
            .arg(&setup)
            .env("PORT", port.to_string())
            .env("BASE", base.path())
            .env("ACCESS_TOKEN_TTL", "600")
            .output()
            .expect("run setup.sh");
        assert!(
            out.status.success(),
            "LemonLDAP::NG setup failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = File::create(base.path().join("server.log")).expect("server.log");
        let (lifeline_end, lifeline) = std::io::pipe().expect("pipe");
        let mut serve = Command::new("perl");
        serve
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/llng_serve.pl"))
            .arg(base.path().join("app.psgi"));
        if shared {
            // Its TempDir is never dropped: the portal removes the folder when it stops.
            serve.arg(base.path());
        }
        if let Some(file) = offset_file {
            serve
                .env("LD_PRELOAD", super::login::FAKETIME_LIB)
                .env("FAKETIME_TIMESTAMP_FILE", file)
                .env("FAKETIME_NO_CACHE", "1");
        }
        let server = serve
            .env("LLNG_DEFAULTCONFFILE", base.path().join("lemonldap-ng.ini"))
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)))
            .stdout(Stdio::from(lifeline_end))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("run perl");
        // The command held this process's copy of the socket: with it gone, the port closes
        // when the portal stops, which `stop()` relies on.
        drop(serve);
        let llng = Llng {
            url: Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
            base,
            server: Mutex::new(server),
            _lifeline: lifeline,
            shared,
        };
        llng.wait_until_ready();
        llng
    }

    /// Until the discovery document answers. The port already listens, so a request waits in
    /// the backlog while the portal loads; only its death ends the wait early.
    fn wait_until_ready(&self) {
        // Not keychain's user agent: tests count the requests keychain made.
        let client = keychain::http::builder()
            .timeout(Duration::from_secs(5))
            .user_agent("readiness-check")
            .build()
            .unwrap();
        let discovery = self.url.join(".well-known/openid-configuration").unwrap();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(answer) = client.get(discovery.clone()).send()
                && answer.status().is_success()
            {
                return;
            }
            let exited = self.server.lock().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "LemonLDAP::NG did not start on {} ({exited:?}); its log:\n{}",
                self.url,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the portal and waits until its port refuses connections: after this, any request
    /// keychain makes to it fails.
    pub fn stop(&self) {
        assert!(
            !self.shared,
            "the shared portal serves other tests: use Llng::start()"
        );
        self.kill();
        let addr = (self.url.host_str().unwrap(), self.url.port().unwrap());
        for _ in 0..100 {
            if std::net::TcpStream::connect(addr).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("LemonLDAP::NG ({}) did not stop", self.url);
    }

    /// Freezes the portal (SIGSTOP): connections are still accepted by the kernel and requests
    /// queue up unanswered, as with a provider that hangs mid-request.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused portal go on (SIGCONT): it then serves what queued up meanwhile.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Token requests the portal has logged so far (refreshes and code exchanges alike).
    pub fn token_requests(&self) -> usize {
        self.log().matches("\"POST /oauth2/token ").count()
    }

    fn signal(&self, signal: &str) {
        assert!(
            !self.shared,
            "the shared portal serves other tests: use Llng::start()"
        );
        let pid = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .id();
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    pub fn log(&self) -> String {
        assert!(
            !self.shared,
            "the shared portal's log holds other tests' lines: use Llng::exclusive()"
        );
        String::from_utf8_lossy(&self.log_bytes()).into_owned()
    }

    fn log_bytes(&self) -> Vec<u8> {
        std::fs::read(self.base.path().join("server.log")).unwrap_or_default()
    }

    fn kill(&self) {
        let mut server = self.server.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = server.kill();
        let _ = server.wait();
    }
}

impl Drop for Llng {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A turn on the shared portal ([`Llng::shared`], [`Llng::exclusive`]).
pub struct Turn {
    llng: &'static Llng,
    /// Where this test's lines of the log start; `None` while other tests use the portal too.
    log_from: Option<usize>,
    _guard: Guard,
}

enum Guard {
    Shared(RwLockReadGuard<'static, ()>),
    Exclusive(RwLockWriteGuard<'static, ()>),
}

impl Turn {
    /// The portal's log since this test took it.
    pub fn log(&self) -> String {
        let from = self
            .log_from
            .expect("other tests write to the shared portal's log: take it with Llng::exclusive()");
        String::from_utf8_lossy(&self.llng.log_bytes()[from..]).into_owned()
    }
}

impl Deref for Turn {
    type Target = Llng;
    fn deref(&self) -> &Llng {
        self.llng
    }
}

/// A port of 127.0.0.1 that refuses connections while this value lives: bound, so the kernel
/// gives it to no one else, but never listening. For "the provider is unreachable" tests.
pub struct ClosedPort {
    pub port: u16,
    _socket: socket2::Socket,
}

pub fn closed_port() -> ClosedPort {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .expect("a TCP socket");
    // No SO_REUSEADDR: another bind to this port fails while it is held.
    socket
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind 127.0.0.1:0");
    let port = socket
        .local_addr()
        .unwrap()
        .as_socket()
        .expect("an IP address")
        .port();
    ClosedPort {
        port,
        _socket: socket,
    }
}

/// RFC 6238 codes from a base32 secret. Never hands out two codes for the same time step: it
/// waits for the next step instead, as a real caller must.
pub struct TestTotp {
    totp: totp_rs::Totp,
    last_step: Option<u64>,
    /// Added to the time: a wrong offset makes wrong codes.
    pub skew: i64,
    /// Every code handed out, to search debug pages for.
    pub handed_out: Vec<String>,
    /// The provider times the engine passed in.
    pub asked_at: Vec<u64>,
}

impl TestTotp {
    pub fn new(base32: &str) -> Self {
        let secret = totp_rs::Secret::try_from_base32(base32).unwrap();
        TestTotp {
            totp: totp_rs::Builder::new()
                .with_secret(secret)
                .build_noncompliant(),
            last_step: None,
            skew: 0,
            handed_out: Vec::new(),
            asked_at: Vec::new(),
        }
    }

    /// A source whose codes are all wrong (an hour off).
    pub fn wrong(base32: &str) -> Self {
        TestTotp {
            skew: 3600,
            ..TestTotp::new(base32)
        }
    }
}

impl TotpSource for TestTotp {
    fn code(&mut self, provider_unix_time: u64) -> Result<SecretString, LogonError> {
        self.asked_at.push(provider_unix_time);
        let mut t = provider_unix_time;
        if self.last_step == Some(t / 30) {
            let wait = 30 - t % 30;
            std::thread::sleep(Duration::from_secs(wait));
            t += wait;
        }
        self.last_step = Some(t / 30);
        let code = self
            .totp
            .generate((t as i64 + self.skew) as u64)
            .to_string();
        self.handed_out.push(code.clone());
        Ok(SecretString::from(code))
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_closed_port_refuses_connections_and_no_one_else_can_bind_it() {
    let closed = closed_port();
    let err = std::net::TcpStream::connect(("127.0.0.1", closed.port)).expect_err("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    let err = TcpListener::bind(("127.0.0.1", closed.port)).expect_err("taken");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
}
