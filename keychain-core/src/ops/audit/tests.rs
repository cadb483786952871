//! The audit operations and `scan` driven directly: what each records, and what each refuses
//! without recording anything.

use secrecy::SecretString;

use super::ack::{AckOptions, ack};
use super::fingerprint::{FingerprintOptions, fingerprint};
use super::seal_config::seal_config;
use super::verify::verify;
use crate::clock::ManualClock;
use crate::keychain::Keychain;
use crate::keychain::testing::{keychain_on, save};
use crate::ops::scan::{ScanOptions, scan};
use crate::providers::ProviderSettings;
use crate::record::{Account, Header, SecretField};

const T: i64 = 1_800_000_000;

fn account(name: &str) -> Account {
    let provider = ProviderSettings::new("exact-nl".parse().unwrap());
    let mut a = Account::new(Header::new(name, provider, "etl".into(), T - 86_400));
    a.set_secret(
        SecretField::Password,
        Some(SecretString::from(format!("pw-of-{name}"))),
        T - 3_600,
    );
    a
}

fn actions(kc: &Keychain) -> Vec<String> {
    kc.audit_lines()
        .unwrap()
        .into_iter()
        .map(|l| l.action)
        .collect()
}

fn test_value(kc: &Keychain, name: &str, value: &str) -> super::fingerprint::Fingerprinted {
    fingerprint(
        kc,
        FingerprintOptions {
            name: name.into(),
            field: SecretField::Password,
            value: SecretString::from(value.to_string()),
        },
    )
    .unwrap()
}

#[test]
fn fingerprint_says_whether_the_value_is_current_and_records_each_test() {
    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    save(&kc, &mut account("a"));
    let before = actions(&kc).len();

    let ours = test_value(&kc, "a", "pw-of-a");
    assert_eq!(ours.current, Some(true));
    assert!(
        ours.fingerprint
            .starts_with(ours.short.trim_start_matches("fp:"))
    );
    assert_eq!(test_value(&kc, "a", "other").current, Some(false));
    assert_eq!(test_value(&kc, "gone", "pw-of-a").current, None);

    let after = actions(&kc);
    assert_eq!(after.len(), before + 3);
    assert!(after[before..].iter().all(|a| a == "fingerprint"));
}

#[test]
fn ack_refuses_an_id_no_open_finding_has_and_records_nothing() {
    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    let before = actions(&kc).len();
    for id in ["not-an-id", "new-origin-0123456789"] {
        let options = AckOptions { id: id.into() };
        assert!(ack(&kc, &options).is_err(), "{id} was accepted");
    }
    assert_eq!(actions(&kc).len(), before);
}

#[test]
fn a_fresh_keychain_verifies_and_seals_its_configuration_again() {
    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    assert!(verify(&kc).unwrap().is_ok());
    let sealed = seal_config(&kc).unwrap().expect("its own key: sealed");
    assert_eq!(sealed.recipient, kc.config.recipient);
    assert_eq!(actions(&kc).last().map(String::as_str), Some("seal_config"));
    assert!(verify(&kc).unwrap().is_ok());
}

#[test]
fn scan_reports_an_unreadable_path_and_records_the_scan_in_the_keychain_there() {
    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    let scanned = scan(&ScanOptions {
        paths: vec![kc.dir.join("no such file.xml")],
        dir: Some(kc.dir.clone()),
        clock: kc.clock().clone(),
    });
    assert!(scanned.findings.is_empty());
    assert_eq!(scanned.errors.len(), 1);
    assert!(scanned.not_recorded.is_none());
    let lines = kc.audit_lines().unwrap();
    let last = lines.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.outcome.as_str()),
        ("scan", "error")
    );
}

/// Issue 23: a standing finding (two accounts that legitimately share a password) can be
/// acknowledged: it stays listed, marked with who acknowledged it, and the acknowledgement is a
/// line of the audit log; acknowledging it again records nothing.
#[test]
fn ack_acknowledges_a_duplicate_password_which_stays_listed() {
    use crate::ops::report::{ReportOptions, build};
    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    save(&kc, &mut account("a"));
    let mut b = account("b");
    b.set_secret(
        SecretField::Password,
        Some(SecretString::from("pw-of-a".to_string())),
        T - 3_600,
    );
    save(&kc, &mut b);
    let options = ReportOptions {
        max_password_age: 365,
        no_key: false,
        days: 30,
    };
    let duplicate = |kc: &Keychain| {
        build(kc, &options)
            .unwrap()
            .findings
            .into_iter()
            .find(|f| f.code == "duplicate-password")
            .expect("the shared password is a finding")
    };
    let found = duplicate(&kc);
    assert_eq!(found.accounts, ["a", "b"]);
    assert!(found.is_open());

    let done = ack(
        &kc,
        &AckOptions {
            id: found.id.clone(),
        },
    )
    .unwrap();
    assert!(
        matches!(done, super::ack::Acked::Recorded { .. }),
        "{done:?}"
    );
    let lines = kc.audit_lines().unwrap();
    let last = lines.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.detail.as_deref()),
        ("ack", Some(found.id.as_str()))
    );
    let after = duplicate(&kc);
    assert_eq!(after.id, found.id);
    assert!(!after.is_open(), "{after:?}");
    assert_eq!(after.acknowledged.as_ref().unwrap().seq, last.seq);

    let before = actions(&kc).len();
    assert!(matches!(
        ack(
            &kc,
            &AckOptions {
                id: found.id.clone()
            }
        )
        .unwrap(),
        super::ack::Acked::Already { .. }
    ));
    assert_eq!(actions(&kc).len(), before);
}
