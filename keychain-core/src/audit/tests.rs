//! Tests of the audit log as a whole: attacks, concurrency across real processes, rotation,
//! crash recovery and secrecy.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use secrecy::{SecretBox, SecretString};

use super::*;

fn key() -> AuditKey {
    AuditKey::derive(&SecretBox::new(Box::new([42u8; 32])))
}

fn fresh() -> (tempfile::TempDir, AuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(dir.path().join("audit.log"));
    log.init(&key()).unwrap();
    (dir, log)
}

fn append_n(log: &AuditLog, from: usize, n: usize) {
    for i in from..from + n {
        log.append(&Event::new(format!("cmd{i}"), Action::Set("password".into())).account("acme"))
            .unwrap();
    }
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(path, text).unwrap();
}

fn first_problem(log: &AuditLog) -> Problem {
    let report = log.verify(&key()).unwrap();
    assert!(!report.is_ok(), "tampering went unnoticed");
    report.problems[0].clone()
}

#[test]
fn an_untouched_log_verifies() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 5);
    let report = log.verify(&key()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.lines, 5);
    assert_eq!(report.last_seq, Some(4));
    let first: serde_json::Value = serde_json::from_str(&lines(log.path())[0]).unwrap();
    for field in [
        "time", "user", "host", "pid", "command", "account", "action", "detail",
    ] {
        assert!(first.get(field).is_some(), "missing {field}");
    }
    assert_eq!(first["outcome"], "ok");
    assert_eq!(first["prev"], "0".repeat(64));
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn an_empty_initialised_log_verifies() {
    let (_dir, log) = fresh();
    assert!(log.verify(&key()).unwrap().is_ok());
}

#[test]
fn editing_a_field_is_detected_at_its_line() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 6);
    let mut l = lines(log.path());
    l[2] = l[2].replace("\"command\":\"cmd2\"", "\"command\":\"cmdX\"");
    write_lines(log.path(), &l);
    let p = first_problem(&log);
    assert_eq!(
        (p.line, p.seq, p.kind),
        (Some(3), Some(2), ProblemKind::BadMac)
    );
    assert_eq!(log.verify(&key()).unwrap().problems.len(), 1);
}

#[test]
fn deleting_a_line_is_detected_where_it_was() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 6);
    let mut l = lines(log.path());
    l.remove(2);
    write_lines(log.path(), &l);
    let p = first_problem(&log);
    assert_eq!(p.line, Some(3));
    assert_eq!(
        p.kind,
        ProblemKind::Gap {
            expected: 2,
            found: 3
        }
    );
}

#[test]
fn swapping_two_lines_is_detected() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 6);
    let mut l = lines(log.path());
    l.swap(2, 3);
    write_lines(log.path(), &l);
    let report = log.verify(&key()).unwrap();
    let p = &report.problems[0];
    assert_eq!(p.line, Some(3));
    assert_eq!(
        p.kind,
        ProblemKind::Gap {
            expected: 2,
            found: 3
        }
    );
    assert_eq!(report.problems[1].line, Some(4));
    assert_eq!(
        report.problems[1].kind,
        ProblemKind::OutOfOrder {
            expected: 4,
            found: 2
        }
    );
}

#[test]
fn an_inserted_forged_line_is_detected() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 6);
    let mut l = lines(log.path());
    // A forger copies a real line, changes it and guesses a MAC.
    let forged = l[2].replace("cmd2", "forged");
    let cut = forged.len() - 66;
    let forged = format!("{}{}\"}}", &forged[..cut], "ab".repeat(32));
    l.insert(2, forged);
    write_lines(log.path(), &l);
    let p = first_problem(&log);
    assert_eq!(
        (p.line, p.seq, p.kind),
        (Some(3), Some(2), ProblemKind::BadMac)
    );
}

#[test]
fn a_replayed_line_is_detected() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 6);
    let mut l = lines(log.path());
    l.insert(4, l[1].clone());
    write_lines(log.path(), &l);
    let p = first_problem(&log);
    assert_eq!(p.line, Some(5));
    assert_eq!(
        p.kind,
        ProblemKind::OutOfOrder {
            expected: 4,
            found: 1
        }
    );
}

