//! Benchmark driver for `benches/login_concurrency.sh`: PROCESSES `keychain login` processes
//! released at the same moment on one Exact account (the emulator, in this process) whose token
//! has just expired, ROUNDS times. Prints per-round anomalies and the totals: token requests,
//! failed processes, rounds where the processes disagreed on the token.
//!
//! Usage: login_stampede [PROCESSES] [ROUNDS]  (keychain: $KEYCHAIN_BIN or ../keychain)
#![forbid(unsafe_code)]

#[path = "../tests/it/support/exact_emulator.rs"]
mod exact_emulator;
#[path = "../tests/it/support/loopback_http.rs"]
mod loopback_http;
#[path = "../tests/it/support/stampede.rs"]
mod stampede;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

fn main() {
    let mut args = std::env::args().skip(1);
    let processes: usize = args.next().map_or(64, |a| a.parse().expect("PROCESSES"));
    let rounds: usize = args.next().map_or(1000, |a| a.parse().expect("ROUNDS"));
    assert!(
        std::path::Path::new(FAKETIME_LIB).exists(),
        "libfaketime missing: apt-get install faketime"
    );
    let bin = std::env::var_os("KEYCHAIN_BIN").map_or_else(
        || {
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().join("keychain")
        },
        PathBuf::from,
    );
    let config = exact_emulator::Config::default();
    let emu = exact_emulator::Emulator::start(config.clone());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kc");
    let mut offset = 0i64;
    let kc = |offset: i64, args: &[&str]| {
        let mut c = Command::new(&bin);
        c.env("KEYCHAIN_DIR", &dir)
            .env("KEYCHAIN_LOCK_TIMEOUT", "120")
            .env("LD_PRELOAD", FAKETIME_LIB)
            .env("FAKETIME", format!("{offset:+}s"))
            .env("FAKETIME_DONT_RESET", "1")
            .args(args);
        c
    };
    let run = |offset: i64, args: &[&str]| {
        let out = kc(offset, args).output().unwrap();
        assert!(
            out.status.success(),
            "keychain {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let file = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let http = keychain::oauth::http::client().unwrap();
    let stats = || -> serde_json::Value {
        http.get(emu.base.join("__admin/stats").unwrap())
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    run(0, &["init", "--key-store", "file"]);
    let (pw, totp, cs) = (
        file("pw", &config.password),
        file("totp", &config.totp_secret),
        file("cs", &config.client_secret),
    );
    let files = exact_emulator::SecretFiles {
        password: pw.as_ref(),
        totp: totp.as_ref(),
        client_secret: cs.as_ref(),
    };
    let add = emu.add_args(&config, "ex", &files);
    run(0, &add.iter().map(String::as_str).collect::<Vec<_>>());
    run(0, &["login", "ex"]);

    let (mut token_requests, mut failed, mut disagreed, mut bad_rounds) = (0u64, 0usize, 0, 0);
    let start = Instant::now();
    for round in 0..rounds {
        offset += 600;
        http.post(emu.base.join("__admin/advance?seconds=600").unwrap())
            .send()
            .unwrap();
        let before = stats()["token_requests"].as_u64().unwrap();
        let outputs = stampede::stampede(processes, || kc(offset, &["login", "ex"]));
        let requests = stats()["token_requests"].as_u64().unwrap() - before;
        let fails = outputs.iter().filter(|o| !o.status.success()).count();
        let ok: Vec<_> = outputs.iter().filter(|o| o.status.success()).collect();
        let same = ok.iter().all(|o| o.stdout == ok[0].stdout);
        token_requests += requests;
        failed += fails;
        disagreed += usize::from(!same);
        if (round + 1) % 100 == 0 {
            eprintln!(
                "{} rounds, {token_requests} token requests, {failed} failed",
                round + 1
            );
        }
        if requests != 1 || fails > 0 || !same {
            bad_rounds += 1;
            eprintln!(
                "round {round}: {requests} token requests, {fails} failed, same token: {same}"
            );
        }
    }
    let s = stats();
    println!(
        "{processes} processes x {rounds} rounds in {:.1} s: {token_requests} token requests \
         (refreshes {}, logons {}, provider errors {}), {failed} failed processes, \
         {disagreed} rounds with differing tokens, {bad_rounds} rounds not exactly one request",
        start.elapsed().as_secs_f64(),
        s["refreshes"],
        s["logons"],
        s["errors"]
    );
    if bad_rounds > 0 {
        std::process::exit(1);
    }
}
