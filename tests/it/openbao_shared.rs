//! One keychain shared by two machines on a real OpenBao (issue 7), through the real binary.
//!
//! Two machines are two keychain folders with their own identities and key stores (machine a:
//! `file`, machine b: `os`, the gnome-keyring of `scripts/with-secret-service`), one OpenBao
//! path, and an AppRole each whose policy allows only that path. The provider is a real
//! LemonLDAP::NG, which rotates refresh tokens: a refresh token used twice breaks the chain,
//! and every token request is in its log.
//!
//! Without OpenBao, LemonLDAP::NG, libfaketime or the Secret Service these tests fail, never
//! skip.

use crate::support;

use std::process::Output;
use std::time::{Duration, Instant};

use support::login::{FAKETIME_LIB, REDIRECT_URI, require_faketime};
use support::openbao::Bao;
use support::shared_keychain::Machine;
use support::stampede::stampede;
use support::{
    Llng, TOTP_SECRET, add_args, assert_exit, assert_success, contains, require_secret_service,
    stderr,
};

const PREFIX: &str = "acme";
const PER_MACHINE: usize = 16;
const EXPIRIES: usize = 20;

/// Machine a creates the shared keychain (key store `file`); machine b joins it (key store
/// `os`) and a adds b's recipient as a member.
fn two_machines(bao: &Bao, mount: &str) -> (Machine, Machine) {
    require_secret_service();
    let a = create(bao, mount, "a", "file");
    let b = join(bao, mount, "b", "os", &a);
    (a, b)
}

/// [`two_machines`] reaching OpenBao at `addr` (a proxy in front of `bao`).
fn two_machines_at(bao: &Bao, mount: &str, addr: &str) -> (Machine, Machine) {
    require_secret_service();
    let mut a = Machine::new(bao, "a", mount, PREFIX, PREFIX);
    a.addr = addr.to_string();
    let args = a.init_args("file", false);
    a.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut b = Machine::new(bao, "b", mount, PREFIX, PREFIX);
    b.addr = addr.to_string();
    let recipient = joined_recipient(&b, "os");
    let code = a.ok(&["member", "add", &recipient, "--name", "b"]);
    b.ok(&["member", "join", code.trim()]);
    (a, b)
}

/// The first machine: it creates the keychain at `mount`/acme.
fn create(bao: &Bao, mount: &str, name: &str, key_store: &str) -> Machine {
    let m = Machine::new(bao, name, mount, PREFIX, PREFIX);
    let args = m.init_args(key_store, false);
    m.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    m
}

/// A further machine: `init --join` prints its recipient; `member` (a member) adds it.
fn join(bao: &Bao, mount: &str, name: &str, key_store: &str, member: &Machine) -> Machine {
    let m = Machine::new(bao, name, mount, PREFIX, PREFIX);
    let recipient = joined_recipient(&m, key_store);
    let code = member.ok(&["member", "add", &recipient, "--name", name]);
    m.ok(&["member", "join", code.trim()]);
    m
}

/// `init --join` on `m`; the recipient it printed.
fn joined_recipient(m: &Machine, key_store: &str) -> String {
    let args = m.init_args(key_store, true);
    let joined = m.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    joined
        .split_whitespace()
        .find(|w| w.starts_with("age1"))
        .unwrap_or_else(|| panic!("init --join printed no recipient: {joined}"))
        .to_string()
}

/// Adds LemonLDAP's user dwho (password and TOTP) as account `acct` on machine `m`, found by
/// OpenID discovery.
fn add_dwho(m: &Machine, llng: &Llng) {
    let issuer = ["--provider", "oidc", "--issuer", llng.url.as_str()];
    add_dwho_with(m, &issuer);
}

