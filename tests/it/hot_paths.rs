//! What issue 12 changed on the hot paths, pinned against real components: the audit log's one
//! fsync per reveal (seen with strace), the plain Secret Service session (seen with
//! dbus-monitor on the private bus), and whole-keychain reads decrypted in parallel.
//! The speed itself is measured by `benches/hot_paths.sh`, never asserted here.

use crate::support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// Runs `keychain ARGS` under strace, tracing the given syscalls; returns strace's lines.
fn strace(kc: &Kc, syscalls: &str, args: &[&str]) -> Vec<String> {
    let log = kc.tmp.path().join("strace.out");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-y", "-s", "64", "-e"])
        .arg(format!("trace={syscalls}"))
        .arg("-o")
        .arg(&log)
        .arg(assert_cmd::cargo::cargo_bin("keychain"))
        .args(args)
        .env("KEYCHAIN_DIR", &kc.dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .expect("strace is needed for this test: run scripts/install-test-deps")
        .status;
    assert!(status.success(), "keychain {args:?} under strace: {status}");
    std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn an_audited_reveal_makes_one_fsync_of_the_log_line_before_the_secret_is_written() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let lines = strace(
        &kc,
        "fsync,fdatasync,syncfs,sync_file_range,write",
        &["show", "acme", "--reveal", "password"],
    );
    let syncs: Vec<(usize, &String)> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("sync"))
        .collect();
    assert_eq!(syncs.len(), 1, "one sync per audited reveal: {syncs:#?}");
    let (sync_at, sync) = syncs[0];
    assert!(
        sync.contains("fdatasync(") && sync.contains("audit.log>"),
        "the one sync is the log line's: {sync}"
    );
    let secret_at = lines
        .iter()
        .position(|l| l.contains(CANARY_PASSWORD))
        .expect("the password is written to stdout");
    assert!(
        sync_at < secret_at,
        "recorded before revealed: the sync comes first\n{}",
        lines.join("\n")
    );
    // The anchor still moved on with the line, and the log verifies.
    kc.ok(&["audit", "verify"]);
}

/// Issue 24: taking a lock writes its holder over the previous one and cuts the file to that
/// length; it never empties the file first. Emptying frees the file's block, which on a disk
/// mounted with `discard` is a synchronous discard per lock (measured 0.3-7 ms, as much as the
/// log's fdatasync): it doubled an audited reveal's time. Checked on the account lock (mv) and
/// the audit log's lock (show --reveal), each taken twice so the file has a holder to replace.
#[test]
fn taking_a_lock_never_empties_its_file_first() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    for args in [
        &["show", "acme", "--reveal", "password"][..],
        &["show", "acme", "--reveal", "password"][..],
        &["mv", "acme", "acme2"][..],
        &["mv", "acme2", "acme"][..],
    ] {
        let lines = strace(&kc, "ftruncate,truncate,pwrite64,write", args);
        let emptied: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("truncate(") && l.contains(".lock>, 0)"))
            .collect();
        assert!(
            emptied.is_empty(),
            "keychain {args:?} emptied a lock file: {emptied:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains(".lock>") && l.contains("pid")),
            "keychain {args:?} wrote no holder into a lock file:\n{}",
            lines.join("\n")
        );
    }
}

