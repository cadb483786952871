//! Killing keychain at random moments of a write loop never leaves a record that fails to open.

mod support;

use std::time::Duration;

use rand::Rng;
use support::*;

#[test]
fn killed_writers_never_leave_a_record_that_fails_to_open() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let mut rng = rand::thread_rng();
    let rounds = 150;
    let (mut killed, mut finished) = (0, 0);
    for round in 0..rounds {
        let token = format!("rt-{round}");
        let file = kc.file("rt.txt", &token);
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("keychain"))
            .args([
                "set",
                "acme",
                "--refresh-token-file",
                file.to_str().unwrap(),
            ])
            .env("KEYCHAIN_DIR", &kc.dir)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..30_000)));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.success() {
            finished += 1
        } else {
            killed += 1
        }

        let out = kc.run(&["show", "acme", "--reveal", "password"]);
        assert_success(&out, &["show", "after round", &round.to_string()]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{CANARY_PASSWORD}\n")
        );
    }
    eprintln!("{rounds} rounds: {killed} writers killed, {finished} finished");
    // The delays must actually interrupt some writers, or this test proves nothing.
    assert!(
        killed > 0 && finished > 0,
        "killed {killed}, finished {finished}"
    );
    // A later write cleans up whatever a killed writer left behind.
    kc.ok(&["set", "acme", "--user", "after"]);
    let leftovers: Vec<_> = files_under(&kc.dir.join("accounts"))
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
