//! `keychain exec NAME --serve --token-file -- CMD`: a long-running child kept supplied with a
//! valid token (issue 22 item 1), through the real binary. The long tests run children over
//! several token lifetimes on a clock that moves while they run: keychain's and the children's
//! through libfaketime reading a timestamp file the test rewrites, the Exact emulator's through
//! its admin call. The child asks the endpoint with curl over the Unix socket and reads the file.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

use crate::support;

use support::exact_emulator::Config;
use support::login::{Exact, FAKETIME_LIB, REDIRECT_URI, require_faketime};
use support::{CANARY_PASSWORD, Kc, Llng, assert_success};

/// The child: answers the test's commands on its standard input. `check`: the time, then four
/// endpoint answers asked at once, then the file; `file`: the file only; `quit`.
const CHILD: &str = r#"
D="$1"
umask 077
printf 'Authorization: Bearer %s\r\n' "$KEYCHAIN_TOKEN_AUTH" > "$D/header"
ask() { curl -s --unix-socket "$KEYCHAIN_TOKEN_SOCKET" -H @"$D/header" http://keychain/token; }
while read -r cmd; do
  case "$cmd" in
    check)
      echo "T $(date +%s)"
      for i in 1 2 3 4; do ask > "$D/e$i" & done
      wait
      for i in 1 2 3 4; do printf 'E %s\n' "$(cat "$D/e$i")"; done
      printf 'F %s\n' "$(cat "$KEYCHAIN_TOKEN_FILE")"
      echo end ;;
    file)
      printf 'F %s\n' "$(cat "$KEYCHAIN_TOKEN_FILE")"
      echo end ;;
    where)
      printf 'W %s %s\n' "$KEYCHAIN_TOKEN_SOCKET" "$KEYCHAIN_TOKEN_FILE"
      echo end ;;
    quit) exit 0 ;;
  esac
done
"#;

/// keychain's (and its children's) clock: an offset in a file libfaketime reads at every call.
struct MovingClock {
    file: PathBuf,
    offset: i64,
}

impl MovingClock {
    fn new(kc: &Kc) -> MovingClock {
        require_faketime();
        let file = kc.tmp.path().join("faketime");
        std::fs::write(&file, "+0s\n").unwrap();
        MovingClock { file, offset: 0 }
    }

    fn set(&mut self, offset: i64) {
        self.offset = offset;
        // Atomic, so that a reader never sees an empty file (libfaketime would take it as 0).
        let temp = self.file.with_extension("tmp");
        std::fs::write(&temp, format!("{offset:+}s\n")).unwrap();
        std::fs::rename(&temp, &self.file).unwrap();
    }

    fn apply(&self, cmd: &mut std::process::Command) {
        cmd.env("LD_PRELOAD", FAKETIME_LIB)
            .env("FAKETIME_TIMESTAMP_FILE", &self.file)
            .env("FAKETIME_NO_CACHE", "1")
            .env("FAKETIME_DONT_RESET", "1")
            // Waits (the keeper's, the locks') measure real time.
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .env_remove("FAKETIME");
    }
}

/// A running `keychain exec ... -- sh CHILD` and the child's pipes.
struct Job {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// One `check`: the child's time, the endpoint's answers, the file's token.
#[derive(Debug)]
struct Seen {
    now: i64,
    answers: Vec<serde_json::Value>,
    file: String,
}

impl Job {
    fn start(kc: &Kc, clock: &MovingClock, args: &[&str]) -> Job {
        let work = tempfile::tempdir_in(kc.tmp.path()).unwrap().keep();
        let mut cmd = kc.std_cmd();
        clock.apply(&mut cmd);
        cmd.env_remove("KEYCHAIN_ON_FAILURE")
            .arg("exec")
            .args(args)
            .args(["--", "sh", "-c", CHILD, "child"])
            .arg(&work)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Job {
            child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, command: &str) -> Vec<String> {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "the child ended early; it said: {lines:?}");
            let line = line.trim_end().to_string();
            if line == "end" {
                return lines;
            }
            lines.push(line);
        }
    }

    fn check(&mut self) -> Seen {
        let lines = self.ask("check");
        let mut seen = Seen {
            now: 0,
            answers: Vec::new(),
            file: String::new(),
        };
        for line in lines {
            let (kind, rest) = line.split_once(' ').unwrap_or((&line, ""));
            match kind {
                "T" => seen.now = rest.parse().unwrap(),
                "E" => seen
                    .answers
                    .push(serde_json::from_str(rest).unwrap_or_else(|e| panic!("{e}: {rest:?}"))),
                "F" => seen.file = rest.to_string(),
                _ => panic!("unexpected line {line:?}"),
            }
        }
        seen
    }

