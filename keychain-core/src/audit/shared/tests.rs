//! The shared trail over a real folder store: two machines are two keychain folders (each with
//! its copy) appending to one store folder.

use std::sync::Arc;

use secrecy::SecretBox;

use super::*;
use crate::audit::Action;
use crate::store::kv::LocalKv;

struct Machine {
    dir: tempfile::TempDir,
}

fn secret(byte: u8) -> Option<SecretBox<[u8; 32]>> {
    Some(SecretBox::new(Box::new([byte; 32])))
}

fn setup() -> (tempfile::TempDir, Arc<LocalKv>, Machine, Machine) {
    let store = tempfile::tempdir().unwrap();
    let kv = Arc::new(LocalKv::open(store.path()).unwrap());
    (
        store,
        kv,
        Machine {
            dir: tempfile::tempdir().unwrap(),
        },
        Machine {
            dir: tempfile::tempdir().unwrap(),
        },
    )
}

impl Machine {
    fn log(&self, kv: &Arc<LocalKv>, secrets: &[Option<SecretBox<[u8; 32]>>]) -> SharedLog {
        SharedLog::new(kv.clone(), self.dir.path(), secrets, crate::clock::system())
    }
}

fn event(account: &str) -> Event {
    Event::new("login", Action::LoginRefresh)
        .account(account)
        .counter(1)
}

fn any_key() -> AuditKey {
    AuditKey::derive(&SecretBox::new(Box::new([9u8; 32])))
}

fn kinds(report: &VerifyReport) -> Vec<ProblemKind> {
    report.problems.iter().map(|p| p.kind.clone()).collect()
}

/// Replaces the value at `seq` in the store, as someone with write access to the store could.
fn overwrite(kv: &LocalKv, seq: u64, bytes: &[u8]) {
    let version = kv.get(&position(seq)).unwrap().unwrap().version;
    kv.put(&position(seq), bytes, KvExpect::At(version))
        .unwrap();
}

fn remove(store: &Path, seq: u64) {
    std::fs::remove_file(store.join(position(seq))).unwrap();
}

#[test]
fn two_machines_append_to_one_chain_and_each_verifies_all_of_it() {
    let (_s, kv, etl1, etl2) = setup();
    let one = etl1.log(&kv, &[secret(1)]);
    let two = etl2.log(&kv, &[secret(1)]);
    one.append(&event("acme")).unwrap();
    two.append(&event("acme")).unwrap();
    one.append(&event("beta")).unwrap();
    for log in [&one, &two] {
        let report = log.verify(&any_key()).unwrap();
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.lines, 3);
    }
    // Each machine's copy holds every machine's events, for reports and counters.
    let copy = std::fs::read_to_string(two.files().unwrap()[0].clone()).unwrap();
    assert_eq!(copy.lines().count(), 3);
    assert!(copy.contains("\"generation\":0"));
    assert_eq!(two.last_counter("beta").unwrap(), Some(1));
}

#[test]
fn a_position_taken_by_another_machine_meanwhile_is_chained_to_not_overwritten() {
    let (_s, kv, etl1, etl2) = setup();
    let one = etl1.log(&kv, &[secret(1)]);
    let two = etl2.log(&kv, &[secret(1)]);
    let pending = two.begin().unwrap();
    one.append(&event("acme")).unwrap();
    pending.commit(&[event("beta")]).unwrap();
    let report = one.verify(&any_key()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.lines, 2);
    let second = kv.get(&position(1)).unwrap().unwrap().bytes;
    assert!(
        String::from_utf8(second)
            .unwrap()
            .contains("\"account\":\"beta\"")
    );
}

