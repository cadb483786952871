//! The README's quick start runs as written: each command of its block, on a terminal (the
//! prompts are answered as a person would), against the real Secret Service. Run through
//! `scripts/with-secret-service cargo test`.

use crate::support;

use std::path::Path;

use support::*;

/// The commands of the README's "Quick start" block: continuation lines joined, comments cut.
fn quick_start() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block: Vec<&str> = readme
        .lines()
        .skip_while(|l| *l != "## Quick start")
        .skip(1)
        .skip_while(|l| l.is_empty())
        .take_while(|l| l.starts_with("    "))
        .collect();
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

#[test]
fn the_quick_start_runs_as_written() {
    require_secret_service();
    let commands = quick_start();
    assert!(
        commands.len() >= 6 && commands.iter().all(|c| c.starts_with("keychain ")),
        "{commands:?}"
    );
    let kc = Kc::new();
    let bin = kc.tmp.path().join("bin");
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
    for command in &commands {
        // add prompts for the password, the TOTP secret and the client secret.
        let answers = if command.starts_with("keychain add") {
            format!("{CANARY_PASSWORD}\n{TOTP_SECRET}\ncs-canary-1\n")
        } else {
            String::new()
        };
        use std::io::Write;
        let mut child = std::process::Command::new("script")
            .args(["-qec", command, "/dev/null"])
            .env("PATH", &path)
            .env("SHELL", "/bin/sh")
            .env("KEYCHAIN_DIR", &kc.dir)
            .env_remove("KEYCHAIN_PASSPHRASE_FILE")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("util-linux 'script' is needed: run scripts/install-test-deps");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answers.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let screen = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{command}:\n{screen}");
        if command.contains("--reveal password") {
            assert!(screen.contains(CANARY_PASSWORD), "{screen}");
        }
        if command == "keychain list" {
            assert!(
                screen.contains("acme") && screen.contains("exact-nl"),
                "{screen}"
            );
        }
    }
}