#[test]
fn a_crash_that_loses_the_last_anchor_is_reconciled_by_the_next_reveal() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let anchor = kc.dir.join("audit.anchor");
    let before = std::fs::read(&anchor).unwrap();
    kc.ok(&["show", "acme", "--reveal", "password"]);
    // A power loss before the unsynced rename reached the disk: the line is there, the anchor
    // is the one before it.
    std::fs::write(&anchor, &before).unwrap();
    kc.ok(&["audit", "verify"]);
    kc.ok(&["show", "acme", "--reveal", "password"]);
    kc.ok(&["audit", "verify"]);
    // No temporary anchors are left behind by the replacements.
    let leftovers: Vec<_> = std::fs::read_dir(&kc.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".audit.anchor"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Starts `dbus-monitor` on the session bus, watching OpenSession calls, and waits until it
/// listens (it prints the bus's NameAcquired or NameLost signal about itself first).
fn monitor_open_session(out: &Path) -> std::process::Child {
    let file = std::fs::File::create(out).unwrap();
    let child = Command::new("dbus-monitor")
        .args([
            "--session",
            "type='method_call',interface='org.freedesktop.Secret.Service',member='OpenSession'",
        ])
        .stdout(file)
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-monitor (package dbus) is needed: run scripts/install-test-deps");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(out).unwrap().contains("NameLost")
        && !std::fs::read_to_string(out)
            .unwrap()
            .contains("NameAcquired")
    {
        assert!(Instant::now() < deadline, "dbus-monitor did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn the_identity_is_read_through_a_plain_secret_service_session() {
    require_secret_service();
    let kc = Kc::new();
    kc.ok(&["init"]);
    kc.add_account("acme");
    let seen = kc.tmp.path().join("monitor.out");
    let mut monitor = monitor_open_session(&seen);
    // The gnome-keyring item written by `init` (through keyring-core) is read back.
    let shown = kc.ok(&["show", "acme", "--reveal", "password"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&seen)
        .unwrap()
        .contains("OpenSession")
    {
        assert!(Instant::now() < deadline, "no OpenSession call was seen");
        std::thread::sleep(Duration::from_millis(20));
    }
    monitor.kill().unwrap();
    monitor.wait().unwrap();
    let _ = keychain::keystore::os::delete_entry(&kc.dir);
    assert_eq!(shown, format!("{CANARY_PASSWORD}\n"));
    let calls = std::fs::read_to_string(&seen).unwrap();
    assert!(
        calls.contains("string \"plain\""),
        "the session is plain:\n{calls}"
    );
    assert!(!calls.contains("dh-ietf1024"), "no DH session:\n{calls}");
}

/// Issue 24: `OpenSession` and `SearchItems` do not depend on each other, so both are written to
/// the bus before any reply is read (one round trip to the daemon saved on every read of the
/// identity); then `GetSecret` of the one item. Seen with strace in the client, where the
/// order is the code's own (the bus's order of dispatch could race).
#[test]
fn the_identity_read_sends_open_session_and_search_items_together() {
    require_secret_service();
    let kc = Kc::new();
    kc.ok(&["init"]);
    kc.add_account("acme");
    let log = kc.tmp.path().join("strace.out");
    let out = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-s",
            "512",
            "-e",
            "trace=sendmsg,recvmsg",
            "-o",
        ])
        .arg(&log)
        .arg(assert_cmd::cargo::cargo_bin("keychain"))
        .args(["show", "acme", "--reveal", "password"])
        .env("KEYCHAIN_DIR", &kc.dir)
        .output()
        .expect("strace is needed for this test: run scripts/install-test-deps");
    let _ = keychain::keystore::os::delete_entry(&kc.dir);
    assert!(out.status.success(), "show under strace: {out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{CANARY_PASSWORD}\n")
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let sent = |member: &str| {
        lines
            .iter()
            .position(|l| l.contains("sendmsg(") && l.contains(member))
            .unwrap_or_else(|| panic!("no {member} call was sent:\n{text}"))
    };
    let open = sent("OpenSession");
    let search = sent("SearchItems");
    sent("GetSecret");
    // The first message read after OpenSession was written: its reply (or SearchItems').
    let read = |l: &&str| {
        l.contains("recvmsg")
            && l.rsplit_once(" = ")
                .is_some_and(|(_, n)| n.parse::<i64>().is_ok_and(|n| n > 0))
    };
    let first_reply = open
        + lines[open..]
            .iter()
            .position(read)
            .unwrap_or_else(|| panic!("no reply read after OpenSession:\n{text}"));
    assert!(
        search < first_reply,
        "SearchItems was sent only after a reply to OpenSession was read (two round trips):\n{text}"
    );
}

/// Issue 24: the identity's read from the Secret Service starts before the record is read, on
/// a thread of its own, so that its round trips to the bus overlap the reads of the log and the
/// record; with `unlock` in effect no thread is started at all (the kernel keyring answers at
/// once). Seen with strace in the client, in the main thread's own order.
#[test]
fn the_secret_service_read_starts_before_the_record_is_read() {
    require_secret_service();
    let kc = Kc::new();
    kc.ok(&["init"]);
    kc.add_account("acme");
    let reveal = ["show", "acme", "--reveal", "password"];
    let lines = strace(&kc, "clone,clone3,openat,connect", &reveal);
    let record = lines
        .iter()
        .position(|l| l.contains("openat(") && l.contains("accounts/acme.kcr"))
        .unwrap_or_else(|| panic!("the record was never opened:\n{}", lines.join("\n")));
    // The thread that talks to the bus: the one whose first connect is to a Unix socket that is
    // not nscd's (the session bus), and the clone that started it.
    let reader = lines
        .iter()
        .find(|l| l.contains("connect(") && l.contains("AF_UNIX") && !l.contains("nscd"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("nothing connected to the bus:\n{}", lines.join("\n")));
    let spawned = lines
        .iter()
        .position(|l| l.contains("clone") && l.trim_end().ends_with(&format!("= {reader}")))
        .unwrap_or_else(|| {
            panic!(
                "the bus was not read on a thread of its own ({reader}):\n{}",
                lines.join("\n")
            )
        });
    assert!(
        spawned < record,
        "the Secret Service read started only after the record was read:\n{}",
        lines.join("\n")
    );
    kc.ok(&["unlock", "--for", "5m"]);
    let unlocked = strace(&kc, "clone,clone3,openat", &reveal);
    kc.ok(&["lock"]);
    let _ = keychain::keystore::os::delete_entry(&kc.dir);
    assert!(
        unlocked.iter().any(|l| l.contains("accounts/acme.kcr")),
        "the record was never opened with unlock:\n{}",
        unlocked.join("\n")
    );
    assert!(
        !unlocked.iter().any(|l| l.contains("clone")),
        "a thread was started although the unlock cache held the identity:\n{}",
        unlocked.join("\n")
    );
}

#[test]
fn many_records_open_in_parallel_each_with_its_own_result_in_order() {
    let kc = Kc::with_file_store();
    let names: Vec<String> = (0..23).map(|i| format!("acct-{i:02}")).collect();
    for name in &names {
        kc.add_account(name);
    }
    // One record damaged, one gone: each says so in its own place; the rest open.
    let mut damaged = std::fs::read(kc.record("acct-07")).unwrap();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x55;
    std::fs::write(kc.record("acct-07"), damaged).unwrap();
    std::fs::remove_file(kc.record("acct-19")).unwrap();

    let opened = keychain::keychain::Keychain::open(&kc.dir)
        .unwrap()
        .read_many(&names)
        .unwrap();
    assert_eq!(opened.len(), names.len());
    for (name, result) in names.iter().zip(&opened) {
        match (name.as_str(), result) {
            ("acct-07", Err(keychain::error::Error::Record { path, .. })) => {
                assert!(path.ends_with("acct-07.kcr"), "{}", path.display())
            }
            ("acct-19", Err(keychain::error::Error::NotFound(n))) => assert_eq!(n, "acct-19"),
            (_, Ok(account)) => assert_eq!(&account.header.name, name),
            (name, Err(e)) => panic!("{name}: unexpected {e}"),
        }
    }
}

#[test]
fn list_reads_each_record_in_one_read_and_one_end_of_file() {
    let kc = Kc::with_file_store();
    for name in ["a", "b", "c"] {
        kc.add_account(name);
    }
    let lines = strace(&kc, "read", &["list"]);
    for name in ["a", "b", "c"] {
        let reads = lines
            .iter()
            .filter(|l| l.contains(&format!("/{name}.kcr>")))
            .count();
        assert_eq!(reads, 2, "reads of {name}.kcr:\n{}", lines.join("\n"));
    }
}

/// A start loads only the C library: GCC's unwinder is linked into the binary (`build.rs`) and
/// the audit report's few float functions come from the `libm` crate, so the dynamic loader
/// maps, relocates and searches no `libgcc_s` and no `libm` on every call (issue 24). The
/// loader's own listing (`LD_TRACE_LOADED_OBJECTS`, what `ldd` prints) of the built binary; a
/// panic still unwinds (`catch_unwind` in the tests themselves depends on it).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn a_start_loads_only_the_c_library() {
    let out = Command::new(assert_cmd::cargo::cargo_bin("keychain"))
        .env("LD_TRACE_LOADED_OBJECTS", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let loaded = String::from_utf8_lossy(&out.stdout);
    assert!(
        loaded.contains("libc.so"),
        "not the loader's listing:\n{loaded}"
    );
    let others: Vec<&str> = loaded
        .lines()
        .map(str::trim)
        .filter(|l| {
            !["linux-vdso.so", "libc.so.6", "ld-linux"]
                .iter()
                .any(|k| l.contains(k))
        })
        .collect();
    assert!(
        others.is_empty(),
        "the binary loads more than libc: {others:#?}"
    );
}

/// Where the C library applies packed relative relocations (glibc 2.36 and later), the binary
/// carries them (`DT_RELR`, `build.rs`): the loader then reads a table of a few kilobytes
/// instead of ~19,000 entries at every start.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn the_binary_packs_its_relative_relocations_where_glibc_applies_them() {
    let glibc = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .expect("getconf");
    let glibc = String::from_utf8_lossy(&glibc.stdout);
    let version: Vec<u32> = glibc
        .trim()
        .strip_prefix("glibc ")
        .expect("a glibc version")
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    let dynamic = Command::new("readelf")
        .arg("--dynamic")
        .arg(assert_cmd::cargo::cargo_bin("keychain"))
        .output()
        .expect("readelf (binutils) is needed for this test: run scripts/install-test-deps");
    let dynamic = String::from_utf8_lossy(&dynamic.stdout);
    assert!(
        dynamic.contains("(NEEDED)"),
        "not readelf's listing:\n{dynamic}"
    );
    let packed = dynamic.contains("(RELR)");
    if version >= vec![2, 36] {
        assert!(
            packed,
            "glibc {version:?} applies DT_RELR but the binary has none"
        );
    } else {
        assert!(
            !packed,
            "glibc {version:?} refuses DT_RELR but the binary has it"
        );
    }
}