#[test]
fn truncating_the_tail_is_detected_and_stops_appends() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 6);
    let mut l = lines(log.path());
    l.truncate(4);
    write_lines(log.path(), &l);
    let p = first_problem(&log);
    assert_eq!((p.line, p.seq), (Some(4), Some(3)));
    assert_eq!(
        p.kind,
        ProblemKind::Truncated {
            anchor_next: 6,
            log_next: 4
        }
    );
    let err = log.append(&Event::new("add", Action::Add)).unwrap_err();
    assert!(matches!(err, AuditError::Mismatch { .. }), "{err}");
    assert!(
        err.hint()
            .is_some_and(|h| h.contains("keychain audit verify"))
    );
}

#[test]
fn restoring_an_older_copy_of_the_log_is_detected() {
    let (dir, log) = fresh();
    append_n(&log, 0, 3);
    let copy = dir.path().join("old-copy");
    fs::copy(log.path(), &copy).unwrap();
    append_n(&log, 3, 3);
    fs::copy(&copy, log.path()).unwrap();
    let p = first_problem(&log);
    assert_eq!((p.line, p.seq), (Some(3), Some(2)));
    assert_eq!(
        p.kind,
        ProblemKind::Truncated {
            anchor_next: 6,
            log_next: 3
        }
    );
    assert!(log.append(&Event::new("add", Action::Add)).is_err());
}

#[test]
fn a_forged_anchor_is_detected() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 4);
    let text = fs::read_to_string(log.anchor_path()).unwrap();
    fs::write(
        log.anchor_path(),
        text.replace("\"next_seq\":4", "\"next_seq\":2"),
    )
    .unwrap();
    let p = first_problem(&log);
    assert_eq!(p.kind, ProblemKind::AnchorBadMac);
}

#[test]
fn the_current_key_cannot_rewrite_earlier_lines() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 4);
    // An attacker who steals the anchor (it holds the current key) holds k_4 and re-MACs line 2.
    let state: serde_json::Value =
        serde_json::from_slice(&fs::read(log.anchor_path()).unwrap()).unwrap();
    let stolen = key::MacKey::from_bytes(key::unhex32(state["key"].as_str().unwrap()).unwrap());
    let mut l = lines(log.path());
    let edited = l[1].replace("cmd1", "cmdX");
    let body = &edited[..edited.len() - 74];
    let mac = stolen.mac_line(format!("{body}}}").as_bytes());
    l[1] = format!("{body},\"mac\":\"{mac}\"}}");
    write_lines(log.path(), &l);
    let p = first_problem(&log);
    assert_eq!((p.line, p.kind), (Some(2), ProblemKind::BadMac));
}

#[test]
fn a_crash_between_line_and_anchor_is_recovered() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 2);
    let anchor = fs::read(log.anchor_path()).unwrap();
    append_n(&log, 2, 1);
    // As if the process died right after writing the line.
    fs::write(log.anchor_path(), &anchor).unwrap();
    assert!(log.verify(&key()).unwrap().is_ok());
    append_n(&log, 3, 2);
    let report = log.verify(&key()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.lines, 5);
}

/// A process killed in the middle of its append (a write cut short at a page boundary) leaves
/// part of a line. `verify` shows it; the next append moves it aside, keeps the bytes, records
/// that, and goes on: a torn append must not stop every later login.
#[test]
fn a_partial_last_line_is_shown_by_verify_then_set_aside_by_the_next_append() {
    let (dir, log) = fresh();
    append_n(&log, 0, 2);
    let mut text = fs::read(log.path()).unwrap();
    let torn = b"{\"seq\":2,\"time\":\"2026-";
    text.extend_from_slice(torn);
    fs::write(log.path(), &text).unwrap();
    let p = first_problem(&log);
    assert_eq!((p.line, p.kind), (Some(3), ProblemKind::PartialLine));

    log.append(&Event::new("add", Action::Add)).unwrap();
    let report = log.verify(&key()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.lines, 4);
    let all = lines(log.path());
    let recorded: serde_json::Value = serde_json::from_str(&all[2]).unwrap();
    assert_eq!(recorded["action"], "torn_tail");
    let kept: Vec<PathBuf> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("audit.log-torn-"))
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(fs::read(&kept[0]).unwrap(), torn);
    assert_eq!(
        recorded["detail"].as_str(),
        kept[0].file_name().unwrap().to_str()
    );
    let added: serde_json::Value = serde_json::from_str(&all[3]).unwrap();
    assert_eq!(added["action"], "add");
}

