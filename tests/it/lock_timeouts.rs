//! Issue 25, item 2: every lock keychain takes honours `--lock-timeout` and names its holder.
//!
//! A helper process (this test binary run again as [`helper_holds_a_lock_when_asked`]) takes a
//! lock through keychain's own `lockfile::acquire`, says so, and is then stopped with SIGSTOP,
//! as a debugger, a hung NFS server or Ctrl-Z would. Each command that needs that lock must
//! give up after the timeout with exit 5, naming the helper's pid and host, instead of waiting
//! for ever. The table below is every lock file × the commands that take it; before this fix
//! the audit log's and the member space's locks waited with no end (the test's own deadline
//! catches that) and the account lock said nothing of its holder.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support;
use support::*;

const HOLD_ENV: &str = "KEYCHAIN_TEST_HOLD_LOCK";
const READY: &str = "LOCK-HELD";

/// Not a test of its own: when [`HOLD_ENV`] names a lock file, takes it as keychain does,
/// prints [`READY`] and waits to be stopped and killed. Without the variable it does nothing.
#[test]
fn helper_holds_a_lock_when_asked() {
    let Some(path) = std::env::var_os(HOLD_ENV) else {
        return;
    };
    let _held = keychain::lockfile::acquire(
        Path::new(&path),
        "the helper's lock",
        Duration::from_secs(5),
    )
    .expect("the helper takes the lock");
    // A file, not standard output: the test harness keeps a test's output to itself.
    std::fs::write(ready_file(Path::new(&path)), READY).unwrap();
    std::thread::sleep(Duration::from_secs(120));
}

fn ready_file(lock: &Path) -> std::path::PathBuf {
    lock.with_extension("helper-ready")
}

/// A stopped process holding `lock`; killed (SIGKILL works on a stopped process) on drop.
struct StoppedHolder {
    child: Child,
}

impl StoppedHolder {
    fn take(lock: &Path) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "lock_timeouts::helper_holds_a_lock_when_asked",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(HOLD_ENV, lock)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let ready = ready_file(lock);
        let start = Instant::now();
        while !ready.exists() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "the helper ended ({status}) before it held {}",
                    lock.display()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the helper never held {}",
                lock.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::remove_file(&ready).unwrap();
        let stopped = Command::new("kill")
            .args(["-STOP", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(stopped.success());
        StoppedHolder { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for StoppedHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `args` with a 1 s lock timeout; kills it when it is still running after `deadline`.
fn run_with_deadline(
    kc: &Kc,
    args: &[&str],
    deadline: Duration,
) -> (std::process::Output, Duration) {
    let start = Instant::now();
    let mut child = kc
        .std_cmd()
        .args(args)
        .env("KEYCHAIN_LOCK_TIMEOUT", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "keychain {args:?} still waited after {deadline:?}, ignoring --lock-timeout; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = start.elapsed();
    (child.wait_with_output().unwrap(), elapsed)
}

#[test]
fn every_lock_held_by_a_stopped_process_times_out_naming_the_holder() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    // A member list, so that the member space and its lock exist.
    let other = keychain::keystore::Identity::generate()
        .to_public()
        .to_string();
    kc.ok(&["member", "add", &other, "--name", "etl2"]);
    let third = keychain::keystore::Identity::generate()
        .to_public()
        .to_string();

    let table: Vec<(&str, Vec<&str>)> = vec![
        ("locks/acme.lock", vec!["login", "acme"]),
        ("locks/acme.lock", vec!["set", "acme", "--user", "someone"]),
        ("locks/acme.lock", vec!["rm", "-f", "acme"]),
        ("audit.lock", vec!["totp", "acme"]),
        ("audit.lock", vec!["show", "acme", "--reveal", "password"]),
        ("audit.lock", vec!["login", "acme"]),
        ("audit.lock", vec!["audit", "rotate"]),
        (
            "members/.lock",
            vec!["member", "add", &third, "--name", "etl3"],
        ),
    ];
    let host = keychain::host::host_name();
    for (lock, args) in &table {
        eprintln!("{lock} × keychain {args:?}");
        let holder = StoppedHolder::take(&kc.dir.join(lock));
        let (out, took) = run_with_deadline(&kc, args, Duration::from_secs(20));
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(5),
            "{lock} × keychain {args:?}: exit {:?}, stderr: {err}",
            out.status.code()
        );
        assert!(
            took >= Duration::from_secs(1),
            "{lock} × {args:?} gave up before the timeout ({took:?})"
        );
        assert!(
            err.contains(&format!("pid {}", holder.pid())),
            "{lock} × {args:?}: the holder's pid is not named: {err}"
        );
        assert!(
            err.contains(&host) && err.contains(" since "),
            "{lock} × {args:?}: the holder's host and time are not named: {err}"
        );
        drop(holder);
    }
    // Nothing was left half done: with the locks free, the same commands work.
    kc.ok(&["totp", "acme"]);
    kc.ok(&["member", "add", &third, "--name", "etl3"]);
}

#[test]
fn a_lock_taken_by_another_program_names_its_pid_from_the_kernel() {
    // `flock(1)` writes nothing into the file: the pid comes from /proc/locks.
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let lock = kc.dir.join("audit.lock");
    let mut flock = Command::new("flock")
        .arg("--no-fork")
        .arg(&lock)
        .args(["sh", "-c", "echo held; exec sleep 600"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("flock(1) from util-linux");
    let mut line = String::new();
    BufReader::new(flock.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "held");
    let (out, _) = run_with_deadline(&kc, &["totp", "acme"], Duration::from_secs(20));
    let _ = flock.kill();
    let _ = flock.wait();
    assert_exit(&out, 5);
    // `--no-fork`: flock(1) takes the lock and becomes the shell, then `sleep`: one pid.
    assert!(
        stderr(&out).contains(&format!("pid {}", flock.id())),
        "{}",
        stderr(&out)
    );
}