/// The same with the endpoints given (`oauth2`): a refresh is then one request, the token
/// request, with no discovery before it.
fn add_dwho_endpoints(m: &Machine, llng: &Llng) {
    let (authorize, token) = (
        llng.url.join("oauth2/authorize").unwrap().to_string(),
        llng.url.join("oauth2/token").unwrap().to_string(),
    );
    let endpoints = [
        "--provider",
        "oauth2",
        "--authorize-url",
        authorize.as_str(),
        "--token-url",
        token.as_str(),
    ];
    add_dwho_with(m, &endpoints);
}

fn add_dwho_with(m: &Machine, provider: &[&str]) {
    let pw = m.kc.file("pw", "dwho\n");
    let cs = m.kc.file("cs", "cli-secret");
    let totp = m.kc.file("totp", TOTP_SECRET);
    let mut args = vec!["add", "acct"];
    args.extend_from_slice(provider);
    args.extend([
        "--client-id",
        "cli",
        "--redirect-uri",
        REDIRECT_URI,
        "--scope",
        "openid offline_access",
        "--user",
        "dwho",
        "--password-file",
        pw.to_str().unwrap(),
        "--client-secret-file",
        cs.to_str().unwrap(),
        "--totp-file",
        totp.to_str().unwrap(),
    ]);
    m.ok(&args);
}

