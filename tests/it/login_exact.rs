//! `keychain login` against the Exact Online emulator, through the real binary: the whole
//! headless flow, 10-minute tokens, single-use refresh tokens, the 570 s rule, the error
//! budget, the 30-day idle expiry and rate-limited answers that still rotate the chain.
//! keychain's clock follows the emulator's through libfaketime; nothing waits in real time.

use crate::support;

use support::exact_emulator::Config;
use support::login::{Exact, put_back_refresh_token};
use support::{CANARY_PASSWORD, Kc, assert_exit, assert_success, stderr};

fn setup() -> (Exact, Kc) {
    let exact = Exact::start(Config {
        password: CANARY_PASSWORD.into(),
        ..Config::default()
    });
    let kc = Kc::with_file_store();
    exact.add(&kc, "ex", CANARY_PASSWORD);
    (exact, kc)
}

fn reveal(exact: &Exact, kc: &Kc, field: &str) -> String {
    exact
        .ok(kc, &["show", "ex", "--reveal", field])
        .trim()
        .to_string()
}

#[test]
fn exact_headless_logon_then_cache_then_refresh_only_after_570_s() {
    let (mut exact, kc) = setup();
    let first = exact.ok(&kc, &["login", "ex"]);
    let s = exact.stats();
    assert_eq!((s.logons, s.token_requests, s.refreshes), (1, 1, 0));
    assert_eq!(
        (s.password_attempts, s.totp_attempts),
        (1, 1),
        "one pass through the pages"
    );

    // 10-minute tokens.
    let json: serde_json::Value =
        serde_json::from_str(&exact.ok(&kc, &["login", "ex", "--format", "json"])).unwrap();
    let expires_in = json["expires_in"].as_i64().unwrap();
    assert!((590..=600).contains(&expires_in), "{json}");
    assert_eq!(json["access_token"].as_str().unwrap(), first.trim());

    // From the cache: the emulator sees nothing.
    let before = exact.stats().requests;
    assert_eq!(exact.ok(&kc, &["login", "ex"]), first);
    // Stats calls themselves are requests: one per call.
    assert_eq!(exact.stats().requests, before + 1);

    // 550 s later the token has 50 s left, less than --min-valid's 60: Exact would count a
    // refresh now as an error, so keychain serves the cached token.
    exact.advance(550);
    assert_eq!(exact.ok(&kc, &["login", "ex"]), first);
    assert_eq!(
        exact.ok(&kc, &["login", "ex", "--min-valid", "500"]),
        first,
        "even when more validity is asked for"
    );
    assert_eq!(
        exact.stats().token_requests,
        1,
        "no token request before 570 s"
    );

    // After 570 s: one refresh.
    exact.advance(25);
    let second = exact.ok(&kc, &["login", "ex"]);
    assert_ne!(second, first);
    let s = exact.stats();
    assert_eq!(
        (s.logons, s.token_requests, s.refreshes, s.errors),
        (1, 2, 1, 0)
    );
    assert_eq!(exact.ok(&kc, &["login", "ex"]), second);
    assert_eq!(reveal(&exact, &kc, "access-token"), second.trim());
}

#[test]
fn exact_reused_refresh_token_recovers_by_one_headless_logon() {
    let (mut exact, kc) = setup();
    exact.ok(&kc, &["login", "ex"]);
    let stale_rt = reveal(&exact, &kc, "refresh-token");

    exact.advance(600);
    exact.ok(&kc, &["login", "ex"]);
    let rotated_rt = reveal(&exact, &kc, "refresh-token");
    assert_ne!(rotated_rt, stale_rt, "single-use refresh tokens rotate");

    // A backup restored: its refresh token was used already. Exact answers "Old refresh token
    // used"; keychain logs on again and starts a new chain.
    put_back_refresh_token(&kc, "ex", &stale_rt);
    exact.advance(600);
    let out = exact.run(&kc, &["login", "ex"]);
    assert_exit(&out, 0);
    let s = exact.stats();
    assert_eq!((s.refreshes, s.errors, s.logons), (2, 1, 2), "{s:?}");
    let new_rt = reveal(&exact, &kc, "refresh-token");
    assert!(new_rt != stale_rt && new_rt != rotated_rt);

    // The new chain refreshes normally.
    exact.advance(600);
    exact.ok(&kc, &["login", "ex"]);
    let s = exact.stats();
    assert_eq!((s.refreshes, s.errors, s.logons), (3, 1, 2), "{s:?}");
}

