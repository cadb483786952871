//! Issue 23, points 1 and 3: an explicit flag beats the environment, a bare value is never
//! turned into JSON by `KEYCHAIN_FORMAT`, conflicting format flags are refused, and a JSON
//! usage error carries clap's whole message.

use std::process::Output;

use secrecy::SecretString;
use serde_json::Value;

use crate::support::{self, CANARY_PASSWORD, Kc, assert_exit, assert_success, stderr};

/// A keychain with `acme` (password and TOTP secret) and `books` (a cached access token
/// `at-123`, valid for an hour).
fn keychain() -> Kc {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.ok(&support::add_args("books", &["--no-password"]));
    kc.edit_account("books", |account| {
        let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
        account.set_secret(
            keychain::record::SecretField::AccessToken,
            Some(SecretString::from("at-123".to_string())),
            now,
        );
        account.header.access_token_expires = Some(now + 3600);
    });
    kc
}

fn run(kc: &Kc, env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = kc.cmd();
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    cmd.output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// What a command's standard output must be.
enum Expect {
    /// Exactly these bytes.
    Exactly(&'static str),
    /// Starts with this (a script, roff).
    StartsWith(&'static str),
    /// One line that starts with this, and nothing after it (an identity for systemd-creds).
    OneLine(&'static str),
    /// One keychain JSON document ("format": 1 first).
    Document,
    /// Not a keychain document: a bare value of its own shape (a code, a fingerprint, a
    /// protocol answer, another program's JSON).
    NotADocument,
    /// Refused as a usage error (exit 2), nothing on standard output.
    Refused,
}

/// (environment, arguments, standard input, what standard output must be).
type Case<'a> = (
    &'a [(&'a str, &'a str)],
    Vec<&'a str>,
    Option<&'a str>,
    Expect,
);

/// (variable, a value, the command with its flag, the same without it).
type Row<'a> = (&'a str, &'a str, Vec<&'a str>, Option<Vec<&'a str>>);

/// Every command, with the environment's JSON default and with explicit flags: a bare value
/// stays bare under `KEYCHAIN_FORMAT=json`; `--json` gives JSON where there is a JSON form
/// and is refused where there is none; `--json` against another `--format` is refused. On the
/// code before this fix, `KEYCHAIN_FORMAT=json` turned `login --format env` and `totp` into
/// JSON and made `show --reveal`, `read`, `man` and `completions` fail with exit 2.
#[test]
fn explicit_flags_beat_keychain_format_and_bare_values_stay_bare() {
    let kc = keychain();
    let json = [("KEYCHAIN_FORMAT", "json")];
    let text = [("KEYCHAIN_FORMAT", "text")];
    let git_request = "protocol=https\nhost=git.example.com\n\n";
    let template = "token={{ keychain://books/access-token }}\n";
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        // The environment's default does not reach a bare value.
        (&json, vec!["login", "books"], None, Expect::Exactly("at-123\n")),
        (&json, vec!["login", "books", "--format", "token"], None, Expect::Exactly("at-123\n")),
        (&json, vec!["login", "books", "--format", "env"], None,
            Expect::Exactly("export KEYCHAIN_ACCESS_TOKEN='at-123'\n")),
        (&json, vec!["login", "books", "--format", "header"], None,
            Expect::Exactly("Authorization: Bearer at-123\n")),
        (&json, vec!["login", "books", "--format", "credential-process"], None, Expect::NotADocument),
        (&json, vec!["login", "books", "--format", "json"], None, Expect::Document),
        (&json, vec!["totp", "acme"], None, Expect::NotADocument),
        (&json, vec!["show", "acme", "--reveal", "password"], None,
            Expect::Exactly(concat!("pw-canary-7f3a9c", "\n"))),
        (&json, vec!["read", "acme/user"], None, Expect::Exactly("dwho\n")),
        (&json, vec!["read", "books/access-token"], None, Expect::Exactly("at-123\n")),
        (&json, vec!["inject", "-", "-o", "-"], Some(template), Expect::Exactly("token=at-123\n")),
        (&json, vec!["exec", "books", "--", "sh", "-c", "echo \"$KEYCHAIN_ACCESS_TOKEN\""], None,
            Expect::Exactly("at-123\n")),
        (&json, vec!["git-credential", "books", "--url", "https://git.example.com", "get"],
            Some(git_request), Expect::NotADocument),
        (&json, vec!["kube-credential", "books"], None, Expect::NotADocument),
        (&json, vec!["audit", "fingerprint", "acme", "password"], Some(CANARY_PASSWORD),
            Expect::NotADocument),
        (&json, vec!["unlock", "--systemd-credential"], None, Expect::OneLine("AGE-SECRET-KEY-")),
        (&json, vec!["man", "login"], None, Expect::StartsWith("'\\\" t\n")),
        (&json, vec!["completions", "bash"], None, Expect::NotADocument),
        // ... and stays the default of a document.
        (&json, vec!["list"], None, Expect::Document),
        (&json, vec!["show", "acme"], None, Expect::Document),
        (&json, vec!["status", "books"], None, Expect::Document),
        // An explicit --json wins over KEYCHAIN_FORMAT=text.
        (&text, vec!["list", "--json"], None, Expect::Document),
        (&text, vec!["totp", "acme", "--json"], None, Expect::Document),
        (&text, vec!["login", "books", "--json"], None, Expect::Document),
        (&text, vec!["--json", "login", "books", "--format", "json"], None, Expect::Document),
        // Explicit flags that contradict each other, or --json where there is no JSON form.
        (&[], vec!["login", "books", "--json", "--format", "env"], None, Expect::Refused),
        (&[], vec!["--json", "login", "books", "--format", "header"], None, Expect::Refused),
        (&[], vec!["login", "books", "--format", "token", "--json"], None, Expect::Refused),
        (&[], vec!["show", "acme", "--reveal", "password", "--json"], None, Expect::Refused),
        (&[], vec!["read", "acme/user", "--json"], None, Expect::Refused),
        (&[], vec!["man", "login", "--json"], None, Expect::Refused),
        (&[], vec!["completions", "bash", "--json"], None, Expect::Refused),
        (&[], vec!["unlock", "--systemd-credential", "--json"], None, Expect::Refused),
    ];
    let mut failures = Vec::new();
    for (env, args, stdin, expect) in &cases {
        let out = run(&kc, env, args, *stdin);
        let printed = stdout(&out);
        let is_document =
            printed.starts_with("{\n  \"format\": 1,") || printed.starts_with("{\"format\":1,");
        let ok = match expect {
            Expect::Refused => out.status.code() == Some(2) && printed.is_empty(),
            // status exits as a monitoring plugin: its document comes with any status.
            _ if out.status.code() != Some(0) && args[0] != "status" => false,
            Expect::Exactly(want) => printed == *want,
            Expect::StartsWith(want) => printed.starts_with(want),
            Expect::OneLine(want) => printed.starts_with(want) && printed.lines().count() == 1,
            Expect::Document => is_document && serde_json::from_str::<Value>(&printed).is_ok(),
            Expect::NotADocument => !printed.is_empty() && !is_document,
        };
        if !ok {
            failures.push(format!(
                "{env:?} keychain {}: exit {:?}\nstdout: {printed}\nstderr: {}",
                args.join(" "),
                out.status.code(),
                stderr(&out)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // A refusal says which flags and what to do, as JSON when --json was given.
    let out = run(
        &kc,
        &[],
        &["login", "books", "--json", "--format", "env"],
        None,
    );
    let error: Value = serde_json::from_str(&stderr(&out)).unwrap();
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("--json") && message.contains("--format env"),
        "{error}"
    );
    let out = run(
        &kc,
        &[],
        &["show", "acme", "--reveal", "password", "--json"],
        None,
    );
    let error: Value = serde_json::from_str(&stderr(&out)).unwrap();
    assert!(
        error["message"].as_str().unwrap().contains("no JSON form"),
        "{error}"
    );
    assert!(
        error["hint"].as_str().unwrap().contains("--json"),
        "{error}"
    );
    // The environment's default is not applied to a bare value's errors either: they are for
    // the person reading the job's log, as the value is for the shell.
    let out = run(&kc, &json, &["totp", "nope"], None);
    assert_exit(&out, 3);
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
    let out = run(&kc, &json, &["show", "nope"], None);
    assert_exit(&out, 3);
    assert!(stderr(&out).starts_with('{'), "{}", stderr(&out));
}

/// Every flag with an environment variable (`[env: KEYCHAIN_...]`): the flag given on the line
/// wins over the variable. The table must have a row for every such flag of every command; a
/// row runs a command with a bad or other value in the variable and a good one in the flag.
#[test]
fn every_flag_beats_its_environment_variable() {
    let kc = keychain();
    let other = tempfile::tempdir().unwrap();
    let missing = other.path().join("no-keychain-here");
    let missing = missing.to_str().unwrap();
    let dir = kc.dir.to_str().unwrap();
    let marks = tempfile::tempdir().unwrap();
    let by_env = format!("touch '{}/env'", marks.path().display());
    let by_flag = format!("touch '{}/flag'", marks.path().display());
    let pass = kc.file("pass.txt", "correct horse\n");
    let pass = pass.to_str().unwrap();
    let locked = Kc::new();
    locked.ok(&[
        "--passphrase-file",
        pass,
        "init",
        "--key-store",
        "passphrase",
    ]);
    let locked_dir = locked.dir.to_str().unwrap();

    // (variable, a value, the command with its flag, the same without the flag, which must fail
    // for the variable to be shown read; None where a bad value is not checked before use).
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("KEYCHAIN_DIR", missing, vec!["--dir", dir, "show", "acme"], Some(vec!["show", "acme"])),
        ("KEYCHAIN_LOCK_TIMEOUT", "soon", vec!["list", "--lock-timeout", "5"], Some(vec!["list"])),
        ("KEYCHAIN_OPENBAO_LEASE", "1", vec!["list", "--openbao-lease", "30"], Some(vec!["list"])),
        ("KEYCHAIN_PASSPHRASE_FILE", missing,
            vec!["--dir", locked_dir, "audit", "verify", "--passphrase-file", pass],
            Some(vec!["--dir", locked_dir, "audit", "verify"])),
        ("KEYCHAIN_KEYRING_TIMEOUT", "0", vec!["list", "--keyring-timeout", "5"], None),
        ("KEYCHAIN_SCRYPT_WORK_FACTOR", "30", vec!["list", "--scrypt-work-factor", "10"], None),
        // init --addr's variables: clap's, the flag taken when given (not run: needs OpenBao).
        ("BAO_ADDR", "https://bao.invalid", vec!["list"], None),
        ("VAULT_ADDR", "https://vault.invalid", vec!["list"], None),
    ];
    let mut failures = Vec::new();
    for (var, value, args, alone) in &rows {
        let with_flag = run(&kc, &[(var, value)], args, None);
        if !with_flag.status.success() {
            failures.push(format!(
                "{var}={value} keychain {}: {}",
                args.join(" "),
                stderr(&with_flag)
            ));
        }
        if let Some(alone) = alone
            && run(&kc, &[(var, value)], alone, None).status.success()
        {
            failures.push(format!(
                "{var}={value} keychain {}: the variable was not read",
                alone.join(" ")
            ));
        }
    }
    // --on-failure (login, exec, read, inject, git-credential, kube-credential, refresh): the
    // flag's command runs, not the variable's; the variable alone runs its own. `acct` has
    // nothing to log on with (a hook runs once per incident: one keychain each).
    let port = support::closed_port();
    let url = format!("http://127.0.0.1:{}/token", port.port);
    let hook = [("KEYCHAIN_ON_FAILURE", by_env.as_str())];
    for (with_flag, mark) in [(true, "flag"), (false, "env")] {
        let kc = Kc::with_file_store();
        let out = support::login::add_oauth2(&kc, &url, &url, &["--no-password"]);
        assert_success(&out, &["add"]);
        let mut args = vec!["login", "acct"];
        if with_flag {
            args.extend(["--on-failure", &by_flag]);
        }
        assert_exit(&run(&kc, &hook, &args, None), 2);
        let marked: Vec<String> = std::fs::read_dir(marks.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(marked, [mark], "keychain {}", args.join(" "));
        std::fs::remove_file(marks.path().join(mark)).unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Every flag of every command that has a variable is in a row above.
    let mut vars: Vec<String> = Vec::new();
    let mut stack = vec![<keychain::cli::Cli as clap::CommandFactory>::command()];
    while let Some(command) = stack.pop() {
        for arg in command.get_arguments() {
            if let Some(var) = arg.get_env() {
                vars.push(var.to_string_lossy().into_owned());
            }
        }
        stack.extend(command.get_subcommands().cloned());
    }
    vars.sort();
    vars.dedup();
    for var in vars {
        assert!(
            var == "KEYCHAIN_ON_FAILURE" || rows.iter().any(|(v, ..)| *v == var),
            "{var}: no row checks that its flag wins"
        );
    }
}

/// A completion of `keychain --dir DIR show <Tab>` lists DIR's accounts, not those of
/// KEYCHAIN_DIR: the flag on the line wins there too.
#[test]
fn completion_takes_the_dir_on_the_line_over_keychain_dir() {
    let kc = keychain();
    let out = kc
        .cmd()
        .env("KEYCHAIN_DIR", "/nonexistent/keychain")
        .env("KEYCHAIN_COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "4")
        .args([
            "--",
            "keychain",
            "--dir",
            kc.dir.to_str().unwrap(),
            "show",
            "ac",
        ])
        .output()
        .unwrap();
    assert_success(&out, &["complete --dir DIR show"]);
    let words = stdout(&out);
    let words: Vec<&str> = words
        .split(['\n', '\u{b}'])
        .filter(|w| !w.is_empty())
        .collect();
    assert_eq!(words, ["acme"]);
}

/// Issue 23 (3): under `--json` a usage error kept only its first line ("the following required
/// arguments were not provided:") and lost the argument, the possible values and the
/// did-you-mean. The JSON error now carries all of them; the text error is unchanged.
#[test]
fn a_json_usage_error_carries_the_whole_message() {
    let kc = Kc::new();
    #[rustfmt::skip]
    let cases: [(&[&str], &[&str]); 7] = [
        // A missing argument: which one.
        (&["login", "--json"], &["required arguments", "<NAME>"]),
        (&["export", "--json"], &["required arguments", "--recipient", "<FILE>"]),
        // A bad value: the value and the possible ones.
        (&["login", "a", "--format", "yaml", "--json"],
            &["'yaml'", "--format", "possible values", "token", "header", "credential-process"]),
        (&["audit", "--fail-on", "severe", "--json"], &["'severe'", "possible values", "critical"]),
        // A mistyped command or flag: the suggestion.
        (&["logn", "acme", "--json"], &["'logn'", "similar subcommand", "'login'"]),
        (&["list", "--jsn", "--json"], &["'--jsn'", "similar argument", "'--json'"]),
        // An argument too many.
        (&["totp", "a", "b", "--json"], &["unexpected argument", "'b'"]),
    ];
    for (args, words) in cases {
        let out = kc.run(args);
        assert_exit(&out, 2);
        let text = stderr(&out);
        assert_eq!(text.lines().count(), 1, "{args:?}: {text}");
        let error: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(error["code"], "usage");
        let message = error["message"].as_str().unwrap();
        for word in words {
            assert!(
                message.contains(word),
                "{args:?}: {word} missing from {message:?}"
            );
        }
        assert!(!message.contains('\n'), "{message:?}");
        // What to type instead is in the hint, with where help is.
        let hint = error["hint"].as_str().unwrap();
        assert!(hint.contains("keychain"), "{hint}");
        // Without --json: clap's own text, as before.
        let plain: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
        let text = stderr(&kc.run(&plain));
        assert!(text.starts_with("error: "), "{text}");
    }
}