    fn file(&mut self) -> String {
        let lines = self.ask("file");
        lines[0].strip_prefix("F ").unwrap_or_default().to_string()
    }

    fn paths(&mut self) -> (PathBuf, PathBuf) {
        let lines = self.ask("where");
        let mut parts = lines[0].strip_prefix("W ").unwrap().split(' ');
        (
            PathBuf::from(parts.next().unwrap()),
            PathBuf::from(parts.next().unwrap()),
        )
    }

    fn quit(mut self) -> std::process::ExitStatus {
        writeln!(self.stdin, "quit").unwrap();
        drop(self.stdin);
        self.child.wait().unwrap()
    }
}

/// Every answer and the file hold the same token, valid by the child's clock for more than
/// `at_least` seconds; returns it.
fn assert_valid(seen: &Seen, at_least: i64) -> String {
    assert_eq!(seen.answers.len(), 4, "{seen:?}");
    let token = seen.answers[0]["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {seen:?}"))
        .to_string();
    for answer in &seen.answers {
        assert_eq!(
            answer["access_token"].as_str(),
            Some(token.as_str()),
            "{seen:?}"
        );
        let expires_at = answer["expires_at"].as_str().unwrap();
        let expires = humantime::parse_rfc3339(expires_at).unwrap();
        let expires = keychain::clock::unix_seconds(expires);
        assert!(
            expires - seen.now > at_least,
            "a token valid for {} s at {}: {seen:?}",
            expires - seen.now,
            seen.now
        );
        assert_eq!(
            answer["token_type"]
                .as_str()
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("bearer")
        );
    }
    assert_eq!(seen.file, token, "the file and the endpoint disagree");
    token
}

/// Until the file holds a token other than `old` (the keeper renews it on its own, without a
/// request to the endpoint), at most 15 s of real time.
fn wait_for_new_file(job: &mut Job, old: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let now = job.file();
        if now != old {
            return now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the token file was not renewed before its token expired"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The steps of one token lifetime: a look every 100 s, then 575 s after the token was issued
/// (past Exact's 570 s and past a 60 s margin, 25 s before it expires).
const STEPS: [i64; 6] = [100, 100, 100, 100, 100, 75];
const LIFETIMES: usize = 4;

/// Runs two supplied jobs side by side over [`LIFETIMES`] token lifetimes; `advance` moves every
/// clock, `valid` asks the provider whether it takes a token. Returns how many lifetimes ran.
fn run_over_lifetimes(
    kc: &Kc,
    clock: &mut MovingClock,
    mut advance: impl FnMut(&mut MovingClock, i64),
    valid: impl Fn(&str) -> bool,
) {
    let mut jobs = [
        Job::start(kc, clock, &["acct", "--serve", "--token-file"]),
        Job::start(kc, clock, &["acct", "--serve", "--token-file"]),
    ];
    let (socket, file) = jobs[0].paths();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&socket), 0o600);
    assert_eq!(mode(socket.parent().unwrap()), 0o700);

    let mut token = assert_valid(&jobs[0].check(), 500);
    for _ in 0..LIFETIMES {
        for step in STEPS {
            advance(clock, step);
            // The file first: it must be good without anyone asking the endpoint.
            for job in jobs.iter_mut() {
                let file = job.file();
                assert!(
                    valid(&file),
                    "the token file holds a token the provider refuses"
                );
            }
            // Before it is due, the endpoint answers the same token from memory.
            if step == 100 {
                for job in jobs.iter_mut() {
                    assert_eq!(assert_valid(&job.check(), 60), token);
                }
            }
        }
        // 575 s: both keepers renew within a second or so, one refresh between them.
        let renewed = wait_for_new_file(&mut jobs[0], &token);
        assert_ne!(renewed, token);
        for job in jobs.iter_mut() {
            let seen = job.check();
            let now_token = assert_valid(&seen, 500);
            assert_eq!(now_token, renewed, "both jobs hold the one renewed token");
            assert!(valid(&now_token), "the provider refuses the served token");
        }
        token = renewed;
    }
    for job in jobs {
        let status = job.quit();
        assert!(status.success(), "{status:?}");
    }
    // The endpoint and the file are gone with the child.
    assert!(!socket.exists() && !file.exists());
    assert!(!socket.parent().unwrap().exists());
}

