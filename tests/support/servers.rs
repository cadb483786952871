//! Test support: real servers on loopback (LemonLDAP::NG, the Exact Online emulator) and a
//! TOTP source. No mocks: every test talks HTTP to a real server.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keychain::logon::{LogonError, TotpProvider};
use secrecy::SecretString;
use url::Url;

/// A LemonLDAP::NG portal of our own, on a free port, stopped when dropped.
pub struct Llng {
    pub url: Url,
    pub base: tempfile::TempDir,
    pid: u32,
}

impl Llng {
    /// Starts one via `start.sh`. Fails loudly when it cannot: a test that needs the identity
    /// provider must never pass without it.
    pub fn start() -> Llng {
        let script = std::env::var("KEYCHAIN_LLNG_START")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/idp/lemonldap/start.sh")
            });
        assert!(
            script.exists(),
            "LemonLDAP::NG start script not found at {} (set KEYCHAIN_LLNG_START)",
            script.display()
        );
        let port = free_port();
        let base = tempfile::tempdir().expect("temp dir");
        let out = Command::new("bash")
            .arg(&script)
            .env("PORT", port.to_string())
            .env("BASE", base.path())
            .env("ACCESS_TOKEN_TTL", "600")
            .output()
            .expect("run start.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let pid = stdout.lines().last().and_then(|l| l.trim().parse().ok());
        let (true, Some(pid)) = (out.status.success(), pid) else {
            panic!(
                "LemonLDAP::NG did not start on port {port}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        Llng {
            url: Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
            base,
            pid,
        }
    }

    /// Stops the portal and waits until its port refuses connections: after this, any request
    /// keychain makes to it fails.
    pub fn stop(&self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        let addr = (self.url.host_str().unwrap(), self.url.port().unwrap());
        for _ in 0..100 {
            if std::net::TcpStream::connect(addr).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("LemonLDAP::NG (pid {}) did not stop", self.pid);
    }

    /// Freezes the portal (SIGSTOP): connections are still accepted by the kernel and requests
    /// queue up unanswered, as with a provider that hangs mid-request.
    pub fn pause(&self) {
        let _ = Command::new("kill")
            .args(["-STOP", &self.pid.to_string()])
            .status();
    }

    /// Lets a paused portal go on (SIGCONT): it then serves what queued up meanwhile.
    pub fn resume(&self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.pid.to_string()])
            .status();
    }

    /// Token requests the portal has logged so far (refreshes and code exchanges alike).
    pub fn token_requests(&self) -> usize {
        self.log().matches("\"POST /oauth2/token ").count()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.base.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Llng {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

impl TotpProvider for TestTotp {
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