#[test]
fn machines_appending_at_once_lose_no_event_and_keep_one_chain() {
    let (_s, kv, _, _) = setup();
    let machines: Vec<Machine> = (0..4)
        .map(|_| Machine {
            dir: tempfile::tempdir().unwrap(),
        })
        .collect();
    std::thread::scope(|scope| {
        for (i, machine) in machines.iter().enumerate() {
            let log = machine.log(&kv, &[secret(1)]);
            scope.spawn(move || {
                for n in 0..25 {
                    log.append(&event(&format!("m{i}-{n}"))).unwrap();
                }
            });
        }
    });
    let first = machines[0].log(&kv, &[secret(1)]);
    let report = first.verify(&any_key()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.lines, 100);
    // Its copy, brought up to date, holds every machine's events.
    first.files().unwrap();
    for i in 0..4 {
        for n in 0..25 {
            let account = format!("m{i}-{n}");
            assert!(
                first.last_counter(&account).unwrap().is_some(),
                "{account} lost"
            );
        }
    }
}

#[test]
fn an_edited_event_is_found_by_verify_on_either_machine_and_stops_appends() {
    let (_s, kv, etl1, etl2) = setup();
    let one = etl1.log(&kv, &[secret(1)]);
    let two = etl2.log(&kv, &[secret(1)]);
    for account in ["acme", "beta", "gamma"] {
        one.append(&event(account)).unwrap();
    }
    two.files().unwrap();
    let text = kv.get(&position(1)).unwrap().unwrap().bytes;
    let edited = String::from_utf8(text)
        .unwrap()
        .replace("\"beta\"", "\"zeta\"");
    overwrite(&kv, 1, edited.as_bytes());
    for log in [&one, &two] {
        let report = log.verify(&any_key()).unwrap();
        assert_eq!(
            kinds(&report),
            vec![ProblemKind::BadMac, ProblemKind::NotAsSeen],
            "{report}"
        );
    }
    // The tail a machine saw replaced: nothing more is appended there.
    let text = kv.get(&position(2)).unwrap().unwrap().bytes;
    overwrite(
        &kv,
        2,
        String::from_utf8(text)
            .unwrap()
            .replace("gamma", "delta")
            .as_bytes(),
    );
    let e = two.append(&event("acme")).unwrap_err();
    assert!(
        e.to_string()
            .contains("another event than this machine saw"),
        "{e}"
    );
}

#[test]
fn a_deleted_event_is_a_gap_and_a_deleted_tail_is_a_truncation() {
    let (store, kv, etl1, etl2) = setup();
    let one = etl1.log(&kv, &[secret(1)]);
    let two = etl2.log(&kv, &[secret(1)]);
    for account in ["a", "b", "c", "d"] {
        one.append(&event(account)).unwrap();
    }
    two.files().unwrap();
    remove(store.path(), 1);
    let report = two.verify(&any_key()).unwrap();
    assert_eq!(
        kinds(&report),
        vec![ProblemKind::Gap {
            expected: 1,
            found: 2
        }],
        "{report}"
    );
    remove(store.path(), 3);
    let report = two.verify(&any_key()).unwrap();
    assert!(
        kinds(&report).contains(&ProblemKind::Truncated {
            anchor_next: 4,
            log_next: 3
        }),
        "{report}"
    );
    let e = two.append(&event("e")).unwrap_err();
    assert!(e.to_string().contains("no longer holds"), "{e}");
}

#[test]
fn reordered_events_are_out_of_order() {
    let (_s, kv, etl1, _) = setup();
    let one = etl1.log(&kv, &[secret(1)]);
    for account in ["a", "b", "c"] {
        one.append(&event(account)).unwrap();
    }
    let first = kv.get(&position(0)).unwrap().unwrap().bytes;
    let second = kv.get(&position(1)).unwrap().unwrap().bytes;
    overwrite(&kv, 0, &second);
    overwrite(&kv, 1, &first);
    let report = one.verify(&any_key()).unwrap();
    let found = kinds(&report);
    assert!(
        found.contains(&ProblemKind::OutOfOrder {
            expected: 0,
            found: 1
        }) && found.contains(&ProblemKind::OutOfOrder {
            expected: 1,
            found: 0
        }),
        "{report}"
    );
}