/// Issue 22 item 1 on the Exact emulator: a child running for four token lifetimes always holds
/// a token the emulator takes, from the endpoint and from the file; two jobs asking four at a
/// time cost one refresh per expiry (Exact's 570 s kept: no refresh error at all).
#[test]
fn exact_a_long_running_child_always_holds_a_valid_token_with_one_refresh_per_expiry() {
    let mut exact = Exact::start(Config {
        password: CANARY_PASSWORD.into(),
        ..Config::default()
    });
    let kc = Kc::with_file_store();
    exact.add(&kc, "acct", CANARY_PASSWORD);
    let mut clock = MovingClock::new(&kc);
    let mut login = kc.std_cmd();
    clock.apply(&mut login);
    let out = login.args(["login", "acct"]).output().unwrap();
    assert_success(&out, &["login", "acct"]);
    let before = exact.stats();
    assert_eq!((before.logons, before.refreshes), (1, 0));

    let client = keychain::oauth::http::client().unwrap();
    let me = exact.url("api/v1/current/Me");
    run_over_lifetimes(
        &kc,
        &mut clock,
        |clock, step| {
            exact.advance(step);
            clock.set(exact.offset);
        },
        |token| {
            client
                .get(&me)
                .bearer_auth(token)
                .send()
                .unwrap()
                .status()
                .is_success()
        },
    );
    let after = exact.stats();
    assert_eq!(after.refreshes, LIFETIMES as u32, "one refresh per expiry");
    assert_eq!(after.logons, 1, "no logon beyond the first");
    assert_eq!(after.errors, 0, "no refresh within 570 s, no error counted");

    // Every token handed out is in the audit log: one refresh event per lifetime.
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    assert_eq!(
        log.matches("\"action\":\"login_refresh\"").count(),
        LIFETIMES,
        "{log}"
    );
}

/// The same on LemonLDAP::NG (OpenID Connect, 600 s tokens, no minimum interval: renewed
/// --min-valid (60 s) before expiry). Its clock cannot move: only keychain's does, so validity
/// is judged by the expiry keychain states, and the portal counts the refreshes.
#[test]
fn llng_a_long_running_child_always_holds_a_valid_token_with_one_refresh_per_expiry() {
    let llng = Llng::exclusive();
    let kc = Kc::with_file_store();
    let pw = kc.file("pw", "msmith\n");
    let cs = kc.file("cs", "cli-secret");
    kc.ok(&[
        "add",
        "acct",
        "--provider",
        "oidc",
        "--issuer",
        llng.url.as_str(),
        "--client-id",
        "cli",
        "--redirect-uri",
        REDIRECT_URI,
        "--scope",
        "openid offline_access",
        "--user",
        "msmith",
        "--password-file",
        pw.to_str().unwrap(),
        "--client-secret-file",
        cs.to_str().unwrap(),
        "--no-totp",
    ]);
    let mut clock = MovingClock::new(&kc);
    let mut login = kc.std_cmd();
    clock.apply(&mut login);
    assert_success(
        &login.args(["login", "acct"]).output().unwrap(),
        &["login", "acct"],
    );
    // The turn's log holds this test's lines only.
    let refreshes = || llng.log().matches("\"POST /oauth2/token ").count();
    let before = refreshes();
    let userinfo = llng.url.join("oauth2/userinfo").unwrap();
    let client = keychain::oauth::http::client().unwrap();
    run_over_lifetimes(
        &kc,
        &mut clock,
        |clock, step| {
            let offset = clock.offset + step;
            clock.set(offset);
        },
        |token| {
            client
                .get(userinfo.clone())
                .bearer_auth(token)
                .send()
                .unwrap()
                .status()
                .is_success()
        },
    );
    assert_eq!(
        refreshes() - before,
        LIFETIMES,
        "one refresh per expiry: {}",
        llng.log()
    );
}

/// Stores a cached access token valid for an hour, as a logon does.
fn plant_token(kc: &Kc, name: &str, token: &str) {
    kc.edit_account(name, |account| {
        let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
        account.set_secret(
            keychain::record::SecretField::AccessToken,
            Some(secrecy::SecretString::from(token.to_string())),
            now,
        );
        account.header.access_token_issued = Some(now);
        account.header.access_token_expires = Some(now + 3600);
    });
}

fn planted() -> Kc {
    let kc = Kc::with_file_store();
    kc.add_account("acct");
    plant_token(&kc, "acct", "at-planted-4711");
    kc
}

