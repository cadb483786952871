//! Property tests for the record and configuration parsers: random and mutated files give a
//! typed error, never a panic; a mutated record never opens, and a mutated configuration that
//! still parses never authenticates. Inputs are bounded (a few KiB), so time and memory are too.
//! Cases that ever failed live in `tests/regressions/record-*` and `config-*` and run first.

use proptest::prelude::*;
use secrecy::SecretString;

use crate::config::Config;
use crate::keystore::{Identity, KeyStoreKind};
use crate::proptest_support::{mutate, regressions};
use crate::providers::ProviderSettings;
use crate::record::{self, Account, Header, SecretField};

fn sealed() -> (Vec<u8>, Identity) {
    let id = Identity::generate();
    let mut account = Account::new(Header::new(
        "acme",
        ProviderSettings::new(crate::providers::ProviderKind::Oidc),
        "dwho".into(),
        100,
    ));
    account.set_secret(SecretField::Password, Some(SecretString::from("pw")), 100);
    account.header.writes = 7;
    (record::seal(&account, &[&id.to_public()]).unwrap(), id)
}

fn config() -> (Config, Identity) {
    let id = Identity::generate();
    let mut config = Config::new(
        KeyStoreKind::File,
        id.to_public().to_string(),
        Vec::new(),
        0,
    );
    config.seal(&id);
    (config, id)
}

#[test]
fn regression_records_and_configs_give_errors_not_panics() {
    let (_, id) = sealed();
    for case in regressions("record-") {
        let _ = record::peek(&case);
        assert!(record::open(&case, "acme", &id).is_err());
    }
    let (_, id) = config();
    for case in regressions("config-") {
        if let Ok(c) = Config::parse(&case) {
            assert!(c.authentication_problem(&id).is_some());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_neither_records_nor_configs(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let (_, id) = sealed();
        let _ = record::peek(&bytes);
        prop_assert!(record::open(&bytes, "acme", &id).is_err());
        let _ = Config::parse(&bytes);
    }

    #[test]
    fn random_headers_after_the_magic_never_panic(header in "\\PC{0,300}") {
        let mut bytes = b"keychain-record/1\n".to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.push(b'\n');
        let _ = record::peek(&bytes);
    }

    #[test]
    fn a_mutated_record_never_opens(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..5)) {
        let (bytes, id) = sealed();
        let mutated = mutate(bytes.clone(), &edits);
        prop_assume!(mutated != bytes);
        let _ = record::peek(&mutated);
        prop_assert!(record::open(&mutated, "acme", &id).is_err());
    }

    #[test]
    fn a_mutated_config_that_still_parses_does_not_authenticate(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..5),
    ) {
        let (config, id) = config();
        let bytes = serde_json::to_vec_pretty(&config).unwrap();
        let mutated = mutate(bytes.clone(), &edits);
        if let Ok(parsed) = Config::parse(&mutated) {
            // Whitespace edits keep the meaning; any change of a value must be caught.
            let same = serde_json::to_vec(&parsed).unwrap() == serde_json::to_vec(&config).unwrap();
            prop_assert_eq!(parsed.authentication_problem(&id).is_none(), same);
        }
    }
}
