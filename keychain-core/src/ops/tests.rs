//! The operations driven directly, without a terminal or the CLI: what each refuses before it
//! writes or asks anything, and `mv`'s recovery from an interrupted rename.

use std::cell::Cell;

use secrecy::SecretString;

use super::add::{AddOptions, add};
use super::edit::{ProviderChanges, SecretsGiven, UnsetField};
use super::mv::{MvOptions, mv};
use super::rm::{RmOptions, rm};
use super::set::{SetOptions, set};
use crate::clock::ManualClock;
use crate::keychain::Keychain;
use crate::keychain::testing::{keychain_on, save};
use crate::name::AccountName;
use crate::providers::ProviderSettings;
use crate::record::{Account, Header, SecretField};

const T: i64 = 1_800_000_000;

fn name(text: &str) -> AccountName {
    AccountName::parse(text).unwrap()
}

fn account(name: &str) -> Account {
    let provider = ProviderSettings {
        client_id: Some("client".into()),
        redirect_uri: Some("https://example.com/callback".into()),
        ..ProviderSettings::new("exact-nl".parse().unwrap())
    };
    let mut a = Account::new(Header::new(name, provider, "etl".into(), T - 86_400));
    a.set_secret(
        SecretField::Password,
        Some(SecretString::from(format!("pw-of-{name}"))),
        T - 3_600,
    );
    a
}

fn exists(kc: &Keychain, name: &str) -> bool {
    kc.store().read(name).unwrap().is_some()
}

#[test]
fn mv_renames_and_finishes_a_rename_interrupted_after_its_mark() {
    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    save(&kc, &mut account("a"));
    let moved = mv(
        &kc,
        &MvOptions {
            old: name("a"),
            new: name("b"),
        },
    )
    .unwrap();
    assert_eq!((moved.old.as_str(), moved.new.as_str()), ("a", "b"));
    assert!(!exists(&kc, "a"));
    let (b, _) = kc.read("b").unwrap();
    assert_eq!(b.header.moved_to, None);

    // Step 1 done, then a crash: b is marked as moving to c, c is not written yet.
    let (mut marked, _) = kc.read("b").unwrap();
    marked.header.moved_to = Some("c".into());
    save(&kc, &mut marked);
    let other = mv(
        &kc,
        &MvOptions {
            old: name("b"),
            new: name("d"),
        },
    );
    assert!(
        other
            .err()
            .unwrap()
            .to_string()
            .contains("is being moved to 'c'"),
        "a marked account moves only to its mark"
    );
    mv(
        &kc,
        &MvOptions {
            old: name("b"),
            new: name("c"),
        },
    )
    .unwrap();
    assert!(!exists(&kc, "b"));
    assert!(exists(&kc, "c"));
}

#[test]
fn mv_refuses_the_same_name_and_an_existing_target() {
    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    save(&kc, &mut account("a"));
    save(&kc, &mut account("b"));
    let same = mv(
        &kc,
        &MvOptions {
            old: name("a"),
            new: name("a"),
        },
    );
    assert!(
        same.err()
            .unwrap()
            .to_string()
            .contains("are the same name")
    );
    let taken = mv(
        &kc,
        &MvOptions {
            old: name("a"),
            new: name("b"),
        },
    );
    assert!(taken.err().unwrap().to_string().contains("already exists"));
    assert!(exists(&kc, "a") && exists(&kc, "b"));
    assert_eq!(
        kc.read("a").unwrap().0.header.moved_to,
        None,
        "nothing marked"
    );
}

#[test]
fn rm_checks_every_name_before_asking_and_a_no_removes_nothing() {
    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    save(&kc, &mut account("a"));
    let asked = Cell::new(false);
    let options = RmOptions {
        names: vec!["a".into(), "nope".into()],
    };
    let err = rm(&kc, &options, |_| Ok(asked.replace(true)), |_| ()).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    assert!(
        !asked.get(),
        "a typo in the list is found before anyone is asked"
    );

    let options = RmOptions {
        names: vec!["a".into(), "a".into()],
    };
    let err = rm(
        &kc,
        &options,
        |names| {
            assert_eq!(names, ["a"], "a name given twice is asked about once");
            Ok(false)
        },
        |_| (),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not confirmed"));
    assert!(exists(&kc, "a"));

    let mut removed = Vec::new();
    rm(&kc, &options, |_| Ok(true), |n| removed.push(n.to_string())).unwrap();
    assert_eq!(removed, ["a"]);
    assert!(!exists(&kc, "a"));
}

#[test]
fn add_refuses_an_existing_account_before_reading_any_secret() {
    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    save(&kc, &mut account("a"));
    let options = AddOptions {
        name: name("a"),
        provider: ProviderChanges {
            provider: Some("exact-nl".parse().unwrap()),
            client_id: Some("client".into()),
            redirect_uri: Some("https://example.com/callback".into()),
            ..ProviderChanges::default()
        },
        user: "etl".into(),
        replace: false,
        same_is_unchanged: false,
    };
    let read = Cell::new(false);
    let err = add(&kc, &options, |_, _| {
        read.set(true);
        Ok(())
    })
    .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert!(
        !read.get(),
        "no secret is read for an account that cannot be added"
    );
}

#[test]
fn set_refuses_nothing_to_change_and_a_contradiction_before_reading_any_secret() {
    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    save(&kc, &mut account("a"));
    let nothing = SetOptions {
        name: name("a"),
        provider: ProviderChanges::default(),
        user: None,
        secrets: SecretsGiven::default(),
        unset: Vec::new(),
    };
    let read = Cell::new(false);
    let reader = |_: &mut Account, _: i64| {
        read.set(true);
        Ok(())
    };
    let err = set(&kc, &nothing, reader).unwrap_err();
    assert!(err.to_string().contains("nothing to change"), "{err}");

    let contradiction = SetOptions {
        secrets: SecretsGiven {
            password: true,
            ..SecretsGiven::default()
        },
        unset: vec![UnsetField::Password],
        ..nothing.clone()
    };
    let err = set(&kc, &contradiction, reader).unwrap_err();
    assert!(err.to_string().contains("contradict each other"), "{err}");
    assert!(!read.get());

    let user = SetOptions {
        user: Some("other".into()),
        ..nothing
    };
    let changed = set(&kc, &user, |_, _| Ok(())).unwrap();
    assert_eq!(changed.fields, ["user"]);
    assert_eq!(kc.read("a").unwrap().0.header.user, "other");
}