/// `keychain login acct` on machine `m` with its clock `offset` seconds ahead (libfaketime):
/// the access token LemonLDAP gave for 600 s has expired for keychain after 600 more.
fn faked_login(m: &Machine, offset: i64) -> std::process::Command {
    let mut cmd = m.std_cmd();
    cmd.env("LD_PRELOAD", FAKETIME_LIB)
        .env("FAKETIME", format!("{offset:+}s"))
        .env("FAKETIME_DONT_RESET", "1")
        // A machine whose clock is off has it off on the wall clock only: libfaketime would
        // move CLOCK_MONOTONIC too, and the kernel's timed waits (a lease renewer's
        // recv_timeout) would then be off by the offset, which no real machine sees.
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .args(["login", "acct"]);
    cmd
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `keychain audit --json` on machine `m`: exit 0, or 1 for findings (a `file` key store is
/// one).
fn audit_json(m: &Machine) -> serde_json::Value {
    let out = m.run(&["audit", "--json"]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "audit --json: {}",
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `keychain audit --json` of a machine: the row of `acct`.
fn audit_row(m: &Machine) -> serde_json::Value {
    let report = audit_json(m);
    report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "acct")
        .cloned()
        .unwrap_or_else(|| panic!("no acct in the audit report: {report}"))
}

#[test]
fn two_machines_times_16_logins_over_20_expiries_make_one_token_request_each() {
    require_faketime();
    let llng = Llng::start();
    let bao = Bao::start();
    let mount = bao.new_mount();
    // A shared keychain's token times are on OpenBao's clock (its `Date`, issue 19): time that
    // passes for the machines passes for it too, through a proxy that stamps `Date`.
    let store_clock = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let proxy = support::fault_proxy::FaultProxy::start(
        &url::Url::parse(&bao.addr).unwrap(),
        store_clock.clone(),
        true,
        support::fault_proxy::DownAs::SealedStore,
    );
    let (a, b) = two_machines_at(&bao, &mount, proxy.url.as_str().trim_end_matches('/'));
    add_dwho(&a, &llng);

    // The first token: a headless logon on machine a; machine b opens the same record and
    // serves the same token from the shared cache, without a request.
    let first = a.ok(&["login", "acct"]);
    let requests = llng.token_requests();
    assert_eq!(b.ok(&["login", "acct"]), first, "b serves a's cached token");
    assert_eq!(llng.token_requests(), requests);

    let mut offset = 0;
    for expiry in 0..EXPIRIES {
        offset += 600;
        store_clock.store(offset, std::sync::atomic::Ordering::SeqCst);
        let before = llng.token_requests();
        // The two machines' processes alternate, all released at the same moment.
        let turn = std::cell::Cell::new(0);
        let outputs = stampede(2 * PER_MACHINE, || {
            turn.set(turn.get() + 1);
            faked_login(if turn.get() % 2 == 0 { &a } else { &b }, offset)
        });
        let after = llng.token_requests();
        for out in &outputs {
            assert!(
                out.status.success(),
                "expiry {expiry}: login failed with {:?}: {}\nthe provider's token requests:\n{}",
                out.status.code(),
                stderr(out),
                token_log(&llng)
            );
        }
        let token = text(&outputs[0]);
        assert!(
            outputs.iter().all(|o| text(o) == token),
            "expiry {expiry}: the processes printed different tokens"
        );
        assert_ne!(token, first);
        assert_eq!(
            after - before,
            1,
            "expiry {expiry}: exactly one token request for both machines"
        );
    }
    // One headless logon in all: no refresh token was ever used twice.
    let log = llng.log();
    assert_eq!(refused_refreshes(&llng), 0, "{log}");
    assert_eq!(audit_row(&a)["headless_logons_30d"], 1);
    assert_eq!(audit_row(&b)["headless_logons_30d"], 1);
    eprintln!(
        "{EXPIRIES} expiries x {} processes on 2 machines: {} token requests",
        2 * PER_MACHINE,
        llng.token_requests() - requests
    );
}

/// The portal's log lines of token requests, for failure messages.
fn token_log(llng: &Llng) -> String {
    llng.log()
        .lines()
        .filter(|l| l.contains("/oauth2/token") || l.contains("[warn]") || l.contains("[error]"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lease of the test with a killed holder.
const LEASE: u64 = 10;

/// Token requests the portal refused: a refresh token it did not know (used, or never issued).
fn refused_refreshes(llng: &Llng) -> usize {
    llng.log()
        .matches("\"POST /oauth2/token HTTP/1.1\" 400 ")
        .count()
}

/// Waits until the paused portal has a connection whose request bytes are queued unread: the
/// process that sent them is mid-refresh, holding the account's lock.
fn wait_for_queued_request(llng: &Llng) {
    let port = format!("{:04X}", llng.url.port().unwrap());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        let queued = table.lines().skip(1).any(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local address, state 01 (established), tx_queue:rx_queue with bytes to read
            f[1].ends_with(&format!(":{port}"))
                && f[3] == "01"
                && f[4].split(':').nth(1).is_some_and(|rx| rx != "00000000")
        });
        if queued {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no request reached the paused portal");
}

#[test]
fn lock_holder_killed_mid_refresh_the_other_machine_goes_on_after_the_lease() {
    let llng = Llng::start();
    let bao = Bao::start();
    let mount = bao.new_mount();
    let (mut a, mut b) = two_machines(&bao, &mount);
    // A lease of 10 s instead of 30: b takes over sooner; one login at a time renews in time.
    a.lease_seconds = Some(LEASE);
    b.lease_seconds = Some(LEASE);
    // Explicit endpoints: the request a refresh queues at the paused portal is the token
    // request itself, not a discovery before it.
    add_dwho_endpoints(&a, &llng);
    a.ok(&["login", "acct"]);
    let first_logon_step = support::unix_now() / 30;
    let refused_before = refused_refreshes(&llng);

    // Machine a asks for a token valid longer than the cached one: a refresh. The portal
    // hangs, so a holds the lock with its refresh request sent; then a is killed.
    llng.pause();
    let mut holder = a
        .std_cmd()
        .args(["login", "acct", "--min-valid", "700"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_queued_request(&llng);
    holder.kill().unwrap();
    assert!(!holder.wait().unwrap().success());
    // The dead holder's lock is still there: only its lease, on OpenBao's clock, frees it.
    let lock_key = format!("{PREFIX}/locks/acct");
    let held = || {
        bao.kv_get(&mount, &lock_key)
            .is_some_and(|e| !e["data"]["data"].is_null())
    };
    assert!(held(), "the killed holder held no lock");
    // The portal now serves the dead process's refresh: it rotates the refresh token, and
    // nobody stores the new one.
    llng.resume();

    // A recovery logon needs a TOTP step the first logon did not use (the machines share the
    // last-used step, as they must): wait for the next one, then machine b goes on once the
    // lease has run out.
    while support::unix_now() / 30 == first_logon_step {
        std::thread::sleep(Duration::from_millis(200));
    }
    let start = Instant::now();
    let out = b.run(&["login", "acct", "--min-valid", "700"]);
    let waited = start.elapsed();
    assert!(!held(), "b's lock was left behind");
    assert_success(&out, &["login", "acct", "on machine b after the kill"]);
    assert!(
        waited < Duration::from_secs(LEASE + 20),
        "b waited {waited:?} for a lease of {LEASE} s"
    );
    let token = text(&out);
    // Both machines serve that token now, from the shared cache.
    assert_eq!(a.ok(&["login", "acct"]), token);

    // Which way it recovered: a refresh refused by the portal means the chain was broken and
    // recovered by exactly one headless logon; none means the chain was intact.
    let refused = refused_refreshes(&llng) - refused_before;
    let (row_a, row_b) = (audit_row(&a), audit_row(&b));
    assert_eq!(row_a["headless_logons_30d"], row_b["headless_logons_30d"]);
    assert_eq!(row_a["broken_chains_30d"], row_b["broken_chains_30d"]);
    match refused {
        0 => {
            assert_eq!(row_a["headless_logons_30d"], 1, "intact chain: no logon");
            assert_eq!(row_a["broken_chains_30d"], 0);
        }
        1 => {
            assert_eq!(row_a["headless_logons_30d"], 2, "one recovery logon");
            assert_eq!(row_a["broken_chains_30d"], 1);
        }
        n => panic!("{n} refused refreshes: {}", llng.log()),
    }
    // The new chain works on either machine.
    a.ok(&["login", "acct", "--min-valid", "700"]);
    b.ok(&["login", "acct", "--min-valid", "700"]);
    assert_eq!(refused_refreshes(&llng) - refused_before, refused);
    eprintln!(
        "holder killed mid-refresh: b went on after {waited:?}; {}",
        if refused == 1 {
            "chain broken, recovered by one headless logon"
        } else {
            "chain intact"
        }
    );
}

#[test]
fn openbao_stopped_and_restarted_mid_run_gives_clear_errors_and_loses_nothing() {
    let llng = Llng::start();
    let mut bao = Bao::persistent();
    let mount = bao.new_mount();
    let (a, b) = two_machines(&bao, &mount);
    add_dwho(&a, &llng);
    let first = a.ok(&["login", "acct"]);
    assert_eq!(b.ok(&["login", "acct"]), first);

    // Stopped: a refresh, a change and a listing each fail fast, naming the address.
    bao.stop();
    for (m, args) in [
        (&a, vec!["login", "acct", "--min-valid", "700"]),
        (&b, vec!["login", "acct", "--min-valid", "700"]),
        (&b, vec!["list"]),
        (&a, vec!["set", "acct", "--user", "rtyler"]),
    ] {
        let start = Instant::now();
        let out = m.run(&args);
        assert_eq!(
            out.status.code(),
            Some(5),
            "{args:?} while OpenBao is down: {}",
            stderr(&out)
        );
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{args:?} took {:?}",
            start.elapsed()
        );
        assert!(
            stderr(&out).contains(&bao.addr),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty());
    }
    // Started but sealed: the same, saying so.
    bao.start_again();
    let out = b.run(&["login", "acct", "--min-valid", "700"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("sealed"), "{}", stderr(&out));

    // Unsealed: work resumes where it stopped. The refresh token was never lost (no second
    // headless logon), nothing was written while the store was away, and both trails verify.
    bao.unseal();
    let requests = llng.token_requests();
    let second = b.ok(&["login", "acct", "--min-valid", "700"]);
    assert_ne!(second, first);
    assert_eq!(llng.token_requests(), requests + 1, "one refresh");
    assert_eq!(a.ok(&["login", "acct"]), second);
    let shown = a.ok(&["show", "acct"]);
    assert!(
        shown.contains("dwho") && !shown.contains("rtyler"),
        "{shown}"
    );
    assert_eq!(audit_row(&a)["headless_logons_30d"], 1);
    a.ok(&["audit", "verify"]);
    b.ok(&["audit", "verify"]);
}

#[test]
fn while_openbao_is_down_login_serves_a_still_valid_token_from_the_local_copy() {
    let llng = Llng::start();
    let bao = Bao::start();
    let mount = bao.new_mount();
    let (a, b) = two_machines(&bao, &mount);
    add_dwho(&a, &llng);
    let first = a.ok(&["login", "acct"]);
    assert_eq!(b.ok(&["login", "acct"]), first);

    bao.stop();
    // A token still valid for --min-valid is served from each machine's local read-only copy;
    // one that is not fails fast, naming the address.
    assert_eq!(a.ok(&["login", "acct"]), first);
    assert_eq!(b.ok(&["login", "acct"]), first);
    let out = b.run(&["login", "acct", "--min-valid", "700"]);
    assert_exit(&out, 5);
    assert!(stderr(&out).contains(&bao.addr), "{}", stderr(&out));
}

#[test]
fn an_approle_for_another_path_gets_a_clear_403_and_reads_nothing() {
    let llng = Llng::start();
    let bao = Bao::start();
    let mount = bao.new_mount();
    let (a, _b) = two_machines(&bao, &mount);
    add_dwho(&a, &llng);
    a.ok(&["login", "acct"]);

    // Machine c's AppRole may use "other/" only; it tries to join the keychain under "acme/".
    let c = Machine::new(&bao, "c", &mount, PREFIX, "other");
    let args = c.init_args("file", true);
    let out = c.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        !out.status.success(),
        "c joined a keychain its policy does not allow"
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{mount}/")) && err.contains(PREFIX) && err.contains("policy"),
        "the message names the path and the policy: {err}"
    );
    assert!(
        !err.contains("acct") && !text(&out).contains("acct"),
        "{err}"
    );

    // OpenBao's own audit log: every request c's token made under acme/ was refused, and no
    // answer to c carried data.
    let role = format!("{mount}-c");
    let answers: Vec<_> = bao
        .audit_entries()
        .into_iter()
        .filter(|e| {
            e["type"] == "response"
                && e["auth"]["metadata"]["role_name"] == role.as_str()
                && e["request"]["path"].as_str().is_some_and(|p| {
                    p.starts_with(&format!("{mount}/"))
                        && (p.contains(&format!("/{PREFIX}/"))
                            || p.ends_with(&format!("/{PREFIX}")))
                })
        })
        .collect();
    assert!(
        !answers.is_empty(),
        "c never asked for the keychain's path, so the test proves nothing"
    );
    for e in &answers {
        // A refusal's answer carries an error and nothing else.
        let data = &e["response"]["data"];
        assert!(
            data.is_null()
                || data
                    .as_object()
                    .is_some_and(|d| d.keys().all(|k| k == "error")),
            "c was answered with data: {e}"
        );
        assert!(
            e["error"]
                .as_str()
                .is_some_and(|s| s.contains("permission denied")),
            "{e}"
        );
    }
}

/// Adds `acct` with a placeholder provider and a password on machine `m` (no login needed).
fn add_placeholder(m: &Machine) {
    let pw = m.kc.file("placeholder-pw", "pw-of-a-placeholder\n");
    m.ok(&add_args(
        "acct",
        &["--password-file", pw.to_str().unwrap(), "--no-totp"],
    ));
}

/// The findings of `keychain audit --json` on machine `m`.
fn findings(m: &Machine) -> Vec<serde_json::Value> {
    audit_json(m)["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The sealed bytes of `acct` as OpenBao holds them (root's view): the KV field that carries
/// the age ciphertext, base64-decoded when it is base64.
fn sealed_record(bao: &Bao, mount: &str) -> Vec<u8> {
    use base64::Engine;
    let key = bao
        .kv_keys(mount, PREFIX)
        .into_iter()
        .find(|k| k.contains("records/") && k.ends_with("acct"))
        .unwrap_or_else(|| panic!("no record of acct in {:?}", bao.kv_keys(mount, PREFIX)));
    let entry = bao.kv_get(mount, &key).unwrap();
    let fields = entry["data"]["data"].as_object().unwrap();
    for value in fields.values().filter_map(|v| v.as_str()) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .unwrap_or_else(|_| value.as_bytes().to_vec());
        if contains(&bytes, "age-encryption.org/v1") {
            return bytes;
        }
    }
    panic!("no age ciphertext in {key}: fields {:?}", fields.keys());
}

/// Whether the age identity of a machine with the `file` key store opens `sealed`.
fn opens(m: &Machine, sealed: &[u8]) -> bool {
    let text = std::fs::read_to_string(m.kc.dir.join("identity.txt")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("an age identity");
    let identity: age::x25519::Identity = line.parse().unwrap();
    let start = sealed
        .windows(b"age-encryption.org/v1".len())
        .position(|w| w == b"age-encryption.org/v1")
        .unwrap();
    keychain::crypto::decrypt(&sealed[start..], &identity).is_ok()
}

#[test]
fn a_planted_recipient_is_refused_and_a_removed_member_cannot_open_new_writes() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let a = create(&bao, &mount, "a", "file");
    let b = join(&bao, &mount, "b", "file", &a);
    add_placeholder(&a);
    let sealed = sealed_record(&bao, &mount);
    assert!(
        opens(&a, &sealed) && opens(&b, &sealed),
        "both members open the record"
    );

    // p may write the keychain's path (the same policy) but is not a member: keychain on p
    // refuses to add anyone, p itself included.
    let p = Machine::new(&bao, "p", &mount, PREFIX, PREFIX);
    let planted = joined_recipient(&p, "file");
    let out = p.run(&["member", "add", &planted, "--name", "p"]);
    assert_exit(&out, 6);
    assert!(stderr(&out).contains("not a member"), "{}", stderr(&out));

    // So p plants its recipient in the member list in the store by hand, keeping the MAC.
    let list_key = format!("{PREFIX}/members");
    let original = bao.kv_get(&mount, &list_key).expect("the member list")["data"]["data"].clone();
    let planted_list = edit_value(&original, |bytes| {
        let mut stored: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        let mut body: serde_json::Value =
            serde_json::from_str(stored["body"].as_str().unwrap()).unwrap();
        let mut member = body["members"][0].clone();
        member["name"] = "p".into();
        member["recipient"] = planted.clone().into();
        body["members"].as_array_mut().unwrap().push(member);
        stored["body"] = body.to_string().into();
        stored.to_string().into_bytes()
    });
    bao.kv_put(&mount, &list_key, &planted_list);
    // Refused before anything is sealed to it (exit 7), and reported by the audit.
    let out = a.run(&["set", "acct", "--user", "after-the-plant"]);
    assert_exit(&out, 7);
    assert!(!opens(&p, &sealed_record(&bao, &mount)));
    let found = findings(&a);
    assert!(
        found
            .iter()
            .any(|f| f["code"] == "members-not-authenticated" && f["severity"] == "critical"),
        "the audit does not report the planted recipient: {found:?}"
    );
    // The list put back, work goes on, and still nothing reaches p.
    bao.kv_put(&mount, &list_key, &original);
    a.ok(&["set", "acct", "--user", "after-the-attempt"]);
    assert!(!opens(&p, &sealed_record(&bao, &mount)));
    assert!(!a.ok(&["member", "list"]).contains(&planted));

    // b is removed: what a writes next opens for a, and not for b.
    a.ok(&["member", "rm", "b"]);
    a.ok(&["set", "acct", "--user", "after-the-removal"]);
    let sealed = sealed_record(&bao, &mount);
    assert!(opens(&a, &sealed), "a still opens its own write");
    assert!(!opens(&b, &sealed), "the removed member opens a new write");
    let out = b.run(&["show", "acct"]);
    assert!(
        !out.status.success(),
        "b still reads the account: {}",
        text(&out)
    );
    assert!(!text(&out).contains("after-the-removal"));
    // The audit report advises rotating what b could read.
    let found = findings(&a);
    assert!(
        found.iter().any(|f| f["code"] == "member-removed"
            && f["message"]
                .as_str()
                .is_some_and(|m| m.contains("rotate") && m.contains("acct"))),
        "{found:?}"
    );
}

/// A KV value of keychain's shared space (`{"value": base64}`) with its bytes changed by `f`.
fn edit_value(data: &serde_json::Value, f: impl FnOnce(&[u8]) -> Vec<u8>) -> serde_json::Value {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let bytes = b64
        .decode(data["value"].as_str().expect("a value field"))
        .unwrap();
    serde_json::json!({ "value": b64.encode(f(&bytes)) })
}

/// The keys of the shared audit trail, in sequence order: one key per position.
fn trail_keys(bao: &Bao, mount: &str) -> Vec<String> {
    let mut keys: Vec<(u64, String)> = bao
        .kv_keys(mount, PREFIX)
        .into_iter()
        .filter(|k| k.contains("audit") || k.contains("trail"))
        .filter_map(|k| Some((k.rsplit('/').next()?.parse().ok()?, k)))
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

/// `audit verify` on both machines: exit 7 and a message, or success.
fn verify_both(machines: [&Machine; 2], tampered: bool, what: &str) {
    for m in machines {
        let out = m.run(&["audit", "verify"]);
        if tampered {
            assert_exit(&out, 7);
            assert!(
                !stderr(&out).is_empty() || !out.stdout.is_empty(),
                "{what}: no message"
            );
        } else {
            assert_success(&out, &["audit", "verify", "on", &m.name, "after", what]);
        }
    }
}

#[test]
fn audit_verify_on_either_machine_detects_an_edited_deleted_or_reordered_shared_event() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let a = create(&bao, &mount, "a", "file");
    let b = join(&bao, &mount, "b", "file", &a);
    add_placeholder(&a);
    b.ok(&["set", "acct", "--user", "from-b"]);
    a.ok(&["show", "acct"]);
    b.ok(&["set", "acct", "--user", "from-b-again"]);
    verify_both([&a, &b], false, "nothing");
    let keys = trail_keys(&bao, &mount);
    assert!(keys.len() >= 4, "the shared trail: {keys:?}");
    let (first, second) = (&keys[keys.len() - 3], &keys[keys.len() - 2]);
    let data = |key: &str| bao.kv_get(&mount, key).unwrap()["data"]["data"].clone();
    let (one, two) = (data(first), data(second));

    // Edited: one letter of an event's text changed in case (its user, host or command).
    let edited = edit_value(&one, |line| {
        let mut line = line.to_vec();
        let at = (10..line.len())
            .find(|&i| line[i].is_ascii_lowercase())
            .expect("a lowercase letter");
        line[at] = line[at].to_ascii_uppercase();
        line
    });
    bao.kv_put(&mount, first, &edited);
    verify_both([&a, &b], true, "an edited event");
    bao.kv_put(&mount, first, &one);
    verify_both([&a, &b], false, "the event put back");

    // Deleted: every version of one event.
    bao.kv_destroy(&mount, first);
    verify_both([&a, &b], true, "a deleted event");
    bao.kv_put(&mount, first, &one);
    verify_both([&a, &b], false, "the event put back");

    // Reordered: two events swapped.
    bao.kv_put(&mount, first, &two);
    bao.kv_put(&mount, second, &one);
    verify_both([&a, &b], true, "two events swapped");
}

/// The policy the README tells an administrator to write is the one every test here runs
/// with: a change to either must be made to both.
#[test]
fn the_documented_policy_and_role_are_the_ones_the_tests_run_with() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/shared-keychain.md"),
    )
    .unwrap();
    let normalise = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| l.starts_with("path \""))
            .collect()
    };
    let documented = normalise(&readme);
    assert_eq!(
        documented,
        normalise(&Bao::keychain_policy("keychain", "acme"))
    );
    assert!(
        documented
            .iter()
            .any(|l| l.contains("auth/token/lookup-self"))
    );
    // And the role: its tokens carry that policy alone, as the tests' roles.
    assert!(
        readme.contains(support::openbao::NO_DEFAULT_POLICY),
        "docs/shared-keychain.md sets the role up with {}",
        support::openbao::NO_DEFAULT_POLICY
    );
}

/// Regression: a holder whose lease ran out while the provider was answering its refresh still
/// stores the rotated refresh token (the check-and-set alone keeps that write safe), instead of
/// dropping the only valid link of the chain (seen with a 5 s lease under load: the next login
/// then needed a headless logon).
#[test]
fn a_refresh_answered_after_the_lease_ran_out_still_keeps_the_rotated_token() {
    let llng = Llng::start();
    let bao = Bao::start();
    let mount = bao.new_mount();
    let mut a = create(&bao, &mount, "a", "file");
    a.lease_seconds = Some(2);
    add_dwho_endpoints(&a, &llng);
    a.ok(&["login", "acct"]);

    // a's refresh waits at the paused portal; OpenBao is paused too, so the lease can be
    // neither renewed nor checked, and runs out.
    llng.pause();
    let holder = a
        .std_cmd()
        .args(["login", "acct", "--min-valid", "700"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_queued_request(&llng);
    let bao_pid = bao.pid_for_tests();
    let signal = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &bao_pid.to_string()])
            .status()
            .unwrap()
    };
    signal("-STOP");
    std::thread::sleep(Duration::from_secs(4));
    // The portal answers (the refresh token rotates there), then OpenBao comes back.
    llng.resume();
    std::thread::sleep(Duration::from_millis(300));
    signal("-CONT");
    let out = holder.wait_with_output().unwrap();
    eprintln!("holder: {:?} {}", out.status.code(), stderr(&out));

    // Whatever the holder said, the rotated token was kept: the next refresh works, no logon.
    let refused = refused_refreshes(&llng);
    a.ok(&["login", "acct", "--min-valid", "700"]);
    assert_eq!(refused_refreshes(&llng), refused, "{}", token_log(&llng));
    assert_eq!(
        audit_row(&a)["headless_logons_30d"],
        1,
        "{}",
        token_log(&llng)
    );
}

/// AppRole logins the server answered, per its audit log (one response entry each).
fn approle_logins(bao: &Bao) -> usize {
    bao.audit_log()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "response" && e["request"]["path"] == "auth/approle/login")
        .count()
}

/// The token an AppRole login gave is kept in the kernel keyring for later processes, until
/// its TTL: a cached `login` in a new process makes no AppRole login. A kept token the server
/// revoked is replaced by exactly one login, which later processes reuse in turn.
#[test]
fn a_new_process_reuses_the_kept_approle_token_and_replaces_a_revoked_one_once() {
    let llng = Llng::start();
    let bao = Bao::start();
    let mount = bao.new_mount();
    let a = create(&bao, &mount, "a", "file");
    add_dwho(&a, &llng);
    let first = a.ok(&["login", "acct"]);
    assert!(approle_logins(&bao) >= 1, "the first process logs in");

    let before = approle_logins(&bao);
    assert_eq!(a.ok(&["login", "acct"]), first);
    assert_eq!(a.ok(&["login", "acct"]), first);
    assert_eq!(approle_logins(&bao), before, "later processes log in again");

    bao.bao(&["token", "revoke", "-mode=path", "auth/approle/"]);
    assert_eq!(a.ok(&["login", "acct"]), first);
    assert_eq!(
        approle_logins(&bao),
        before + 1,
        "one login replaces the revoked token"
    );
    assert_eq!(a.ok(&["login", "acct"]), first);
    assert_eq!(
        approle_logins(&bao),
        before + 1,
        "the replacement is kept in turn"
    );
}
