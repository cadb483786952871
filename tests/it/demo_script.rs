//! The README's first command, `scripts/demo`, on a machine without libfaketime (issue 18, item
//! 6): it exited 5 at step 4 (the emulator's clock had moved 20 minutes, keychain's could not
//! follow, and the logon then met the TOTP step of the first one). `.ci/run` runs it that way
//! (libfaketime hidden in a private mount namespace) and again with it.

use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Regression (issue 18, item 6): the demo passes without libfaketime. The demo looks for the
/// library where `KEYCHAIN_FAKETIME_LIB` says, so pointing it at nothing is a machine without it.
#[test]
fn demo_passes_without_libfaketime() {
    // The binaries this test run built: `cargo build` inside the demo would relink
    // target/debug/keychain while other tests run it.
    let bin = Path::new(env!("CARGO_BIN_EXE_keychain")).parent().unwrap();
    assert!(
        bin.join("examples/exact_emulator").is_file(),
        "the exact_emulator example is not built in {} (cargo test builds examples)",
        bin.display()
    );
    let out = Command::new(repo().join("scripts/demo"))
        .env("KEYCHAIN_DEMO_BIN", bin)
        .env("KEYCHAIN_FAKETIME_LIB", "/nonexistent/libfaketime.so.1")
        .env_remove("LD_PRELOAD")
        .env_remove("FAKETIME")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run scripts/demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/demo failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("libfaketime not installed"), "{stdout}");
    // Every step ran and says what it took: a logon, the cache, a refresh, the recovery.
    for (step, took) in [
        ("1. first login", "0 refresh, 1 logon, 0 refused"),
        ("2. second login", "0 HTTP requests"),
        ("3. ", "1 refresh, 0 logon, 0 refused"),
        ("4. an old refresh token", "1 refresh, 1 logon, 1 refused"),
        ("5. and from the cache", "0 HTTP requests"),
    ] {
        let line = stdout
            .lines()
            .skip_while(|l| !l.starts_with(&format!("== {step}")))
            .nth(1)
            .unwrap_or_else(|| panic!("no step {step:?} in:\n{stdout}"));
        assert!(line.contains(took), "step {step:?}: {line}");
    }
}

/// `.ci/run` runs the demo with libfaketime hidden before installing the test dependencies
/// (which install it), then again with it.
#[test]
fn ci_runs_the_demo_without_and_with_libfaketime() {
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    let lines: Vec<&str> = ci.lines().map(str::trim).collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| !l.starts_with('#') && l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} not in .ci/run"))
    };
    let hidden = at("unshare -m");
    assert!(lines[hidden].contains("mount --bind") && lines[hidden].contains("scripts/demo"));
    let install = at("scripts/install-test-deps");
    assert!(hidden < install);
    assert!(
        lines[install + 1..].contains(&"scripts/demo"),
        "no demo with libfaketime after install-test-deps"
    );
}
