//! A whole-keychain report (`audit`) peeks at every record's header and then opens every
//! record: each record is read from the store once, not twice (issue 24), and still after the
//! log's counters (the log first, the records second).

use super::{exact_account, in_memory, save};
use crate::clock::ManualClock;

#[test]
fn a_report_that_peeks_then_opens_reads_each_record_once() {
    let (_tmp, kc, store, _trail) = in_memory(ManualClock::at_unix(1_800_000_000));
    let names: Vec<String> = (0..40).map(|i| format!("acct{i:02}")).collect();
    for name in &names {
        save(&kc, &mut exact_account(name));
    }
    kc.load_counters().unwrap();
    let before = store.reads();
    let headers = kc.peek_many(&names);
    let opened = kc.read_many(&names).unwrap();
    assert_eq!(
        store.reads() - before,
        names.len() as u64,
        "one read per record"
    );
    for ((name, header), account) in names.iter().zip(headers).zip(opened) {
        assert_eq!(&header.unwrap().name, name);
        assert_eq!(&account.unwrap().header.name, name);
    }
    // Kept for one opening only: opening again reads the store again (a later change is seen).
    let before = store.reads();
    kc.read_many(&names).unwrap();
    assert_eq!(store.reads() - before, names.len() as u64);
}

#[test]
fn headers_peeked_before_the_counters_are_not_kept() {
    let (_tmp, kc, store, _trail) = in_memory(ManualClock::at_unix(1_800_000_000));
    let names: Vec<String> = (0..3).map(|i| format!("acct{i}")).collect();
    for name in &names {
        save(&kc, &mut exact_account(name));
    }
    let before = store.reads();
    kc.peek_many(&names);
    // The counters are loaded by read_many itself here: the records must be read after them.
    kc.read_many(&names).unwrap();
    assert_eq!(store.reads() - before, 2 * names.len() as u64);
}
