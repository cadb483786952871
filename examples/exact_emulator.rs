//! Runs the Exact Online emulator used by the tests, for demos and manual runs.
//!
//! Prints its port on the first line of stdout, then serves until killed. Settings come from
//! the environment (`EXACT_EMU_USER`, `EXACT_EMU_PASSWORD`, `EXACT_EMU_TOTP_SECRET`,
//! `EXACT_EMU_CLIENT_ID`, `EXACT_EMU_CLIENT_SECRET`, `EXACT_EMU_RATE_LIMITED_WITH_TOKEN`,
//! `EXACT_EMU_TOTP_PERIOD`) and
//! an optional `--port N` (default 0: any free port).
#![forbid(unsafe_code)]
// A test tool, not keychain: it prints its port with the standard library.
#![allow(clippy::disallowed_methods)]

#[path = "../tests/it/support/exact_emulator.rs"]
mod exact_emulator;
#[path = "../tests/it/support/loopback_http.rs"]
mod loopback_http;

use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut port = 0u16;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("--port takes a number")
            }
            other => {
                eprintln!("unknown argument `{other}`; usage: exact_emulator [--port N]");
                std::process::exit(2);
            }
        }
    }
    let emulator = exact_emulator::Emulator::start_on(exact_emulator::Config::from_env(), port);
    println!("{}", emulator.port);
    let _ = std::io::stdout().flush();
    eprintln!("Exact Online emulator on {}", emulator.base);
    emulator.wait();
}
