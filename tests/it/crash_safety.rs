//! Killing keychain at random moments of a write loop never leaves a record that fails to open.

use crate::support;

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

/// The public header of a record file (its second line), or `None` when there is no file.
fn header(kc: &Kc, name: &str) -> Option<serde_json::Value> {
    let bytes = std::fs::read(kc.record(name)).ok()?;
    let line = bytes.split(|b| *b == b'\n').nth(1)?;
    Some(serde_json::from_slice(line).unwrap())
}

/// `keychain mv` killed at random: every state it leaves is one of the three the design names,
/// a half-moved account refuses logons and says how to finish, and `mv` again finishes it.
#[test]
fn killed_renames_leave_a_state_that_explains_itself_and_mv_again_finishes() {
    let kc = Kc::with_file_store();
    kc.add_account("a");
    let mut rng = rand::thread_rng();
    let rounds = 60;
    let (mut untouched, mut half, mut done) = (0, 0, 0);
    let (mut src, mut dst) = ("a", "b");
    for round in 0..rounds {
        let mut child = kc
            .std_cmd()
            .args(["mv", src, dst])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..25_000)));
        let _ = child.kill();
        child.wait().unwrap();
        match (header(&kc, src), header(&kc, dst)) {
            (Some(old), None) if old.get("moved_to").is_none() => untouched += 1,
            (Some(old), _) => {
                assert_eq!(old["moved_to"], dst, "round {round}: {old}");
                half += 1;
                let out = kc.run(&["login", src]);
                assert_exit(&out, 2);
                assert!(
                    stderr(&out).contains(&format!("keychain mv {src} {dst}")),
                    "{}",
                    stderr(&out)
                );
                kc.ok(&["mv", src, dst]);
                done += 1;
            }
            (None, Some(new)) => {
                assert!(new.get("moved_to").is_none(), "{new}");
                done += 1;
            }
            (None, None) => panic!("round {round}: the account is gone"),
        }
        if header(&kc, dst).is_some() {
            assert!(
                header(&kc, src).is_none(),
                "round {round}: both names exist"
            );
            std::mem::swap(&mut src, &mut dst);
        }
        let out = kc.run(&["show", src, "--reveal", "password"]);
        assert_success(&out, &["show after round", &round.to_string()]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{CANARY_PASSWORD}\n")
        );
    }
    eprintln!(
        "{rounds} renames killed at random: {untouched} untouched, {half} half-done and finished by mv again, {done} moved"
    );
    assert!(untouched > 0 && done > 0, "the delays must hit both sides");
    kc.ok(&["audit", "verify"]);
}
