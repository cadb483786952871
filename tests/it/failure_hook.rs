//! `--on-failure CMD` / `KEYCHAIN_ON_FAILURE` (issue 22 item 4): when no token can be had
//! without a person, CMD runs once per incident with the account, the reason class and the exit
//! code in its environment and never a secret. One test per reason class, against the Exact
//! emulator (its clock and keychain's moved together through libfaketime), and the failures
//! that pass with time, which run nothing.

use std::path::PathBuf;

use crate::support;

use support::exact_emulator::Config;
use support::login::{Exact, put_back_refresh_token};
use support::{CANARY_PASSWORD, Kc, assert_exit, closed_port};

/// The hook: appends "ACCOUNT REASON EXIT" to `hook.log` and its whole environment to
/// `hook.env`.
fn hook(kc: &Kc) -> (String, PathBuf, PathBuf) {
    let log = kc.tmp.path().join("hook.log");
    let env = kc.tmp.path().join("hook.env");
    let cmd = format!(
        "printf '%s %s %s\\n' \"$KEYCHAIN_ACCOUNT\" \"$KEYCHAIN_FAILURE_REASON\" \"$KEYCHAIN_EXIT_CODE\" >> '{}'; env >> '{}'",
        log.display(),
        env.display()
    );
    (cmd, log, env)
}

fn lines(path: &PathBuf) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn setup(password: &str) -> (Exact, Kc) {
    let exact = Exact::start(Config {
        password: CANARY_PASSWORD.into(),
        ..Config::default()
    });
    let kc = Kc::with_file_store();
    exact.add(&kc, "ex", password);
    (exact, kc)
}

/// `login ex --on-failure HOOK` on the emulator's clock, with an access token in keychain's own
/// environment (as an outer `exec` would leave one) that must not reach the hook.
fn login(exact: &Exact, kc: &Kc, hook: &str) -> std::process::Output {
    exact
        .cmd(kc)
        .env("KEYCHAIN_ACCESS_TOKEN", "outer-token-canary")
        .args(["login", "ex", "--on-failure", hook])
        .output()
        .unwrap()
}

/// rejected, then lockout-guard (another reason: a new incident), then nothing more however
/// often the job runs; a good logon ends the incident, and the next rejection runs it again.
#[test]
fn rejected_then_lockout_guard_run_the_hook_once_each_until_the_account_works_again() {
    let (mut exact, kc) = setup("wrong-password");
    let (cmd, log, env) = hook(&kc);

    assert_exit(&login(&exact, &kc, &cmd), 4);
    assert_eq!(lines(&log), ["ex rejected 4"]);
    assert_exit(&login(&exact, &kc, &cmd), 4);
    assert_eq!(lines(&log), ["ex rejected 4", "ex lockout-guard 4"]);
    for _ in 0..2 {
        assert_exit(&login(&exact, &kc, &cmd), 4);
    }
    assert_eq!(lines(&log).len(), 2, "the same incident runs the hook once");
    assert_eq!(exact.stats().password_attempts, 1, "the guard held");

    // Never a secret in the hook's environment, not even the outer token.
    let dump = std::fs::read_to_string(&env).unwrap();
    for secret in ["outer-token-canary", "wrong-password", CANARY_PASSWORD] {
        assert!(!dump.contains(secret), "{secret} in the hook's environment");
    }
    assert!(dump.contains("KEYCHAIN_ACCOUNT=ex\n"), "{dump}");

    // Fixed: the account works, the incident is over.
    let right = kc.file("right.pw", &format!("{CANARY_PASSWORD}\n"));
    exact.ok(
        &kc,
        &["set", "ex", "--password-file", right.to_str().unwrap()],
    );
    let out = login(&exact, &kc, &cmd);
    assert_exit(&out, 0);
    assert!(!kc.dir.join("incidents/ex").exists());
    assert_eq!(lines(&log).len(), 2);

    // Broken again: a new incident.
    let wrong = kc.file("wrong.pw", "wrong-again\n");
    exact.ok(
        &kc,
        &["set", "ex", "--password-file", wrong.to_str().unwrap()],
    );
    exact.ok(&kc, &["set", "ex", "--unset", "refresh-token"]);
    exact.advance(600);
    assert_exit(&login(&exact, &kc, &cmd), 4);
    assert_eq!(lines(&log).last().unwrap(), "ex rejected 4");
    assert_eq!(lines(&log).len(), 3);
}

/// The refresh token is dead and no password is stored: no-credentials, exit 2; once.
#[test]
fn a_dead_refresh_token_without_a_password_runs_the_hook_as_no_credentials() {
    let (mut exact, kc) = setup(CANARY_PASSWORD);
    let (cmd, log, _) = hook(&kc);
    exact.ok(&kc, &["login", "ex"]);
    exact.ok(&kc, &["set", "ex", "--unset", "password"]);
    put_back_refresh_token(&kc, "ex", "rt-that-the-emulator-never-issued");
    exact.advance(600);
    // The cron job's refresh finds it first (the setting, as cron would set it)...
    let out = exact
        .cmd(&kc)
        .env("KEYCHAIN_ON_FAILURE", &cmd)
        .args(["refresh", "ex", "--idle-days", "0"])
        .output()
        .unwrap();
    assert_exit(&out, 5);
    assert_eq!(lines(&log), ["ex no-credentials 2"]);
    // ...and the jobs after it are the same incident.
    for _ in 0..3 {
        assert_exit(&login(&exact, &kc, &cmd), 2);
    }
    assert_eq!(lines(&log), ["ex no-credentials 2"]);
}

/// The provider refuses the client's secret on a refresh (401 invalid_client, exit 5): no wait
/// helps, a person must give the right one: rejected, once.
#[test]
fn a_refused_client_secret_runs_the_hook_as_rejected() {
    let (mut exact, kc) = setup(CANARY_PASSWORD);
    let (cmd, log, _) = hook(&kc);
    exact.ok(&kc, &["login", "ex"]);
    let wrong = kc.file("wrong.cs", "not-the-client-secret");
    exact.ok(
        &kc,
        &["set", "ex", "--client-secret-file", wrong.to_str().unwrap()],
    );
    exact.advance(600);
    for _ in 0..2 {
        assert_exit(&login(&exact, &kc, &cmd), 5);
    }
    assert_eq!(lines(&log), ["ex rejected 5"]);
}

/// A provider that cannot be reached passes with time: no hook. The setting
/// (KEYCHAIN_ON_FAILURE) works as the flag does.
#[test]
fn an_unreachable_provider_runs_no_hook_and_the_setting_works_as_the_flag() {
    let kc = Kc::with_file_store();
    let (cmd, log, _) = hook(&kc);
    let port = closed_port();
    let url = format!("http://127.0.0.1:{}/token", port.port);
    let out = support::login::add_oauth2(&kc, &url, &url, &["--no-password"]);
    support::assert_success(&out, &["add"]);
    put_back_refresh_token(&kc, "acct", "rt-1");
    let out = kc
        .cmd()
        .env("KEYCHAIN_ON_FAILURE", &cmd)
        .args(["login", "acct"])
        .output()
        .unwrap();
    assert_exit(&out, 5);
    assert!(lines(&log).is_empty(), "{:?}", lines(&log));

    // The same account with its refresh token gone and no password: the setting runs it.
    kc.ok(&["set", "acct", "--unset", "refresh-token"]);
    let out = kc
        .cmd()
        .env("KEYCHAIN_ON_FAILURE", &cmd)
        .args(["login", "acct"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert_eq!(lines(&log), ["acct no-credentials 2"]);
}
