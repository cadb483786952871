//! The README and `docs/` say what is true (issue 23, point 9): the two quick starts run as
//! written on a terminal (the prompts answered as a person would), the desktop one against the
//! real Secret Service and the server one without D-Bus; every `keychain` example in the README
//! and in `docs/*.md` names a command and flags that exist; every link resolves; every page of
//! `docs/` is one click from the README, which stays short. Run through
//! `scripts/with-secret-service cargo test`.

use crate::support;

use std::io::Write;
use std::path::{Path, PathBuf};

use support::*;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The README and every page in `docs/`, as (path, text).
fn pages() -> Vec<(PathBuf, String)> {
    let mut pages = vec![(repo().join("README.md"), read(&repo().join("README.md")))];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    for doc in docs {
        let text = read(&doc);
        pages.push((doc, text));
    }
    pages
}

/// The indented code blocks of a page, each as its lines without the indentation; fenced blocks
/// too.
fn code_blocks(text: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut fenced = false;
    let mut previous_blank = true;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            if fenced {
                blocks.push(std::mem::take(&mut current));
            }
            fenced = !fenced;
            continue;
        }
        if fenced {
            current.push(line.to_string());
            continue;
        }
        let indented = line.starts_with("    ") && (previous_blank || !current.is_empty());
        if indented {
            current.push(line[4..].to_string());
        } else if !current.is_empty() && !line.trim().is_empty() {
            blocks.push(std::mem::take(&mut current));
        }
        previous_blank = line.trim().is_empty();
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

/// The commands of a block: continuation lines joined, comments cut, comment-only lines skipped.
fn commands(block: &[String]) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in block {
        let line = line.trim();
        let code = line.split(" #").next().unwrap().trim();
        if code.starts_with('#') || code.is_empty() {
            continue;
        }
        match code.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(code);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    commands
}

/// The commands of the first code block under the README heading `heading`.
fn readme_block(heading: &str) -> Vec<String> {
    let readme = read(&repo().join("README.md"));
    let at = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no {heading:?} in the README"));
    let section = &readme[at + heading.len() + 2..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let block = code_blocks(section)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no code block under {heading:?}"));
    commands(&block)
}

/// What the prompts of a quick start are answered with, by the prompt's words: a person at the
/// terminal types the passphrase (twice at `init`), the password, the TOTP secret and the client
/// secret.
const PASSPHRASE: &str = "quick start passphrase 1";

fn answers(command: &str) -> String {
    let secrets = format!("{CANARY_PASSWORD}\n{TOTP_SECRET}\ncs-canary-1\n");
    if command.starts_with("keychain init --key-store passphrase") {
        format!("{PASSPHRASE}\n{PASSPHRASE}\n")
    } else if command == "keychain unlock" {
        format!("{PASSPHRASE}\n")
    } else if command.starts_with("keychain add") {
        secrets
    } else {
        String::new()
    }
}

/// Runs each command of a quick start as a person would type it: in `sh -c` on a
/// pseudo-terminal (util-linux `script`), `keychain` found on PATH, the answers typed at the
/// prompts. `env` adjusts the environment (the server: no D-Bus). Returns each command's screen.
fn run_on_a_terminal(
    commands: &[String],
    dir: &Path,
    env: &dyn Fn(&mut std::process::Command),
) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(
        assert_cmd::cargo::cargo_bin("keychain"),
        bin.join("keychain"),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut screens = Vec::new();
    for command in commands {
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-qec", command, "/dev/null"])
            .env("PATH", &path)
            .env("SHELL", "/bin/sh")
            .env("KEYCHAIN_DIR", dir)
            .env_remove("KEYCHAIN_PASSPHRASE_FILE")
            .env_remove("KEYCHAIN_FORMAT")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        env(&mut cmd);
        let mut child = cmd
            .spawn()
            .expect("util-linux 'script' is needed: run scripts/install-test-deps");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answers(command).as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let screen = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{command}:\n{screen}");
        screens.push(screen);
    }
    screens
}

/// What both quick starts show: the account listed, a current code, a revealed password.
fn check_screens(commands: &[String], screens: &[String]) {
    for (command, screen) in commands.iter().zip(screens) {
        if command.contains("--reveal password") {
            assert!(screen.contains(CANARY_PASSWORD), "{screen}");
        }
        if command == "keychain list" {
            assert!(
                screen.contains("acme") && screen.contains("exact-nl"),
                "{screen}"
            );
        }
        if command.starts_with("keychain totp") {
            assert!(
                screen.lines().any(|l| {
                    let l = l.trim();
                    l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit())
                }),
                "{screen}"
            );
        }
    }
}