#[test]
fn exact_error_budget_stops_before_exact_blocks_the_app() {
    let (mut exact, kc) = setup();
    let wrong = kc.file("wrong.pw", "not-the-password\n");
    exact.ok(
        &kc,
        &["set", "ex", "--password-file", wrong.to_str().unwrap()],
    );
    // Each attempt after the first is an operator's `--retry` (the lockout guard would refuse
    // it otherwise, see the next test).
    for attempt in 1..=8 {
        let out = exact.run(&kc, &["login", "ex", "--retry"]);
        assert_exit(&out, 4);
        assert_eq!(exact.stats().password_attempts, attempt);
    }
    let out = exact.run(&kc, &["login", "ex", "--retry"]);
    assert_exit(&out, 5);
    let err = stderr(&out);
    assert!(
        err.contains("8 errors from Exact Online in the last hour"),
        "{err}"
    );
    assert!(err.contains("try again after"), "{err}");
    assert_eq!(
        exact.stats().password_attempts,
        8,
        "no request once the budget is spent"
    );

    // An hour later the budget is back; with the right password the logon works.
    exact.advance(3601);
    let right = kc.file("right.pw", &format!("{CANARY_PASSWORD}\n"));
    exact.ok(
        &kc,
        &["set", "ex", "--password-file", right.to_str().unwrap()],
    );
    exact.ok(&kc, &["login", "ex"]);
    assert_eq!(exact.stats().logons, 1);
}

/// Issue 8, defect 2: a wrong password in cron was sent by every run. Two runs with a wrong
/// password: exactly one password attempt reaches Exact, the second run exits 4 at once.
#[test]
fn exact_wrong_password_twice_reaches_the_provider_once() {
    let (exact, kc) = setup();
    let wrong = kc.file("wrong.pw", "not-the-password\n");
    exact.ok(
        &kc,
        &["set", "ex", "--password-file", wrong.to_str().unwrap()],
    );
    assert_exit(&exact.run(&kc, &["login", "ex"]), 4);
    let requests = exact.stats().requests;
    let out = exact.run(&kc, &["login", "ex"]);
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("--retry"), "{}", stderr(&out));
    let s = exact.stats();
    assert_eq!(s.password_attempts, 1, "{s:?}");
    // One more: the stats request itself.
    assert_eq!(
        s.requests,
        requests + 1,
        "the second run sent nothing: {s:?}"
    );
}

#[test]
fn exact_refresh_token_expires_after_30_idle_days() {
    let (mut exact, kc) = setup();
    exact.ok(&kc, &["login", "ex"]);
    exact.advance(31 * 24 * 3600);
    let out = exact.run(&kc, &["login", "ex"]);
    assert_exit(&out, 0);
    let s = exact.stats();
    assert_eq!((s.refreshes, s.errors, s.logons), (1, 1, 2), "{s:?}");
}

#[test]
fn exact_rate_limited_answer_with_a_new_refresh_token_is_stored() {
    let (mut exact, kc) = setup();
    exact.ok(&kc, &["login", "ex"]);
    let before = reveal(&exact, &kc, "refresh-token");

    // Ten errors from some other process using the same app: Exact blocks it for an hour.
    let client = keychain::oauth::http::client().unwrap();
    for _ in 0..10 {
        client
            .post(exact.url("api/oauth2/token"))
            .form(&[("grant_type", "refresh_token"), ("client_id", "nobody")])
            .send()
            .unwrap();
    }
    exact.rate_limited_with_token(true);
    exact.advance(600);
    let out = exact.run(&kc, &["login", "ex"]);
    assert_exit(&out, 5);
    assert!(stderr(&out).contains("rate-limited"), "{}", stderr(&out));
    let after = reveal(&exact, &kc, "refresh-token");
    assert_ne!(after, before, "the rotated refresh token was stored");

    // After the block the stored token refreshes: no new logon needed.
    exact.advance(3601);
    exact.ok(&kc, &["login", "ex"]);
    let s = exact.stats();
    assert_eq!(s.logons, 1, "{s:?}");
    assert_ne!(reveal(&exact, &kc, "refresh-token"), after);
}

