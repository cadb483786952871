//! Records: sealing, opening, tampering, swapped names, the authentication line.

use super::format::parse_header;
use super::*;
use crate::providers::ProviderSettings;

fn sample() -> (Account, age::x25519::Identity) {
    let mut account = Account::new(Header::new(
        "acme",
        ProviderSettings::new(crate::providers::ProviderKind::Oidc),
        "dwho".into(),
        100,
    ));
    account.set_secret(
        SecretField::Password,
        Some(SecretString::from("canary-pw-4711")),
        100,
    );
    (account, age::x25519::Identity::generate())
}

#[test]
fn sealed_record_round_trips_and_holds_no_plaintext_secret() {
    let (account, id) = sample();
    let bytes = seal(&account, &[&id.to_public()]).unwrap();
    assert!(!bytes.windows(14).any(|w| w == b"canary-pw-4711"));
    let opened = open(&bytes, "acme", &id).unwrap();
    assert_eq!(
        opened
            .secret(SecretField::Password)
            .unwrap()
            .expose_secret(),
        "canary-pw-4711"
    );
    assert_eq!(opened.header, account.header);
    assert_eq!(peek(&bytes).unwrap().user, "dwho");
}

#[test]
fn header_without_a_write_counter_reads_as_zero_and_one_with_it_round_trips() {
    let old = br#"{"name":"acme","provider":{"kind":"oidc"},"user":"u","created":1,"updated":1}"#;
    assert_eq!(parse_header(old).unwrap().writes, 0);
    let (mut account, id) = sample();
    account.header.writes = 41;
    let bytes = seal(&account, &[&id.to_public()]).unwrap();
    assert_eq!(open(&bytes, "acme", &id).unwrap().header.writes, 41);
}

#[test]
fn a_provider_kind_this_keychain_does_not_know_is_named_not_called_damage() {
    let newer =
        br#"{"name":"acme","provider":{"kind":"keycloak"},"user":"u","created":1,"updated":1}"#;
    let e = parse_header(newer).unwrap_err();
    assert!(
        matches!(&e, RecordError::UnknownProvider(k) if k == "keycloak"),
        "{e}"
    );
    // Anything else wrong stays damage, even beside a known kind.
    let damaged = br#"{"name":"acme","provider":{"kind":"oidc"},"user":7}"#;
    assert!(matches!(
        parse_header(damaged),
        Err(RecordError::BadHeader(_))
    ));
}

#[test]
fn edited_header_is_detected_when_opened() {
    let (account, id) = sample();
    let bytes = seal(&account, &[&id.to_public()]).unwrap();
    let at = bytes
        .windows(4)
        .position(|w| w == b"dwho")
        .expect("user name in the header");
    let mut tampered = bytes.clone();
    tampered[at..at + 4].copy_from_slice(b"evil");
    assert_eq!(peek(&tampered).unwrap().user, "evil");
    assert!(matches!(
        open(&tampered, "acme", &id),
        Err(RecordError::HeaderTampered)
    ));
}

#[test]
fn record_opened_under_another_name_is_refused() {
    let (account, id) = sample();
    let bytes = seal(&account, &[&id.to_public()]).unwrap();
    assert!(matches!(
        open(&bytes, "other", &id),
        Err(RecordError::WrongName(_))
    ));
}

#[test]
fn wrong_key_is_reported_as_such() {
    let (account, id) = sample();
    let bytes = seal(&account, &[&id.to_public()]).unwrap();
    let other = age::x25519::Identity::generate();
    assert!(matches!(
        open(&bytes, "acme", &other),
        Err(RecordError::WrongKey)
    ));
}

#[test]
fn an_authentication_line_is_split_off_and_a_damaged_one_is_an_error() {
    let (account, id) = sample();
    let bytes = seal(&account, &[&id.to_public()]).unwrap();
    let mac = "ab".repeat(32);
    let mut authed = format!("keychain-auth/1 7 {mac}\n").into_bytes();
    authed.extend_from_slice(&bytes);
    let (auth, rest) = split_auth(&authed).unwrap();
    assert_eq!(
        auth,
        Some(Auth {
            generation: 7,
            mac: &mac
        })
    );
    assert_eq!(rest, &bytes[..]);
    assert_eq!(open(&authed, "acme", &id).unwrap().header, account.header);
    assert_eq!(split_auth(&bytes).unwrap(), (None, &bytes[..]));
    for bad in [
        "keychain-auth/1 7\n".to_string(),
        format!("keychain-auth/1 +7 {mac}\n"),
        format!("keychain-auth/1 7 {}\n", "AB".repeat(32)),
        format!("keychain-auth/1 7 {mac}"),
    ] {
        let mut damaged = bad.into_bytes();
        damaged.extend_from_slice(&bytes);
        assert!(
            matches!(split_auth(&damaged), Err(RecordError::BadHeader(_))),
            "{}",
            String::from_utf8_lossy(&damaged[..20])
        );
    }
}

#[test]
fn every_truncation_and_bit_flip_is_an_error_not_a_panic() {
    let (account, id) = sample();
    let bytes = seal(&account, &[&id.to_public()]).unwrap();
    for len in 0..bytes.len() {
        assert!(
            open(&bytes[..len], "acme", &id).is_err(),
            "truncated to {len}"
        );
    }
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x01;
        // A flip inside the JSON header may still parse (e.g. a changed letter) but then the
        // header hash no longer matches; every flip must fail one way or another.
        assert!(open(&flipped, "acme", &id).is_err(), "bit flipped at {i}");
    }
}

/// A shared keychain's token times move between the store's clock and ours, each the way its
/// rule stays safe: for a machine 120-122 s behind the store, an error lasts as late as it can
/// and a refresh token is never less idle than it can be, in both directions; a local
/// keychain's times do not move.
#[test]
fn token_times_cross_between_the_store_clock_and_ours_on_the_safe_side() {
    use crate::clock::reference::Now;
    let store = Now {
        earliest: 10_120,
        latest: 10_122,
        local: 10_000,
        store_clock: true,
    };
    let (mut account, _) = sample();
    account.header.provider_errors = vec![5_000];
    account.header.refresh_token_active = Some(6_000);
    account.header.access_token_expires = Some(7_000);
    account.header.access_token_issued = Some(6_400);

    let ours = account.header.token_times_on_our_clock(&store);
    // On our clock the error is as late as it can be (its hour lasts longest), the last use as
    // early (idle the longest), the expiry as early and the issue as late.
    assert_eq!(ours.provider_errors, vec![4_880]);
    assert_eq!(ours.refresh_token_active, Some(5_878));
    assert_eq!(ours.access_token_expires, Some(6_878));
    assert_eq!(ours.access_token_issued, Some(6_280));

    let back = ours.token_times_on_records_clock(&store);
    assert_eq!(back.provider_errors, vec![5_002], "the error never earlier");
    assert_eq!(
        back.refresh_token_active,
        Some(5_998),
        "the last use never later"
    );
    assert_eq!(
        back.access_token_expires,
        Some(6_998),
        "the expiry never later"
    );
    assert_eq!(
        back.access_token_issued,
        Some(6_402),
        "the issue never earlier"
    );

    let local = Now::local(10_000);
    let same = account.header.token_times_on_our_clock(&local);
    assert_eq!(same.refresh_token_active, Some(6_000));
    assert_eq!(
        same.token_times_on_records_clock(&local).provider_errors,
        vec![5_000]
    );
}
