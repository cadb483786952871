//! The systemd example is hardened and shown as it is (issue 23, point 10): the unit in
//! `examples/` passes `systemd-analyze verify`, `systemd-analyze security` rates it OK, it
//! carries the usual sandbox (a read-only system but for the keychain folder, a private /tmp, no
//! new privileges, only the address families keychain uses, no writable-and-executable memory)
//! and the identity as an encrypted credential, and `docs/unattended.md` shows the same unit,
//! timer and crontab line. (`tests/it/unattended.rs` runs the unit's commands as written.)

use std::path::Path;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn example(name: &str) -> String {
    std::fs::read_to_string(repo().join("examples").join(name)).unwrap()
}

/// The unit's settings, comments and blank lines left out.
fn directives(unit: &str) -> Vec<String> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn the_service_carries_the_sandbox_and_an_encrypted_credential() {
    let unit = example("keychain-refresh.service");
    let lines = directives(&unit);
    let keychain_dir = lines
        .iter()
        .find_map(|l| l.strip_prefix("Environment=KEYCHAIN_DIR="))
        .expect("KEYCHAIN_DIR")
        .to_string();
    for wanted in [
        "ProtectSystem=strict".to_string(),
        format!("ReadWritePaths={keychain_dir}"),
        "ProtectHome=yes".into(),
        "PrivateTmp=yes".into(),
        "NoNewPrivileges=yes".into(),
        "PrivateDevices=yes".into(),
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6".into(),
        "MemoryDenyWriteExecute=yes".into(),
        "CapabilityBoundingSet=".into(),
        "LockPersonality=yes".into(),
        "RestrictNamespaces=yes".into(),
        "SystemCallFilter=@system-service".into(),
        "UMask=0077".into(),
    ] {
        assert!(lines.contains(&wanted), "{wanted} missing:\n{unit}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("LoadCredentialEncrypted=keychain-identity:")),
        "{unit}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("LoadCredential=")),
        "a plain LoadCredential= where LoadCredentialEncrypted= fits:\n{unit}"
    );
}

/// `systemd-analyze verify` accepts the unit and its timer (the binary's path pointed at one
/// that exists here), and `systemd-analyze security` rates the service's exposure OK (below 2.0;
/// the unit before the sandbox was 9.2, UNSAFE).
#[test]
fn systemd_analyze_verifies_the_unit_and_rates_it_ok() {
    let tmp = tempfile::tempdir().unwrap();
    let unit = example("keychain-refresh.service");
    let keychain = assert_cmd::cargo::cargo_bin("keychain");
    std::fs::write(
        tmp.path().join("keychain-refresh.service"),
        unit.replace("/usr/local/bin/keychain", &keychain.display().to_string()),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("keychain-refresh.timer"),
        example("keychain-refresh.timer"),
    )
    .unwrap();
    let verify = std::process::Command::new("systemd-analyze")
        .args([
            "verify",
            "--man=no",
            "./keychain-refresh.service",
            "./keychain-refresh.timer",
        ])
        .current_dir(tmp.path())
        .output()
        .expect("systemd-analyze (Debian package systemd) is needed");
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let security = std::process::Command::new("systemd-analyze")
        .args([
            "security",
            "--offline=yes",
            "--no-pager",
            "./keychain-refresh.service",
        ])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&security.stdout);
    let level: f64 = text
        .lines()
        .find_map(|l| l.split("keychain-refresh.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(level < 2.0, "exposure {level}:\n{text}");
}

/// `docs/unattended.md` shows the unit, the timer and the crontab exactly as `examples/` has
/// them (settings, not comments).
#[test]
fn the_docs_show_the_examples_as_they_are() {
    let docs = std::fs::read_to_string(repo().join("docs/unattended.md")).unwrap();
    let shown: Vec<String> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        .map(|l| l.trim().to_string())
        .collect();
    for name in [
        "keychain-refresh.service",
        "keychain-refresh.timer",
        "keychain.crontab",
    ] {
        let wanted = directives(&example(name));
        assert!(
            shown.windows(wanted.len()).any(|w| w == wanted.as_slice()),
            "docs/unattended.md does not show {name} as examples/ has it:\n{}",
            wanted.join("\n")
        );
    }
}

/// Every unit setting `keychain help cron` shows is one of the examples' (the help shows a
/// part of the unit; it must not show another one).
#[test]
fn help_cron_shows_settings_of_the_example_unit_only() {
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("keychain"))
        .args(["help", "cron"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let examples: Vec<String> = ["keychain-refresh.service", "keychain-refresh.timer"]
        .iter()
        .flat_map(|name| directives(&example(name)))
        .collect();
    let shown: Vec<&str> = help
        .lines()
        .map(str::trim)
        .filter(|l| {
            l.split_once('=').is_some_and(|(key, _)| {
                !key.is_empty()
                    && key.chars().next().unwrap().is_ascii_uppercase()
                    && key.chars().all(|c| c.is_ascii_alphanumeric())
                    && !key.starts_with("KEYCHAIN")
                    && key != "PATH"
            })
        })
        .collect();
    assert!(shown.len() >= 5, "{help}");
    for line in shown {
        assert!(
            examples.iter().any(|e| e == line),
            "help cron shows {line:?}, which examples/ does not have"
        );
    }
}
