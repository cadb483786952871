//! Issue 23 point 6: every hint that names a command or a flag names one that exists. Two
//! collections, both checked against the real clap command tree (`keychain::cli::Cli`):
//!
//! - statically, every command line quoted in the sources (`'keychain ...'` in advice.rs,
//!   exit.rs hints, error texts, command advice), and every `account_command(VERB, _, REST)`
//!   of the advice module, parsed as the command line it is;
//! - at run time, the hints of real failures (a table of commands that fail), whose `--flags`
//!   must belong to the command that failed (the old `mv` hint named `add`'s `--replace`).
//!
//! And every network error names the host it was talking to.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap::error::ErrorKind;

use crate::support::*;

/// Phrases in quotes that begin with "keychain" but are prose, or labels of the crypto (domain
/// separation strings such as 'keychain audit mac v1'), not command lines.
fn prose(line: &str) -> bool {
    let label = regex::Regex::new(r" v1$| counters 1$|^keychain destroy$").unwrap();
    let words = regex::Regex::new(
        r"^keychain (needs|never|stops|keeps|gives|checks|refuses|speaks|unlock needs) ",
    )
    .unwrap();
    label.is_match(line) || words.is_match(line)
}

/// Every `.rs` file of the CLI and the core, tests left out.
fn sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut stack = vec![root.join("src"), root.join("keychain-core/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if !name.contains("tests") {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") && !name.contains("tests") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The command lines quoted in the sources, each with where it was found.
fn quoted_commands() -> Vec<(String, String)> {
    // Quoted ('...' or `...`), or said after "e.g." or "in:" ("e.g. keychain man login",
    // "pipe the value in: keychain audit fingerprint ..."), up to a comma or a redirection.
    let quoted = [
        regex::Regex::new(r"'keychain ([^']*)'").unwrap(),
        regex::Regex::new(r"`keychain ([^`]*)`").unwrap(),
        regex::Regex::new(r#"(?:e\.g\.|in:|folder:|import:) keychain ([a-z][^",<|;]*)"#).unwrap(),
    ];
    let advice =
        regex::Regex::new(r#"account_command\(\s*"([a-z -]+)",\s*[^,]+,\s*"([^"]*)""#).unwrap();
    let mut found = Vec::new();
    for file in sources() {
        let text = std::fs::read_to_string(&file).unwrap();
        let shown = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap()
            .display()
            .to_string();
        for (i, line) in text.lines().enumerate() {
            // Doc comments show usage synopses ([NAME]...), not advice.
            if line.trim_start().starts_with("//") {
                continue;
            }
            for pattern in &quoted {
                for c in pattern.captures_iter(line) {
                    let command = c[1].replace('\'', "").replace("\\n", "");
                    found.push((format!("keychain {command}"), format!("{shown}:{}", i + 1)));
                }
            }
            for c in advice.captures_iter(line) {
                found.push((
                    format!("keychain {} acme{}", &c[1], &c[2]),
                    format!("{shown}:{}", i + 1),
                ));
            }
        }
    }
    found
}

/// What a placeholder in a quoted command line stands for becomes this value; clap's refusal
/// of it as a value (a FIELD, a DURATION) is no fault of the hint.
const SAMPLE: &str = "sample0";

/// The words of a command line as a person would type them: format placeholders (`{name}`)
/// and upper-case placeholders (`FILE`, `NAME`) become a sample value, `...` and anything after
/// a pipe are left out.
fn words(line: &str) -> Vec<String> {
    let line = line.split(['|', '<', '#']).next().unwrap();
    let braces = regex::Regex::new(r"\{[a-z_]*\}").unwrap();
    let line = braces.replace_all(line, SAMPLE);
    let placeholder = regex::Regex::new(r"^[A-Z][A-Z0-9._-]+$").unwrap();
    line.split_whitespace()
        .filter(|w| *w != "..." && !w.is_empty())
        .map(|w| {
            // `--name=VALUE` keeps its flag.
            match w.split_once('=') {
                Some((flag, v)) if flag.starts_with("--") && placeholder.is_match(v) => {
                    format!("{flag}={SAMPLE}")
                }
                _ if placeholder.is_match(w) => SAMPLE.to_string(),
                _ => w.trim_end_matches([',', '.', ';', ')']).to_string(),
            }
        })
        .collect()
}

/// Why `line` is not a command line keychain takes, or `None` when it is one (or one with only
/// required arguments left out, as a hint may abbreviate).
fn refused(line: &str) -> Option<String> {
    let words = words(line);
    // `help cron` is a topic main.rs answers before clap (clap's help knows only commands);
    // `help COMMAND` is any command.
    if words.len() == 3 && words[1] == "help" && (words[2] == "cron" || words[2] == SAMPLE) {
        return None;
    }
    match keychain::cli::Cli::command().try_get_matches_from(&words) {
        Ok(_) => None,
        Err(e) => match e.kind() {
            ErrorKind::MissingRequiredArgument
            | ErrorKind::MissingSubcommand
            | ErrorKind::DisplayHelp
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            | ErrorKind::DisplayVersion => None,
            ErrorKind::InvalidValue | ErrorKind::ValueValidation
                if e.to_string().contains(SAMPLE) =>
            {
                None
            }
            _ => Some(format!(
                "{words:?}: {}",
                e.to_string().lines().next().unwrap()
            )),
        },
    }
}

#[test]
fn every_command_line_quoted_in_a_hint_parses_with_the_real_command_tree() {
    let found = quoted_commands();
    assert!(
        found.len() > 50,
        "the collection found only {}",
        found.len()
    );
    let bad: Vec<String> = found
        .iter()
        .filter(|(line, _)| !prose(line))
        // The template of `account_command` itself; each of its uses is collected instead.
        .filter(|(line, _)| !line.contains("{verb}"))
        .filter_map(|(line, at)| refused(line).map(|why| format!("{at}: '{line}': {why}")))
        .collect();
    assert!(
        bad.is_empty(),
        "hints that name no real command:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_collector_catches_a_flag_that_does_not_exist() {
    // The test above would catch the defect it is for.
    assert!(refused("keychain mv acme beta --replace").is_some());
    assert!(refused("keychain import FILE.age --replace").is_none());
    assert!(refused("keychain sett acme").is_some());
}

/// The long flags `args` (a command line) may take: its subcommand's and the global ones.
fn flags_of(args: &[&str]) -> Vec<String> {
    let mut command = keychain::cli::Cli::command();
    command.build();
    let mut flags: Vec<String> = Vec::new();
    let mut add = |c: &clap::Command| {
        for arg in c.get_arguments() {
            if let Some(long) = arg.get_long() {
                flags.push(format!("--{long}"));
            }
            for alias in arg.get_all_aliases().unwrap_or_default() {
                flags.push(format!("--{alias}"));
            }
        }
    };
    add(&command);
    let mut current = command;
    for word in args {
        match current.find_subcommand(word) {
            Some(sub) => {
                let sub = sub.clone();
                add(&sub);
                current = sub;
            }
            None => break,
        }
    }
    flags
}

/// The hint of a failed run: the JSON error's `hint` (empty when the run succeeded).
fn hint_of(kc: &Kc, args: &[&str], stdin: &str) -> String {
    let out = kc
        .cmd()
        .args(args)
        .arg("--json")
        .write_stdin(stdin)
        .output()
        .unwrap();
    if out.status.success() {
        // Nothing failed, so there is no hint (each failure is pinned by its own test).
        return String::new();
    }
    let err: serde_json::Value = serde_json::from_slice(&out.stderr)
        .unwrap_or_else(|e| panic!("keychain {args:?}: no JSON error ({e}): {}", stderr(&out)));
    let error = if err["error"].is_object() {
        &err["error"]
    } else {
        &err
    };
    error["hint"].as_str().unwrap_or("").to_string()
}

#[test]
fn the_hints_of_real_failures_name_flags_of_the_command_that_failed() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.add_account("beta");
    let export = kc.tmp.path().join("exists.age");
    std::fs::write(&export, "x").unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(kc.dir.join("config.json")).unwrap()).unwrap();
    let recipient = config["recipient"].as_str().unwrap().to_string();
    let other_pw = kc.file("other.txt", "another\n");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["mv", "acme", "beta"], ""),
        (
            add_args("acme", &["--password-file", other_pw.to_str().unwrap()]),
            "",
        ),
        (vec!["rm", "acme"], ""),
        (vec!["set", "acme"], ""),
        (
            vec![
                "export",
                "--recipient",
                &recipient,
                export.to_str().unwrap(),
            ],
            "",
        ),
        (
            vec![
                "add",
                "new",
                "--provider",
                "oidc",
                "--issuer",
                "http://127.0.0.1:9",
                "--client-id",
                "c",
                "--user",
                "u",
                "--no-password",
            ],
            "",
        ),
        (vec!["import", export.to_str().unwrap()], ""),
        (vec!["show", "nobody"], ""),
    ];
    let flag = regex::Regex::new(r"(^|[\s(])(--[a-z][a-z-]*)").unwrap();
    let quoted = regex::Regex::new(r"'keychain [^']*'").unwrap();
    let mut bad = Vec::new();
    for (args, stdin) in &cases {
        let hint = hint_of(&kc, args, stdin);
        // A command line quoted in the hint is checked as a whole; the flags said in words
        // belong to the command that failed.
        for q in quoted.find_iter(&hint) {
            if let Some(why) = refused(q.as_str().trim_matches('\'')) {
                bad.push(format!("{args:?}: {why}"));
            }
        }
        let words = quoted.replace_all(&hint, "");
        let known = flags_of(args);
        for c in flag.captures_iter(&words) {
            if !known.contains(&c[2].to_string()) {
                bad.push(format!(
                    "keychain {args:?}: its hint names {} which it does not take: {hint}",
                    &c[2]
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn a_scan_of_the_backup_import_strip_keeps_advises_deleting_it_not_importing_it() {
    let kc = Kc::with_file_store();
    let settings = kc.tmp.path().join("settings-test.xml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/settings/settings-test.xml"),
        &settings,
    )
    .unwrap();
    kc.ok(&["import", settings.to_str().unwrap(), "--strip"]);
    let backup = std::fs::read_dir(kc.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(".keychain-backup-"))
        .expect("import --strip keeps a backup");
    let out = kc.run(&["scan", backup.to_str().unwrap()]);
    assert_exit(&out, 1);
    let advice = stderr(&out);
    let name = backup.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        !advice.contains(&format!("{name}' --strip")) && !advice.contains("import: "),
        "{advice}"
    );
    assert!(!advice.contains("store each secret"), "{advice}");
    assert!(
        advice.contains(&format!("delete: {}", backup.display())),
        "{advice}"
    );
}

#[test]
fn an_openid_discovery_error_names_the_host_it_was_talking_to() {
    let kc = Kc::with_file_store();
    kc.add_account("acme"); // its issuer is http://127.0.0.1:9, where nothing listens
    let out = kc.run(&["login", "acme"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("127.0.0.1:9/.well-known/openid-configuration"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_token_endpoint_error_names_the_host_it_was_talking_to() {
    let kc = Kc::with_file_store();
    let rt = kc.file("rt.txt", "rt-host-canary\n");
    let args = [
        "add",
        "tok",
        "--provider",
        "oauth2",
        "--authorize-url",
        "http://127.0.0.1:9/authorize",
        "--token-url",
        "http://127.0.0.1:9/oauth2/token",
        "--client-id",
        "cli",
        "--user",
        "dwho",
        "--no-password",
        "--no-totp",
        "--no-client-secret",
        "--refresh-token-file",
        rt.to_str().unwrap(),
    ];
    kc.ok(&args);
    let out = kc.run(&["login", "tok"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("127.0.0.1:9/oauth2/token"),
        "{}",
        stderr(&out)
    );
}
