//! Benchmark driver for `benches/openbao.sh`: two machines (two keychain folders, each with its
//! own identity and AppRole) sharing one keychain on OpenBao; PROCESSES `keychain login`
//! processes per machine released at the same moment on one Exact account (the emulator, in
//! this process) whose token has just expired, ROUNDS times. Prints per-round anomalies and the
//! totals: expiries, token requests, failed processes, rounds where the processes disagreed.
//!
//! The OpenBao side is prepared by the script and given in the environment: `KC_BAO_ADDR`,
//! `KC_BAO_MOUNT`, `KC_BAO_PATH`, and per machine `KC_BAO_ROLE_ID_FILE_A`,
//! `KC_BAO_SECRET_ID_FILE_A` (and `_B`).
//!
//! Time: each expiry moves the emulator's clock and keychain's (libfaketime) 600 s on, and
//! OpenBao's too. A shared keychain reads token times on the store's clock (the `Date` of its
//! answers), and OpenBao (Go) is out of libfaketime's reach: the keychains talk to it through
//! the tests' reverse proxy (`tests/it/support/fault_proxy.rs`, the same file, not a copy),
//! which stamps `Date` with the simulation's time. Without it the store's clock stands still,
//! every token stays valid, and no round asks for one.
//!
//! Usage: openbao_stampede [PROCESSES] [ROUNDS]  (keychain: $KEYCHAIN_BIN or ../keychain)
#![forbid(unsafe_code)]

#[path = "../tests/it/support/exact_emulator.rs"]
mod exact_emulator;
#[path = "../tests/it/support/fault_proxy.rs"]
mod fault_proxy;
#[path = "../tests/it/support/loopback_http.rs"]
mod loopback_http;
#[path = "../tests/it/support/stampede.rs"]
mod stampede;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set (run benches/openbao.sh)"))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let processes: usize = args.next().map_or(32, |a| a.parse().expect("PROCESSES"));
    let rounds: usize = args.next().map_or(200, |a| a.parse().expect("ROUNDS"));
    assert!(
        Path::new(FAKETIME_LIB).exists(),
        "libfaketime missing: apt-get install faketime"
    );
    let bin = std::env::var_os("KEYCHAIN_BIN").map_or_else(
        || {
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().join("keychain")
        },
        PathBuf::from,
    );
    let (bao, mount, prefix) = (env("KC_BAO_ADDR"), env("KC_BAO_MOUNT"), env("KC_BAO_PATH"));
    // The simulation's time minus real time, in seconds: libfaketime's offset for keychain, and
    // the proxy's for OpenBao's `Date`.
    let sim_offset = Arc::new(AtomicI64::new(0));
    let proxy = fault_proxy::FaultProxy::start(
        &url::Url::parse(&bao).expect("KC_BAO_ADDR"),
        sim_offset.clone(),
        true,
        fault_proxy::DownAs::SealedStore,
    );
    let addr = proxy.url.as_str().trim_end_matches('/').to_string();
    let config = exact_emulator::Config::default();
    let emu = exact_emulator::Emulator::start(config.clone());
    let tmp = tempfile::tempdir().unwrap();
    let dirs = [tmp.path().join("a"), tmp.path().join("b")];
    let kc = |machine: usize, offset: i64, args: &[&str]| {
        let mut c = Command::new(&bin);
        c.env("KEYCHAIN_DIR", &dirs[machine])
            .env("KEYCHAIN_LOCK_TIMEOUT", "120")
            .env_remove("BAO_TOKEN")
            .env_remove("VAULT_TOKEN")
            .env("LD_PRELOAD", FAKETIME_LIB)
            .env("FAKETIME", format!("{offset:+}s"))
            .env("FAKETIME_DONT_RESET", "1")
            .args(args);
        c
    };
    let run = |machine: usize, offset: i64, args: &[&str]| -> String {
        let out = kc(machine, offset, args).output().unwrap();
        assert!(
            out.status.success(),
            "keychain {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
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

    // Machine a creates the shared keychain, machine b joins and a adds it as a member.
    for (machine, suffix) in [(0, "A"), (1, "B")] {
        let (role, secret) = (
            env(&format!("KC_BAO_ROLE_ID_FILE_{suffix}")),
            env(&format!("KC_BAO_SECRET_ID_FILE_{suffix}")),
        );
        let mut init = vec![
            "init",
            "--store",
            "openbao",
            "--addr",
            &addr,
            "--mount",
            &mount,
            "--path",
            &prefix,
            "--role-id-file",
            &role,
            "--secret-id-file",
            &secret,
            "--key-store",
            "file",
        ];
        if machine == 1 {
            init.push("--join");
        }
        let printed = run(machine, 0, &init);
        if machine == 1 {
            let recipient = printed
                .split_whitespace()
                .find(|w| w.starts_with("age1"))
                .expect("init --join prints the recipient");
            let code = run(0, 0, &["member", "add", recipient, "--name", "b"]);
            run(1, 0, &["member", "join", code.trim()]);
        }
    }
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
    run(0, 0, &add.iter().map(String::as_str).collect::<Vec<_>>());
    run(0, 0, &["login", "ex"]);
    run(1, 0, &["login", "ex"]);

    let (mut token_requests, mut failed, mut disagreed, mut bad_rounds) = (0u64, 0usize, 0, 0);
    let mut offset = 0i64;
    let start = Instant::now();
    for round in 0..rounds {
        offset += 600;
        sim_offset.store(offset, Ordering::SeqCst);
        http.post(emu.base.join("__admin/advance?seconds=600").unwrap())
            .send()
            .unwrap();
        let before = stats()["token_requests"].as_u64().unwrap();
        let turn = std::cell::Cell::new(0usize);
        let outputs = stampede::stampede(2 * processes, || {
            turn.set(turn.get() + 1);
            kc(turn.get() % 2, offset, &["login", "ex"])
        });
        let requests = stats()["token_requests"].as_u64().unwrap() - before;
        let fails: Vec<_> = outputs.iter().filter(|o| !o.status.success()).collect();
        let ok: Vec<_> = outputs.iter().filter(|o| o.status.success()).collect();
        let same = ok.iter().all(|o| o.stdout == ok[0].stdout);
        token_requests += requests;
        failed += fails.len();
        disagreed += usize::from(!same);
        if (round + 1) % 20 == 0 {
            eprintln!(
                "{} expiries, {token_requests} token requests, {failed} failed",
                round + 1
            );
        }
        if requests != 1 || !fails.is_empty() || !same {
            bad_rounds += 1;
            eprintln!(
                "round {round}: {requests} token requests, {} failed, same token: {same}",
                fails.len()
            );
            if let Some(f) = fails.first() {
                eprintln!(
                    "  first failure: {}",
                    String::from_utf8_lossy(&f.stderr).trim()
                );
            }
        }
    }
    let s = stats();
    println!(
        "2 machines x {processes} processes x {rounds} expiries in {:.1} s: {token_requests} token \
         requests for {rounds} expiries (refreshes {}, logons {}, provider errors {}), {failed} \
         failed processes, {disagreed} rounds with differing tokens, {bad_rounds} rounds not \
         exactly one request",
        start.elapsed().as_secs_f64(),
        s["refreshes"],
        s["logons"],
        s["errors"]
    );
    if bad_rounds > 0 {
        std::process::exit(1);
    }
}