/// The `/proc/*/cmdline` of `pid` and of every process it started (an `exec` child, anything
/// keychain might spawn), and whether `pid`'s own was among them. Other processes on the machine
/// are left out: a compiler's hex hashes or another test's ports would match six-digit codes by
/// chance, and they are not keychain's doing.
fn all_cmdlines(pid: u32, seen: &mut Vec<String>) -> bool {
    let parent_of = |p: &str| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        // `pid (comm) state ppid ...`: comm may hold spaces, so split after its closing paren.
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let descends_from_pid = |p: &str| {
        let mut current = p.parse::<u32>().ok();
        for _ in 0..64 {
            match current {
                Some(c) if c == pid => return true,
                Some(c) if c > 1 => current = parent_of(&c.to_string()),
                _ => return false,
            }
        }
        false
    };
    let mut found = false;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !descends_from_pid(name) {
            continue;
        }
        let Ok(bytes) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        found |= name == pid.to_string() && !bytes.is_empty();
        seen.push(String::from_utf8_lossy(&bytes).replace('\0', " "));
    }
    found
}

#[test]
fn no_secret_in_stderr_debug_pages_or_any_argument_list() {
    let (mut exact, kc) = setup();
    let pages = kc.tmp.path().join("pages");
    let mut cmdlines = Vec::new();
    let mut run_scanned = |exact: &Exact, args: &[&str]| {
        let mut child = exact
            .std_cmd(&kc)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut scans_while_alive = 0;
        loop {
            if all_cmdlines(child.id(), &mut cmdlines) {
                scans_while_alive += 1;
            }
            if child.try_wait().unwrap().is_some() {
                assert!(scans_while_alive > 0, "never saw the process running");
                return child.wait_with_output().unwrap();
            }
        }
    };

    // A headless logon with debug pages, then a refresh, then exec.
    let logon = run_scanned(
        &exact,
        &["login", "ex", "--debug-pages", pages.to_str().unwrap()],
    );
    assert_success(&logon, &["login", "ex"]);
    let first_rt = reveal(&exact, &kc, "refresh-token");
    exact.advance(600);
    let refresh = run_scanned(&exact, &["login", "ex", "--format", "json"]);
    assert_success(&refresh, &["login", "ex"]);
    let exec = run_scanned(&exact, &["exec", "ex", "--", "sleep", "0.3"]);
    assert_success(&exec, &["exec", "ex"]);

    let mut secrets = vec![
        CANARY_PASSWORD.to_string(),
        exact.config.client_secret.clone(),
        exact.config.totp_secret.clone(),
        String::from_utf8(logon.stdout.clone())
            .unwrap()
            .trim()
            .into(),
        first_rt,
        reveal(&exact, &kc, "refresh-token"),
        reveal(&exact, &kc, "access-token"),
    ];
    // Every TOTP code of the minutes around the logon (the emulator's time).
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(&exact.config.totp_secret).unwrap())
        .build_noncompliant();
    let t = support::unix_now() as i64 + exact.offset;
    for dt in (-720..=120).step_by(30) {
        secrets.push(totp.generate((t + dt) as u64).to_string());
    }
    let pages_text: Vec<String> = support::files_under(&pages)
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(pages_text.len() >= 4, "debug pages written");
    let stderrs = [&logon, &refresh, &exec].map(stderr);
    for s in &secrets {
        assert!(s.len() >= 6);
        for (what, texts) in [
            ("stderr", &stderrs.to_vec()),
            ("debug pages", &pages_text),
            ("an argument list", &cmdlines),
        ] {
            assert!(
                !texts.iter().any(|t| t.contains(s.as_str())),
                "a secret leaked into {what}"
            );
        }
    }
    eprintln!(
        "scanned {} argument lists, {} debug pages",
        cmdlines.len(),
        pages_text.len()
    );
}