/// Cutting into a whole line is not a torn append: the log then ends a line before the anchor.
#[test]
fn a_whole_line_cut_short_still_stops_appends() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 3);
    let text = fs::read(log.path()).unwrap();
    fs::write(log.path(), &text[..text.len() - 20]).unwrap();
    let err = log.append(&Event::new("add", Action::Add)).unwrap_err();
    assert!(matches!(err, AuditError::Mismatch { .. }), "{err}");
}

#[test]
fn appending_before_init_fails_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(dir.path().join("audit.log"));
    let err = log.append(&Event::new("add", Action::Add)).unwrap_err();
    assert!(
        err.hint().is_some_and(|h| h.contains("keychain init")),
        "{err}"
    );
}

#[test]
fn rotation_keeps_the_chain_verifiable() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 3);
    let first = log.rotate().unwrap();
    assert!(first.to_string_lossy().ends_with("audit.log.1"));
    append_n(&log, 3, 2);
    let second = log.rotate().unwrap();
    assert!(second.to_string_lossy().ends_with("audit.log.2"));
    append_n(&log, 5, 1);
    let files = log.files().unwrap();
    assert_eq!(files, vec![first.clone(), second, log.path().to_path_buf()]);
    let report = log.verify(&key()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.lines, 3 + 1 + 2 + 1 + 1);
    let head: serde_json::Value = serde_json::from_str(&lines(log.path())[0]).unwrap();
    assert_eq!(head["action"], "rotate");
    assert_eq!(head["detail"], "audit.log.2");

    // Without the older files, verify says where the chain starts.
    let alone = verify(&[log.path().to_path_buf()], Some(log.anchor_path()), &key()).unwrap();
    assert_eq!(
        alone.problems[0].kind,
        ProblemKind::MissingStart { first_seq: 6 }
    );
    // A rotated file removed from the middle shows as a gap.
    let files = log.files().unwrap();
    let without_first: Vec<PathBuf> = files[1..].to_vec();
    let _ = first;
    let gap = verify(&without_first, Some(log.anchor_path()), &key()).unwrap();
    assert!(!gap.is_ok());
}

#[test]
fn a_deleted_live_log_after_rotation_stops_appends() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 2);
    log.rotate().unwrap();
    // Someone deletes the live log, rotate line and all.
    fs::remove_file(log.path()).unwrap();
    let err = log.append(&Event::new("add", Action::Add));
    // The anchor records the rotate line that is gone: refuse.
    assert!(err.is_err());
}

#[test]
fn no_secret_reaches_the_log_files_and_fingerprints_match() {
    let (dir, log) = fresh();
    let canary = SecretString::from("canary-7f3e9a1c-do-not-log");
    let fp = fingerprint(&key(), "password", &canary);
    log.append(
        &Event::new("set", Action::Set("password".into()))
            .account("acme")
            .fingerprint("password", fp.clone()),
    )
    .unwrap();
    for entry in fs::read_dir(dir.path()).unwrap() {
        let bytes = fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("canary"));
    }
    let line: serde_json::Value = serde_json::from_str(&lines(log.path())[0]).unwrap();
    assert_eq!(line["fingerprints"]["password"], fp.as_str());
    // An officer with a leaked value can match it.
    assert_eq!(fingerprint(&key(), "password", &canary), fp);
    assert!(log.verify(&key()).unwrap().is_ok());
}

#[cfg(unix)]
#[test]
fn audit_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, log) = fresh();
    append_n(&log, 0, 1);
    log.rotate().unwrap();
    for entry in fs::read_dir(dir.path()).unwrap() {
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", entry.path().display());
    }
}