/// Issue 23, point 9: the desktop quick start, on a terminal, with the Secret Service.
#[test]
fn the_desktop_quick_start_runs_as_written_on_a_terminal() {
    require_secret_service();
    let commands = readme_block("## Quick start on a desktop");
    assert!(
        commands.len() >= 6
            && commands.iter().all(|c| c.starts_with("keychain "))
            && commands[0] == "keychain init",
        "{commands:?}"
    );
    let kc = Kc::new();
    let screens = run_on_a_terminal(&commands, &kc.dir, &|_| {});
    check_screens(&commands, &screens);
}

/// Issue 23, point 9: the server quick start, on a terminal, on a machine without D-Bus (the
/// desktop's `keychain init` fails there). The passphrase is typed at its prompts.
#[test]
fn the_server_quick_start_runs_as_written_on_a_terminal_without_dbus() {
    let commands = readme_block("## Quick start on a server");
    assert!(
        commands.len() >= 5
            && commands.iter().all(|c| c.starts_with("keychain "))
            && commands[0].starts_with("keychain init --key-store passphrase"),
        "{commands:?}"
    );
    let kc = Kc::new();
    let screens = run_on_a_terminal(&commands, &kc.dir, &|cmd| {
        cmd.env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("KEYCHAIN_TEST_SECRET_SERVICE")
            // scrypt's work factor only, so that the test does not take seconds per derivation.
            .env("KEYCHAIN_SCRYPT_WORK_FACTOR", "10");
    });
    check_screens(&commands, &screens);
    assert!(kc.dir.join("identity.age").is_file());
}

/// Every subcommand path keychain has (`audit verify`, `member add`, ...), from `--help`.
fn subcommands(prefix: &[&str]) -> Vec<String> {
    let kc = Kc::new();
    let mut args: Vec<&str> = prefix.to_vec();
    args.push("--help");
    let help = kc.ok(&args);
    let mut names = Vec::new();
    let mut in_commands = false;
    for line in help.lines() {
        if line.trim_end().ends_with("Commands:") || line.trim() == "COMMANDS:" {
            in_commands = true;
            continue;
        }
        if in_commands {
            if line.trim().is_empty() || !line.starts_with("  ") {
                in_commands = false;
                continue;
            }
            let name = line.split_whitespace().next().unwrap();
            if name != "help" {
                names.push(name.trim_end_matches(',').to_string());
            }
        }
    }
    names
}