#[test]
fn an_event_forged_without_the_group_key_is_refused_and_a_removed_member_cannot_append() {
    let (_s, kv, etl1, mallory) = setup();
    let one = etl1.log(&kv, &[secret(1)]);
    one.append(&event("acme")).unwrap();
    // Mallory appends with a key of her own for generation 0.
    mallory
        .log(&kv, &[secret(66)])
        .append(&event("acme"))
        .unwrap_err();
    let forger = SharedLog::new(
        kv.clone(),
        mallory.dir.path(),
        &[secret(66)],
        crate::clock::system(),
    );
    let cursor = Cursor {
        next_seq: 1,
        last_hash: line_hash(&kv.get(&position(0)).unwrap().unwrap().bytes),
        generation: 0,
    };
    let (line, _) = forger
        .encode(&cursor, &event("acme"), &Origin::current())
        .unwrap();
    kv.put(&position(1), &line, KvExpect::Absent).unwrap();
    let e = one.append(&event("acme")).unwrap_err();
    assert!(e.to_string().contains("MAC does not match"), "{e}");
    assert_eq!(
        kinds(&one.verify(&any_key()).unwrap()),
        vec![ProblemKind::BadMac]
    );

    // After the rotation to generation 1, a machine holding only generation 0 cannot append.
    let (_s, kv, etl1, gone) = setup();
    etl1.log(&kv, &[secret(1), secret(2)])
        .append(&event("acme"))
        .unwrap();
    let e = gone
        .log(&kv, &[secret(1), None])
        .append(&event("acme"))
        .unwrap_err();
    assert!(e.to_string().contains("no current group key"), "{e}");
}

/// Issue 20, item 3: after a rotation, an event MAC'd under the retired generation (whose key
/// the removed member kept) is refused by every sync and reported by `verify`, wherever it is
/// put after an event of the newer generation; before the rotation's first event it is still
/// an event of its time.
#[test]
fn an_event_under_a_retired_generation_after_a_newer_one_is_refused_and_reported() {
    let (_s, kv, etl1, gone) = setup();
    let one = etl1.log(&kv, &[secret(1)]);
    one.append(&event("acme")).unwrap();
    // The rotation: etl1 now appends under generation 1.
    let one = etl1.log(&kv, &[secret(1), secret(2)]);
    one.append(&event("acme").counter(5)).unwrap();
    // The removed member appends under generation 0, chained correctly, with an old counter.
    let forger = gone.log(&kv, &[secret(1)]);
    let cursor = Cursor {
        next_seq: 2,
        last_hash: line_hash(&kv.get(&position(1)).unwrap().unwrap().bytes),
        generation: 0,
    };
    let (line, _) = forger
        .encode(&cursor, &event("acme").counter(1), &Origin::current())
        .unwrap();
    kv.put(&position(2), &line, KvExpect::Absent).unwrap();

    // A machine whose copy is behind (it never synced) and one that is up to date both refuse.
    let fresh = Machine {
        dir: tempfile::tempdir().unwrap(),
    };
    for log in [&one, &fresh.log(&kv, &[secret(1), secret(2)])] {
        let e = log.append(&event("acme")).unwrap_err();
        assert!(e.to_string().contains("retired"), "{e}");
        let e = log.last_counter("acme").unwrap_err();
        assert!(e.to_string().contains("retired"), "{e}");
        assert_eq!(
            kinds(&log.verify(&any_key()).unwrap()),
            vec![ProblemKind::RetiredGeneration {
                generation: 0,
                newer: 1
            }]
        );
    }
}

/// Issue 20, item 2: the counter a record is compared with is the trail's as it stands in the
/// store, not as this machine's copy last saw it.
#[test]
fn last_counter_reads_what_other_machines_appended_since() {
    let (_s, kv, etl1, etl2) = setup();
    let one = etl1.log(&kv, &[secret(1)]);
    let two = etl2.log(&kv, &[secret(1)]);
    one.append(&event("acme").counter(3)).unwrap();
    assert_eq!(two.last_counter("acme").unwrap(), Some(3));
    one.append(&event("acme").counter(4)).unwrap();
    assert_eq!(two.last_counter("acme").unwrap(), Some(4));
    // A lower counter logged later (a holder whose lease ran out) never lowers it.
    two.append(&event("acme").counter(2)).unwrap();
    assert_eq!(one.last_counter("acme").unwrap(), Some(4));
}