#[test]
fn a_report_names_positions_but_not_content() {
    let (_dir, log) = fresh();
    log.append(&Event::new("add", Action::Add).account("secret-account-name"))
        .unwrap();
    append_n(&log, 1, 1);
    let mut l = lines(log.path());
    l[0] = l[0].replace("secret-account-name", "other-account-name!");
    write_lines(log.path(), &l);
    let text = log.verify(&key()).unwrap().to_string();
    assert!(text.contains("line 1 (seq 0"), "{text}");
    assert!(text.contains("add"), "{text}");
    assert!(!text.contains("account-name"), "{text}");
}

const CHILD_ENV: &str = "KEYCHAIN_AUDIT_TEST_CHILD_LOG";
const CHILDREN: usize = 32;
const EVENTS_PER_CHILD: usize = 200;

/// Not a test on its own: the body that [`many_processes_append_without_loss_or_interleaving`]
/// runs in each child process (it does nothing unless the variable is set).
#[test]
fn child_appender() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let id = std::env::var("KEYCHAIN_AUDIT_TEST_CHILD_ID").unwrap();
    let log = AuditLog::new(path);
    for i in 0..EVENTS_PER_CHILD {
        log.append(&Event::new("scan", Action::Scan).account(format!("{id}-{i}")))
            .unwrap();
    }
}

#[test]
fn many_processes_append_without_loss_or_interleaving() {
    let (_dir, log) = fresh();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..CHILDREN)
        .map(|id| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "audit::tests::child_appender",
                    "--test-threads=1",
                    "-q",
                ])
                .env(CHILD_ENV, log.path())
                .env("KEYCHAIN_AUDIT_TEST_CHILD_ID", id.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let report = log.verify(&key()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.lines, (CHILDREN * EVENTS_PER_CHILD) as u64);
    let mut seen = std::collections::HashSet::new();
    for line in lines(log.path()) {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(seen.insert(v["account"].as_str().unwrap().to_string()));
    }
    for id in 0..CHILDREN {
        for i in 0..EVENTS_PER_CHILD {
            assert!(seen.contains(&format!("{id}-{i}")));
        }
    }
}

#[test]
fn a_forged_line_with_a_huge_seq_is_reported_quickly() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 2);
    let mut l = lines(log.path());
    l.insert(
        1,
        l[1].replace("\"seq\":1,", "\"seq\":9000000000000000000,"),
    );
    write_lines(log.path(), &l);
    let started = std::time::Instant::now();
    let p = first_problem(&log);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!((p.line, p.kind), (Some(2), ProblemKind::BadMac));
}

#[test]
fn a_replayed_line_at_the_end_is_reported_once() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 3);
    let mut l = lines(log.path());
    l.push(l[0].clone());
    write_lines(log.path(), &l);
    let report = log.verify(&key()).unwrap();
    assert_eq!(report.problems.len(), 1, "{report}");
    assert_eq!(report.problems[0].line, Some(4));
    assert_eq!(
        report.problems[0].kind,
        ProblemKind::OutOfOrder {
            expected: 3,
            found: 0
        }
    );
}

#[test]
fn stamped_events_carry_their_time_user_and_host_and_chain_like_any_other() {
    let (_dir, log) = fresh();
    append_n(&log, 0, 2);
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_793_577_600);
    let stamp = Stamp {
        time: at,
        user: "cron\nforged".into(),
        host: "srv".into(),
    };
    let events: Vec<Event> = (0..3)
        .map(|_| Event::new("login", Action::LoginCache).account("acme"))
        .collect();
    log.append_stamped(events.iter().map(|e| (e, &stamp)))
        .unwrap();
    // An ordinary append continues the chain after the batch.
    append_n(&log, 2, 1);
    let report = log.verify(&key()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.lines, 6);
    let third: serde_json::Value = serde_json::from_str(&lines(log.path())[2]).unwrap();
    assert_eq!(third["time"], "2026-11-02T00:00:00.000Z");
    assert_eq!(third["user"], "cron forged", "control characters cleaned");
    assert_eq!(third["host"], "srv");
    assert_eq!(third["seq"], 2);
}