/// Issue 23, point 9: the examples of the README and `docs/` name commands and flags that
/// exist (a renamed or removed flag, a `--replace` nobody implemented, is found here). Each
/// `keychain` command line of every code block is checked against `keychain SUBCOMMAND --help`.
#[test]
fn every_example_names_a_command_and_flags_that_exist() {
    let kc = Kc::new();
    let top = subcommands(&[]);
    // Global options may be listed only in the top-level help.
    let top_help = kc.ok(&["--help"]);
    assert!(top.iter().any(|c| c == "login"), "{top:?}");
    let mut help_of = std::collections::HashMap::<String, String>::new();
    let mut checked = 0;
    let mut wrong = Vec::new();
    // ARCHITECTURE.md's blocks are diagrams of modules, not commands.
    for (page, text) in pages()
        .into_iter()
        .filter(|(p, _)| !p.ends_with("ARCHITECTURE.md"))
    {
        for block in code_blocks(&text) {
            for command in commands(&block) {
                // The keychain invocations of the line: after a pipe, `$(`, `exec`, `--`, or
                // at the start (git's '!keychain' helper too).
                for part in command.split(['|', ';', '(', '\'', '"', '!']) {
                    let words: Vec<&str> = part.split_whitespace().collect();
                    let Some(at) = words.iter().position(|w| *w == "keychain") else {
                        continue;
                    };
                    if at != 0 && !matches!(words[at - 1], "--" | "exec" | "runuser" | "etl") {
                        continue;
                    }
                    let words = &words[at + 1..];
                    // Global options before the command: `--dir X`.
                    let mut i = 0;
                    while i < words.len() && words[i].starts_with("--") {
                        i += if words[i].contains('=') { 1 } else { 2 };
                    }
                    let Some(sub) = words.get(i) else { continue };
                    if sub.starts_with('[') || sub.contains("://") || *sub == "help" {
                        continue;
                    }
                    if !top.iter().any(|t| t == sub) {
                        wrong.push(format!("{}: unknown command in: {command}", page.display()));
                        continue;
                    }
                    let mut path = vec![sub.to_string()];
                    if let Some(next) = words.get(i + 1) {
                        let subs = help_of
                            .entry(format!("{sub} (subcommands)"))
                            .or_insert_with(|| subcommands(&[sub]).join(" "))
                            .clone();
                        if subs.split(' ').any(|s| s == *next) {
                            path.push(next.to_string());
                        }
                    }
                    let help = help_of
                        .entry(path.join(" "))
                        .or_insert_with(|| {
                            let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
                            args.push("--help");
                            kc.ok(&args)
                        })
                        .clone();
                    for word in &words[i..] {
                        if *word == "--" {
                            break;
                        }
                        let Some(flag) = word.strip_prefix("--") else {
                            continue;
                        };
                        let flag = flag.split('=').next().unwrap();
                        if flag.is_empty()
                            || !flag
                                .bytes()
                                .all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit())
                        {
                            continue;
                        }
                        checked += 1;
                        let known = [&help, &top_help].iter().any(|help| {
                            help.contains(&format!("--{flag} "))
                                || help.contains(&format!("--{flag}\n"))
                                || help.contains(&format!("--{flag},"))
                                || help.contains(&format!("--{flag}="))
                                || help.contains(&format!("--{flag}["))
                                || help.contains(&format!("--{flag}<"))
                        });
                        if !known {
                            wrong.push(format!(
                                "{}: 'keychain {}' has no --{flag}: {command}",
                                page.display(),
                                path.join(" ")
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 40, "only {checked} flags found in the examples");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// GitHub's anchor of a heading: lower case, punctuation dropped but `-` and `_`, spaces to `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut fenced = false;
    text.lines()
        .filter(|l| {
            if l.starts_with("```") {
                fenced = !fenced;
            }
            !fenced && l.starts_with('#')
        })
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

/// The targets of a page's Markdown links `[text](target)` and images `![alt](target)`.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].to_string());
        }
    }
    out
}

/// Issue 23, point 9: every link in the README and `docs/` resolves: a file of the tree, and a
/// heading of that page where it names one.
#[test]
fn every_link_in_the_readme_and_docs_resolves() {
    let mut broken = Vec::new();
    let mut count = 0;
    for (page, text) in pages() {
        for target in links(&text) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            count += 1;
            let (file, fragment) = match target.split_once('#') {
                Some((file, fragment)) => (file, Some(fragment)),
                None => (target.as_str(), None),
            };
            let path = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            if !path.exists() {
                broken.push(format!("{}: {target}: no such file", page.display()));
                continue;
            }
            if let Some(fragment) = fragment
                && !anchors(&read(&path)).iter().any(|a| a == fragment)
            {
                broken.push(format!("{}: {target}: no such heading", page.display()));
            }
        }
    }
    assert!(count > 20, "only {count} links");
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// Issue 23, point 9: the README is short and opens with what keychain is, then a contents list
/// from which every page of `docs/` is one click away; the depth is in `docs/`.
#[test]
fn the_readme_is_short_and_every_docs_page_is_one_click_from_it() {
    let readme = read(&repo().join("README.md"));
    let lines = readme.lines().count();
    assert!(lines <= 220, "the README has {lines} lines");
    let headings: Vec<&str> = readme.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(headings.first(), Some(&"## Contents"), "{headings:?}");
    for required in [
        "## Install",
        "## Quick start on a desktop",
        "## Quick start on a server",
        "## Five daily tasks",
        "## Two commands on a fresh machine (Debian 12)",
    ] {
        assert!(headings.contains(&required), "{required}: {headings:?}");
    }
    let linked = links(&readme);
    for (page, _) in pages().into_iter().skip(1) {
        let name = format!("docs/{}", page.file_name().unwrap().to_string_lossy());
        assert!(
            linked
                .iter()
                .any(|l| l.split('#').next() == Some(name.as_str())),
            "{name} is not linked from the README"
        );
    }
}

/// The README's first section keeps its two commands (`.ci/run` and `demo_script` rely on
/// them): the demo, which needs nothing the test command installs, and the test command.
#[test]
fn the_two_commands_on_a_fresh_machine_are_the_demo_and_ci() {
    let commands = readme_block("## Two commands on a fresh machine (Debian 12)");
    assert_eq!(commands, ["scripts/demo"]);
    let readme = read(&repo().join("README.md"));
    assert!(
        readme.contains("\n    .ci/run\n"),
        "no .ci/run in the README"
    );
    assert!(readme.contains("\n    scripts/with-secret-service cargo test\n"));
}