/// The counters as a full backward read of the copy gives them (no index).
fn full_read(log: &SharedLog, account: &str) -> Option<u64> {
    super::super::counter::last_counter(std::slice::from_ref(&log.copy), account).unwrap()
}

#[test]
fn the_counter_index_agrees_with_a_full_read_of_the_copy_as_it_grows() {
    let (_s, kv, etl1, etl2) = setup();
    let one = etl1.log(&kv, &[secret(1)]);
    let two = etl2.log(&kv, &[secret(1)]);
    let index = etl2.dir.path().join(counters::INDEX_FILE);
    let mut rewritten = 0;
    let mut last = None;
    for i in 0..240u64 {
        // Mostly events without a counter (cached logins), now and then a write, on two
        // accounts, from two machines: the index is rewritten several times on the way.
        let account = if i % 3 == 0 { "acme" } else { "beta" };
        let event = if i % 37 == 0 {
            event(account).counter(i + 1)
        } else {
            Event::new("login", Action::LoginCache).account(account)
        };
        if i % 2 == 0 { &one } else { &two }.append(&event).unwrap();
        for account in ["acme", "beta", "gamma"] {
            assert_eq!(
                two.last_counter(account).unwrap(),
                full_read(&two, account),
                "{account} after {i}"
            );
        }
        let now = std::fs::read(&index).ok();
        rewritten += usize::from(now != last);
        last = now;
    }
    assert!(rewritten >= 3, "the index was written {rewritten} times");
}

#[test]
fn a_counter_index_that_is_forged_or_does_not_fit_the_copy_is_not_used() {
    let (_s, kv, etl1, _) = setup();
    let one = etl1.log(&kv, &[secret(1)]);
    one.append(&event("acme").counter(5)).unwrap();
    for _ in 0..80 {
        one.append(&Event::new("login", Action::LoginCache).account("acme"))
            .unwrap();
    }
    assert_eq!(one.last_counter("acme").unwrap(), Some(5));
    let index = etl1.dir.path().join(counters::INDEX_FILE);
    let good = std::fs::read_to_string(&index).unwrap();
    assert!(good.contains("\"acme\":5"), "{good}");
    // A lower counter written in without the key: its MAC does not check.
    std::fs::write(&index, good.replace("\"acme\":5", "\"acme\":1")).unwrap();
    assert_eq!(one.last_counter("acme").unwrap(), Some(5));
    // The same, MAC'd under another key (a generation this machine does not hold).
    let other = etl1.log(&kv, &[secret(2)]);
    std::fs::write(&index, &good).unwrap();
    assert_eq!(
        counters::read(&one.copy, etl1.dir.path(), &other.keys())
            .unwrap()
            .get("acme"),
        Some(&5)
    );
    // A good index beside a copy that was replaced by a longer, different one (another
    // trail's): the line the index ends with is not where it says, so the copy is read in full.
    let (_s2, kv2, elsewhere, _) = setup();
    let two = elsewhere.log(&kv2, &[secret(1)]);
    two.append(&event("acme").counter(2)).unwrap();
    for _ in 0..120 {
        two.append(&Event::new("login", Action::LoginCache).account("acme"))
            .unwrap();
    }
    std::fs::copy(&two.copy, &one.copy).unwrap();
    std::fs::write(&index, &good).unwrap();
    assert!(std::fs::metadata(&one.copy).unwrap().len() > 81 * 200);
    assert_eq!(
        counters::read(&one.copy, etl1.dir.path(), &one.keys())
            .unwrap()
            .get("acme"),
        Some(&2)
    );
}