/// Waits (real time, at most 20 s) until `path` exists.
fn wait_for(path: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never came",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Only the run's bearer secret gets the token (a missing, a wrong or a longer secret: 401); the
/// socket and file are 0600 in a 0700 folder; the secret is in no output of keychain and not in
/// the audit log; the folder is gone when the child ends.
#[test]
fn the_endpoint_answers_only_the_runs_secret_and_all_is_gone_when_the_child_ends() {
    let kc = planted();
    let out_file = kc.tmp.path().join("seen.txt");
    let script = r#"
exec > "$1"
umask 077
code() { curl -s -o /dev/null -w '%{http_code}\n' --unix-socket "$KEYCHAIN_TOKEN_SOCKET" "$@"; }
code http://k/token
code -H 'Authorization: Bearer wrong' http://k/token
printf 'Authorization: Bearer %sx\r\n' "$KEYCHAIN_TOKEN_AUTH" > "$2/long"
code -H @"$2/long" http://k/token
printf 'Authorization: Bearer %s\r\n' "$KEYCHAIN_TOKEN_AUTH" > "$2/header"
code -H @"$2/header" http://k/other
code -X POST -H @"$2/header" http://k/token
curl -s --unix-socket "$KEYCHAIN_TOKEN_SOCKET" -H @"$2/header" http://k/token
stat -c '%a' "$KEYCHAIN_TOKEN_SOCKET" "$KEYCHAIN_TOKEN_FILE" "$(dirname "$KEYCHAIN_TOKEN_FILE")"
cat "$KEYCHAIN_TOKEN_FILE"; echo
echo "$KEYCHAIN_TOKEN_AUTH"
echo "$KEYCHAIN_TOKEN_SOCKET"
echo "$KEYCHAIN_TOKEN_FILE"
"#;
    let work = kc.tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let args = [
        "exec",
        "acct",
        "--serve",
        "--token-file",
        "--",
        "sh",
        "-c",
        script,
        "child",
        out_file.to_str().unwrap(),
        work.to_str().unwrap(),
    ];
    let out = kc.run(&args);
    assert_success(&out, &args);
    let seen = std::fs::read_to_string(&out_file).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[..5], ["401", "401", "401", "404", "405"], "{seen}");
    let answer: serde_json::Value = serde_json::from_str(lines[5]).unwrap();
    // The document `login --format json` prints: one field vocabulary.
    support::shape::Schemas::load().check("login", &answer);
    assert!(lines[5].starts_with("{\"format\":1,"), "{}", lines[5]);
    assert_eq!(answer["access_token"], "at-planted-4711");
    let expires_in = answer["expires_in"].as_i64().unwrap();
    assert!((3500..=3600).contains(&expires_in), "{answer}");
    assert!(answer["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lines[6..9], ["600", "600", "700"], "{seen}");
    assert_eq!(lines[9], "at-planted-4711");
    let secret = lines[10];
    assert!(secret.len() >= 40, "a 256-bit secret: {secret}");
    let (socket, file) = (Path::new(lines[11]), Path::new(lines[12]));
    assert!(!socket.exists() && !file.exists() && !file.parent().unwrap().exists());
    // The secret and the token left only through the child's environment and the endpoint.
    for text in [
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    ] {
        assert!(
            !text.contains(secret) && !text.contains("at-planted-4711"),
            "{text}"
        );
    }
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    assert!(!log.contains(secret) && !log.contains("at-planted-4711"));
    // The token handed to the job is in the audit log.
    assert!(log.contains("\"action\":\"login_cache\""), "{log}");
}

/// SIGTERM to keychain reaches the child, keychain waits for it, passes its exit code on and
/// removes the run folder.
#[test]
fn sigterm_to_keychain_reaches_the_child_and_the_run_folder_goes() {
    let kc = planted();
    let ready = kc.tmp.path().join("ready");
    let got = kc.tmp.path().join("got-term");
    let script = r#"trap 'echo term > "$2"; exit 3' TERM
echo "$KEYCHAIN_TOKEN_FILE" > "$1.tmp"; mv "$1.tmp" "$1"
i=0; while [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done"#;
    let mut child = kc
        .std_cmd()
        .args([
            "exec",
            "acct",
            "--serve",
            "--token-file",
            "--",
            "sh",
            "-c",
            script,
            "child",
        ])
        .arg(&ready)
        .arg(&got)
        .spawn()
        .unwrap();
    wait_for(&ready);
    let file = PathBuf::from(std::fs::read_to_string(&ready).unwrap().trim());
    assert!(file.exists());
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    // 0 after 20 s: the signal never reached the child.
    assert_eq!(status.code(), Some(3), "the child's exit code: {status:?}");
    assert_eq!(std::fs::read_to_string(&got).unwrap().trim(), "term");
    assert!(!file.parent().unwrap().exists(), "the run folder is gone");
}

/// A keychain killed outright (SIGKILL) cannot clean up: its socket then refuses every
/// connection (the secret died with it), and the next `exec` removes the folder.
#[test]
fn a_killed_keychain_leaves_a_dead_socket_that_the_next_exec_removes() {
    let kc = planted();
    let ready = kc.tmp.path().join("ready");
    let script = r#"echo "$$ $KEYCHAIN_TOKEN_SOCKET" > "$1.tmp"; mv "$1.tmp" "$1"
exec sleep 60"#;
    let mut child = kc
        .std_cmd()
        .args(["exec", "acct", "--serve", "--", "sh", "-c", script, "child"])
        .arg(&ready)
        .spawn()
        .unwrap();
    wait_for(&ready);
    let text = std::fs::read_to_string(&ready).unwrap();
    let (pid, socket) = text.trim().split_once(' ').unwrap();
    let socket = PathBuf::from(socket);
    assert!(std::os::unix::net::UnixStream::connect(&socket).is_ok());
    child.kill().unwrap();
    child.wait().unwrap();
    // The orphaned child is the test's to end.
    let _ = std::process::Command::new("kill").arg(pid).status();
    assert!(socket.exists(), "SIGKILL leaves the folder");
    assert!(
        std::os::unix::net::UnixStream::connect(&socket).is_err(),
        "nobody answers on a dead run's socket"
    );
    let args = ["exec", "acct", "--serve", "--", "true"];
    assert_success(&kc.run(&args), &args);
    assert!(
        !socket.parent().unwrap().exists(),
        "the next exec removed the dead run's folder"
    );
}

/// A job whose refreshes start failing mid-run (the client secret is refused): the endpoint
/// serves the token while it is valid, then answers 503 with the error's class and exit code;
/// the on-failure hook runs once for the incident, however often the child asks and the keeper
/// tries again.
#[test]
fn exact_a_refused_refresh_mid_run_answers_503_and_runs_the_hook_once() {
    let mut exact = Exact::start(Config {
        password: CANARY_PASSWORD.into(),
        ..Config::default()
    });
    let kc = Kc::with_file_store();
    exact.add(&kc, "acct", CANARY_PASSWORD);
    let mut clock = MovingClock::new(&kc);
    let mut login = kc.std_cmd();
    clock.apply(&mut login);
    assert_success(
        &login.args(["login", "acct"]).output().unwrap(),
        &["login", "acct"],
    );
    let hook_log = kc.tmp.path().join("hook.log");
    let hook = format!(
        "echo \"$KEYCHAIN_ACCOUNT $KEYCHAIN_FAILURE_REASON $KEYCHAIN_EXIT_CODE\" >> '{}'",
        hook_log.display()
    );
    let mut job = Job::start(
        &kc,
        &clock,
        &["acct", "--serve", "--token-file", "--on-failure", &hook],
    );
    let token = assert_valid(&job.check(), 500);

    let wrong = kc.file("wrong.cs", "not-the-client-secret");
    let mut set = kc.std_cmd();
    clock.apply(&mut set);
    let args = [
        "set",
        "acct",
        "--client-secret-file",
        wrong.to_str().unwrap(),
    ];
    assert_success(&set.args(args).output().unwrap(), &args);

    // 575 s: the refresh is refused; the token still has 25 s and is served.
    exact.advance(575);
    clock.set(exact.offset);
    let seen = job.check();
    assert_eq!(assert_valid(&seen, 10), token);
    // 605 s: expired, and no new one: 503, several times over.
    exact.advance(30);
    clock.set(exact.offset);
    for _ in 0..3 {
        let seen = job.check();
        for answer in &seen.answers {
            assert_eq!(answer["error"], "unavailable", "{seen:?}");
            assert_eq!(answer["exit_code"], 5, "{seen:?}");
            assert!(answer.get("access_token").is_none());
        }
    }
    // Past the keeper's backoff: it tried again, and the incident is still the same one.
    std::thread::sleep(std::time::Duration::from_secs(6));
    job.check();
    assert!(job.quit().success());
    let lines = std::fs::read_to_string(&hook_log).unwrap();
    assert_eq!(lines, "acct rejected 5\n");
    assert!(exact.stats().token_requests >= 3, "the keeper tried again");
}