/// Each line's time is the log's clock at the append, and its user is `whoami`, the name
/// records carry too; a clock set back shows as it is and the chain still verifies.
#[test]
fn appended_lines_carry_the_clock_time_and_the_os_user() {
    let dir = tempfile::tempdir().unwrap();
    let clock = crate::clock::ManualClock::at_unix(1_793_577_600);
    let log = AuditLog::with_clock(dir.path().join("audit.log"), clock.clone());
    log.init(&key()).unwrap();
    append_n(&log, 0, 1);
    clock.advance(90);
    append_n(&log, 1, 1);
    clock.set_unix(1_793_577_000);
    append_n(&log, 2, 1);
    let times: Vec<String> = lines(log.path())
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["user"], crate::whoami::whoami().as_str());
            v["time"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        times,
        [
            "2026-11-02T00:00:00.000Z",
            "2026-11-02T00:01:30.000Z",
            "2026-11-01T23:50:00.000Z"
        ]
    );
    assert!(log.verify(&key()).unwrap().is_ok());
}

/// The log waits as long as any other lock by default: its own constant (the log does not read
/// the settings) must stay the settings' default.
#[test]
fn the_logs_default_lock_timeout_is_the_settings_default() {
    assert_eq!(DEFAULT_LOCK_TIMEOUT, crate::lockfile::DEFAULT_LOCK_TIMEOUT);
}

/// The audit key derived from an identity is the one `crate::audit::audit_key` derived before issue 21
/// moved it (HMAC-SHA256 of the label under the identity's text, then [`AuditKey::derive`]):
/// old logs must still verify.
#[test]
fn the_audit_key_of_an_identity_is_derived_as_before() {
    use hmac::{Hmac, Mac};
    use secrecy::ExposeSecret;
    let identity = age::x25519::Identity::generate();
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(identity.to_string().expose_secret().as_bytes())
            .unwrap();
    mac.update(b"keychain audit secret v1");
    let secret = SecretBox::new(Box::new(<[u8; 32]>::from(mac.finalize().into_bytes())));
    let value = SecretString::from("hunter2");
    assert_eq!(
        fingerprint(&AuditKey::of_identity(&identity), "password", &value),
        fingerprint(&AuditKey::derive(&secret), "password", &value)
    );
}

/// One line's bytes, pinned: every field the writer can set, MAC'd under a fixed key. Any
/// change to the format (field order, escaping, the MAC's place) fails here before it breaks
/// the verification of every log already written.
#[test]
fn a_line_is_encoded_byte_for_byte_as_pinned() {
    use super::event::Origin;
    use super::format::{GENESIS, Record, encode_line, parse_line};
    use super::key::MacKey;
    let origin = Origin {
        user: "etl".into(),
        uid: Some(1000),
        host: "host-1".into(),
        pid: 42,
    };
    let event = Event::new("set", Action::Set("pass\nword".into()))
        .account("acme")
        .outcome(Outcome::Error("disk full".into()))
        .fingerprint("password", "ab12")
        .counter(7);
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_800_000_000_123);
    let record = Record::new(&event, &origin, time, 3, GENESIS, Some(2));
    let key = MacKey::from_bytes([7u8; 32]);
    let (line, hash) = encode_line(&record, |unsigned| key.mac_line(unsigned)).unwrap();
    let line = String::from_utf8(line).unwrap();
    assert_eq!(line, PINNED_LINE);
    assert_eq!(hash, PINNED_HASH);
    let parsed = parse_line(line.as_bytes()).unwrap();
    assert!(key.verify_line(&parsed.unsigned, &parsed.mac));
    assert_eq!((parsed.seq, parsed.action.as_str()), (3, "set"));
}

const PINNED_LINE: &str = concat!(
    r#"{"seq":3,"time":"2027-01-15T08:00:00.123Z","user":"etl","uid":1000,"host":"host-1","pid":42,"#,
    r#""command":"set","account":"acme","action":"set","detail":"pass word","outcome":"error","#,
    r#""reason":"disk full","fingerprints":{"password":"ab12"},"counter":7,"generation":2,"#,
    r#""prev":"0000000000000000000000000000000000000000000000000000000000000000","#,
    r#""mac":"fa82b84fce7867a1561c25667900246b30322e1ed485203e230cb73bc2f824ea"}"#,
);
const PINNED_HASH: &str = "2ca6137db7c4d2c4580f19d26529c2ea347e501b7ee6fc391d29ac9f3439d36d";
