//! Output for people: tables that fit the terminal, `-` for an empty cell, an error's class in
//! a cell, colours only on a terminal and never with NO_COLOR, and a progress line while
//! waiting, only on a terminal. Terminals are real pseudo-terminals (util-linux `script`).

use crate::support;

use support::*;
use unicode_width::UnicodeWidthStr;

/// Runs `keychain ARGS` (a shell-quoted string) on a pseudo-terminal; stdout and stderr both
/// arrive on the captured stdout, as on a screen.
fn on_terminal(kc: &Kc, args: &str, env: &[(&str, &str)]) -> (i32, String) {
    let bin = assert_cmd::cargo::cargo_bin("keychain");
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &format!("{} {args}", bin.display()), "/dev/null"])
        .env("KEYCHAIN_DIR", &kc.dir)
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .expect("util-linux 'script' is needed: run scripts/install-test-deps");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn add_long_user(kc: &Kc) {
    kc.ok(&add_args("acme", &["--no-password", "--no-totp"]));
    kc.ok(&[
        "set",
        "acme",
        "--user",
        "a.very.long.user.name.for.an.etl.job@subsidiary.example.com",
    ]);
}

#[test]
fn list_fits_columns_and_cuts_with_an_ellipsis_but_a_pipe_gets_whole_values() {
    let kc = Kc::with_file_store();
    add_long_user(&kc);
    let out = kc.cmd().arg("list").env("COLUMNS", "50").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for line in text.lines() {
        assert!(line.width() <= 50, "{line:?} is wider than 50");
    }
    assert!(text.contains('…'), "{text}");
    // Empty cells are '-', so the columns stay countable.
    let row: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row.len(), 4, "{row:?}");
    assert_eq!(row[3], "-");

    let text = kc.ok(&["list"]);
    assert!(text.contains("subsidiary.example.com"), "{text}");
    assert!(!text.contains('…'));
    // On an 80-column terminal, no line is wider than the terminal.
    let (_, screen) = on_terminal(&kc, "list", &[("COLUMNS", "80")]);
    assert!(
        screen
            .lines()
            .all(|l| l.trim_end_matches('\r').width() <= 80),
        "{screen}"
    );
}

#[test]
fn an_error_in_a_table_cell_is_its_class_and_the_log_keeps_the_rest() {
    let kc = Kc::with_file_store();
    let rt = kc.file("rt.txt", "rt-1");
    kc.ok(&add_args(
        "acme",
        &[
            "--no-password",
            "--no-totp",
            "--refresh-token-file",
            rt.to_str().unwrap(),
        ],
    ));
    // The provider (127.0.0.1:9) is unreachable: the failure is logged with its reason.
    assert_exit(&kc.run(&["login", "acme"]), 5);
    let out = kc.run(&["audit", "--fail-on", "critical"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let row = text.lines().find(|l| l.starts_with("acme")).unwrap();
    assert!(row.contains("login_failed: failed: exit 5)"), "{row}");
    assert!(!row.contains("could not connect"), "{row}");
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    assert!(
        log.contains("could not connect"),
        "the whole reason is in the log"
    );
}

#[test]
fn severities_are_coloured_on_a_terminal_only_and_never_with_no_color() {
    let kc = Kc::with_file_store();
    kc.ok(&add_args("orphan", &["--no-password", "--no-totp"]));
    let (code, screen) = on_terminal(&kc, "status", &[]);
    assert_eq!(code, 2);
    assert!(screen.contains("\x1b[1;31mcritical\x1b[0m"), "{screen:?}");
    let (_, screen) = on_terminal(&kc, "status", &[("NO_COLOR", "1")]);
    assert!(!screen.contains('\x1b'), "{screen:?}");
    let piped = kc.run(&["status"]);
    assert!(!contains(&piped.stdout, "\x1b"));
    assert!(contains(&piped.stdout, "critical  orphan: cannot-log-on"));
}

#[test]
fn waiting_for_a_lock_shows_a_progress_line_on_a_terminal_only() {
    let kc = Kc::with_file_store();
    kc.ok(&add_args("acme", &["--no-password", "--no-totp"]));
    let lock = kc.dir.join("locks/acme.lock");
    assert!(
        lock.exists(),
        "the account's lock file is {}",
        lock.display()
    );
    // Another process holds the account for longer than keychain waits.
    let mut holder = std::process::Command::new("flock")
        .args([lock.to_str().unwrap(), "sleep", "30"])
        .spawn()
        .expect("flock (util-linux) is needed");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (code, screen) = on_terminal(
        &kc,
        "set acme --scope openid",
        &[("KEYCHAIN_LOCK_TIMEOUT", "2")],
    );
    let piped = kc
        .cmd()
        .args(["set", "acme", "--scope", "openid"])
        .env("KEYCHAIN_LOCK_TIMEOUT", "2")
        .output()
        .unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_ne!(code, 0, "{screen}");
    assert!(
        screen.contains("waiting for account 'acme': another keychain process (pid ")
            && screen.contains(") is using it…"),
        "{screen:?}"
    );
    assert!(!piped.status.success());
    assert!(
        !stderr(&piped).contains("waiting for account"),
        "{}",
        stderr(&piped)
    );
}
