//! `Keychain::commit` and `Keychain::remove` when the audit trail or the undo fails, on a
//! record store and a trail in memory that fail on purpose. The real-component tests (a full
//! disk under the file log, OpenBao stopped) stay in `tests/it`; these reach every branch of
//! the undo without them. Each test fails when the undo it pins is broken (checked by breaking
//! it: see the kc-audit notes of issue 21).

use super::{in_memory, save};
use crate::audit::{Action, Event};
use crate::clock::ManualClock;
use crate::error::{Error, Unlogged};
use crate::keychain::OnAuditFailure;
use crate::providers::ProviderSettings;
use crate::record::{Account, Header};
use crate::store::Expect;

fn account(name: &str) -> Account {
    Account::new(Header::new(
        name,
        ProviderSettings::new("exact-nl".parse().unwrap()),
        "etl".into(),
        1_800_000_000,
    ))
}

fn set_event(name: &str) -> Event {
    Event::new("set", Action::Set("user".into())).account(name)
}

/// Changes `acme`'s user and commits it with `on_failure`.
fn change(
    kc: &crate::keychain::Keychain,
    on_failure: OnAuditFailure,
) -> crate::error::Result<crate::store::Revision> {
    let lock = kc.lock("acme").unwrap();
    let (mut acme, revision) = kc.read("acme").unwrap();
    acme.header.user = "someone-else".into();
    kc.commit(
        &*lock,
        Expect::At(revision),
        &mut acme,
        vec![set_event("acme")],
        on_failure,
    )
}

#[test]
fn a_change_whose_events_cannot_be_logged_is_undone() {
    let (_tmp, kc, store, trail) = in_memory(ManualClock::at_unix(1_800_000_000));
    save(&kc, &mut account("acme"));
    let before = store.bytes("acme").unwrap();
    trail.fail_commit(1);
    let err = change(&kc, OnAuditFailure::Undo).unwrap_err();
    assert!(matches!(err, Error::Audit { .. }), "{err:?}");
    assert_eq!(
        store.bytes("acme").unwrap(),
        before,
        "the old bytes are back"
    );
    assert_eq!(trail.events().len(), 0, "nothing was logged");
}

#[test]
fn a_new_record_whose_events_cannot_be_logged_is_removed() {
    let (_tmp, kc, store, trail) = in_memory(ManualClock::at_unix(1_800_000_000));
    trail.fail_commit(1);
    let lock = kc.lock("acme").unwrap();
    let err = kc
        .commit(
            &*lock,
            Expect::Absent,
            &mut account("acme"),
            vec![Event::new("add", Action::Add).account("acme")],
            OnAuditFailure::Undo,
        )
        .unwrap_err();
    assert!(matches!(err, Error::Audit { .. }), "{err:?}");
    assert!(store.bytes("acme").is_none(), "the new record is gone");
}

#[test]
fn a_failed_undo_of_a_change_is_reported_as_unlogged() {
    let (_tmp, kc, store, trail) = in_memory(ManualClock::at_unix(1_800_000_000));
    save(&kc, &mut account("acme"));
    trail.fail_commit(1);
    // The first write is the change, the second its undo.
    store.fail_write(2);
    let err = change(&kc, OnAuditFailure::Undo).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unlogged {
                change: Unlogged::Written,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), crate::exit::INTEGRITY);
}

#[test]
fn a_failed_removal_of_a_new_record_is_reported_as_unlogged() {
    let (_tmp, kc, store, trail) = in_memory(ManualClock::at_unix(1_800_000_000));
    trail.fail_commit(1);
    store.fail_remove(1);
    let lock = kc.lock("acme").unwrap();
    let err = kc
        .commit(
            &*lock,
            Expect::Absent,
            &mut account("acme"),
            vec![Event::new("add", Action::Add).account("acme")],
            OnAuditFailure::Undo,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unlogged {
                change: Unlogged::Written,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        store.bytes("acme").is_some(),
        "the record the undo could not remove"
    );
}

#[test]
fn keep_keeps_a_change_whose_events_cannot_be_logged() {
    let (_tmp, kc, store, trail) = in_memory(ManualClock::at_unix(1_800_000_000));
    save(&kc, &mut account("acme"));
    let before = store.bytes("acme").unwrap();
    trail.fail_commit(1);
    let err = change(&kc, OnAuditFailure::Keep).unwrap_err();
    assert!(matches!(err, Error::Audit { .. }), "{err:?}");
    assert_ne!(
        store.bytes("acme").unwrap(),
        before,
        "the rotated token stays saved"
    );
}

#[test]
fn undo_writes_nothing_when_the_trail_cannot_begin_and_keep_writes_anyway() {
    let (_tmp, kc, store, trail) = in_memory(ManualClock::at_unix(1_800_000_000));
    save(&kc, &mut account("acme"));
    let before = store.bytes("acme").unwrap();
    trail.fail_begin(1);
    let err = change(&kc, OnAuditFailure::Undo).unwrap_err();
    assert!(matches!(err, Error::Audit { .. }), "{err:?}");
    assert_eq!(
        store.bytes("acme").unwrap(),
        before,
        "refused before the write"
    );
    trail.fail_begin(1);
    let err = change(&kc, OnAuditFailure::Keep).unwrap_err();
    assert!(matches!(err, Error::Audit { .. }), "{err:?}");
    assert_ne!(store.bytes("acme").unwrap(), before, "Keep writes even so");
}

#[test]
fn a_removal_whose_event_cannot_be_logged_is_put_back() {
    let (_tmp, kc, store, trail) = in_memory(ManualClock::at_unix(1_800_000_000));
    save(&kc, &mut account("acme"));
    let before = store.bytes("acme").unwrap();
    trail.fail_commit(1);
    let lock = kc.lock("acme").unwrap();
    let err = kc
        .remove(&*lock, Event::new("rm", Action::Rm).account("acme"))
        .unwrap_err();
    assert!(matches!(err, Error::Audit { .. }), "{err:?}");
    assert_eq!(store.bytes("acme").unwrap(), before, "the record is back");
}

#[test]
fn a_failed_undo_of_a_removal_is_reported_as_unlogged() {
    let (_tmp, kc, store, trail) = in_memory(ManualClock::at_unix(1_800_000_000));
    save(&kc, &mut account("acme"));
    trail.fail_commit(1);
    store.fail_write(1);
    let lock = kc.lock("acme").unwrap();
    let err = kc
        .remove(&*lock, Event::new("rm", Action::Rm).account("acme"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unlogged {
                change: Unlogged::Removed,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(store.bytes("acme").is_none());
}

#[test]
fn a_logged_change_carries_the_new_counter() {
    let (_tmp, kc, _store, trail) = in_memory(ManualClock::at_unix(1_800_000_000));
    save(&kc, &mut account("acme"));
    change(&kc, OnAuditFailure::Undo).unwrap();
    let events = trail.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].counter, Some(2), "one past the first write");
}
