//! Helpers for the `keychain login` tests: an Exact Online emulator whose clock and keychain's
//! move together (keychain's through libfaketime, so production code has no test hooks), and
//! accounts pointed at it.

use std::path::Path;
use std::process::Output;

use super::Kc;
use super::exact_emulator::{Config, Emulator, SecretFiles, Stats};

pub const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
pub const REDIRECT_URI: &str = super::exact_emulator::CALLBACK;

/// `keychain add acct`: a plain OAuth2 account (client `cli`, user `alice`) with its authorize
/// and token endpoints at `auth` and `token`, `extra` flags after. Off a terminal each secret is
/// given or declined, so a client secret or TOTP secret `extra` does not give is declined.
pub fn add_oauth2(kc: &Kc, auth: &str, token: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "add",
        "acct",
        "--provider",
        "oauth2",
        "--authorize-url",
        auth,
        "--token-url",
        token,
        "--client-id",
        "cli",
        "--redirect-uri",
        REDIRECT_URI,
        "--user",
        "alice",
    ];
    args.extend_from_slice(extra);
    if !extra.iter().any(|a| a.contains("client-secret")) {
        args.push("--no-client-secret");
    }
    if !extra
        .iter()
        .any(|a| a.starts_with("--totp") || *a == "--no-totp")
    {
        args.push("--no-totp");
    }
    kc.run(&args)
}

/// Tests that move keychain's clock fail loudly without libfaketime: they must never pass
/// without having tested anything.
pub fn require_faketime() {
    assert!(
        Path::new(FAKETIME_LIB).exists(),
        "libfaketime not found at {FAKETIME_LIB}: install the Debian package faketime (scripts/install-test-deps)"
    );
}

/// The emulator, and how far its clock (and so keychain's) has been moved forward.
pub struct Exact {
    pub emu: Emulator,
    pub config: Config,
    pub offset: i64,
    client: reqwest::blocking::Client,
}

impl Exact {
    pub fn start(config: Config) -> Exact {
        require_faketime();
        Exact {
            emu: Emulator::start(config.clone()),
            config,
            offset: 0,
            client: keychain::oauth::http::client().unwrap(),
        }
    }

    fn admin(&self, method: &str, path: &str) -> serde_json::Value {
        let url = self.emu.base.join(path).unwrap();
        let req = if method == "GET" {
            self.client.get(url)
        } else {
            self.client.post(url)
        };
        req.send().unwrap().json().unwrap()
    }

    /// Moves the emulator's clock and keychain's (for the next commands) forward.
    pub fn advance(&mut self, seconds: i64) {
        self.admin("POST", &format!("__admin/advance?seconds={seconds}"));
        self.offset += seconds;
    }

    pub fn stats(&self) -> Stats {
        let v = self.admin("GET", "__admin/stats");
        let n = |k: &str| v[k].as_u64().unwrap() as u32;
        Stats {
            requests: n("requests"),
            token_requests: n("token_requests"),
            refreshes: n("refreshes"),
            logons: n("logons"),
            password_attempts: n("password_attempts"),
            totp_attempts: n("totp_attempts"),
            totp_reused: n("totp_reused"),
            errors: n("errors"),
        }
    }

    pub fn rate_limited_with_token(&self, on: bool) {
        self.admin("POST", &format!("__admin/rate-limited-with-token?on={on}"));
    }

    pub fn url(&self, path: &str) -> String {
        self.emu.base.join(path).unwrap().to_string()
    }

    /// Adds an exact-nl account pointed at the emulator, secrets from files.
    pub fn add(&self, kc: &Kc, name: &str, password: &str) {
        let pw = kc.file(&format!("{name}.pw"), &format!("{password}\n"));
        let totp = kc.file(&format!("{name}.totp"), &self.totp_text());
        let cs = kc.file(&format!("{name}.cs"), &self.config.client_secret);
        let files = SecretFiles {
            password: &pw,
            totp: &totp,
            client_secret: &cs,
        };
        let args = self.emu.add_args(&self.config, name, &files);
        kc.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }

    /// The TOTP secret as `add --totp-file` reads it: the base32 seed, or an otpauth URI when
    /// the emulator's period is not the default 30 s.
    pub fn totp_text(&self) -> String {
        totp_text(&self.config)
    }

    /// A keychain command on the emulator's clock.
    pub fn cmd(&self, kc: &Kc) -> assert_cmd::Command {
        let mut cmd = kc.cmd();
        faked(&mut cmd, self.offset);
        cmd
    }

    pub fn std_cmd(&self, kc: &Kc) -> std::process::Command {
        let mut cmd = kc.std_cmd();
        cmd.env("LD_PRELOAD", FAKETIME_LIB)
            .env("FAKETIME", format!("{:+}s", self.offset))
            .env("FAKETIME_DONT_RESET", "1")
            // A machine whose clock is off has it off on the wall clock only: libfaketime would
            // move CLOCK_MONOTONIC too, and the kernel's timed waits (a lease renewer's
            // recv_timeout) would then be off by the offset, which no real machine sees.
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        cmd
    }

    pub fn run(&self, kc: &Kc, args: &[&str]) -> Output {
        self.cmd(kc).args(args).output().unwrap()
    }

    /// Runs on the emulator's clock and asserts success; returns stdout.
    pub fn ok(&self, kc: &Kc, args: &[&str]) -> String {
        let out = self.run(kc, args);
        super::assert_success(&out, args);
        String::from_utf8(out.stdout).unwrap()
    }
}

fn faked(cmd: &mut assert_cmd::Command, offset: i64) {
    cmd.env("LD_PRELOAD", FAKETIME_LIB)
        .env("FAKETIME", format!("{offset:+}s"))
        .env("FAKETIME_DONT_RESET", "1")
        // A machine whose clock is off has it off on the wall clock only: libfaketime would
        // move CLOCK_MONOTONIC too, and the kernel's timed waits (a lease renewer's
        // recv_timeout) would then be off by the offset, which no real machine sees.
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
}

/// Puts an already used refresh token back, as an officer restoring an old backup would
/// (through keychain: copying an old record file back is a replay, refused with exit 7).
pub fn put_back_refresh_token(kc: &Kc, name: &str, token: &str) {
    let file = kc.file("stale-refresh-token.txt", token);
    kc.ok(&["set", name, "--refresh-token-file", file.to_str().unwrap()]);
}

/// The emulator's TOTP secret as a file for `--totp-file`: the seed, or an otpauth URI that
/// carries a period other than 30 s.
pub fn totp_text(config: &Config) -> String {
    if config.totp_period == 30 {
        config.totp_secret.clone()
    } else {
        format!(
            "otpauth://totp/Exact:user?secret={}&period={}",
            config.totp_secret, config.totp_period
        )
    }
}
