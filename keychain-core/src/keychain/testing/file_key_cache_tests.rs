//! The file-key cache (issue 24, `audit` on 10,000 accounts): a whole-keychain opening skips the
//! X25519 agreement of records it opened before, and nothing else. Real files in a temporary
//! keychain; the cache is forged only where a test says so, with the identity.

use secrecy::{ExposeSecret, SecretString};

use super::super::file_key_cache::{FILE_NAME, testing};
use super::{exact_account, keychain_on, save};
use crate::clock::ManualClock;
use crate::crypto::X25519Opener;
use crate::error::Error;
use crate::keychain::Keychain;
use crate::record::{RecordError, SecretField};

const NOW: i64 = 1_800_000_000;

/// A keychain of `n` accounts, each with its own password (`pw-<name>`).
fn keychain_of(n: usize) -> (tempfile::TempDir, Keychain, Vec<String>) {
    let (tmp, kc) = keychain_on(ManualClock::at_unix(NOW));
    let names: Vec<String> = (0..n).map(|i| format!("acct{i:02}")).collect();
    for name in &names {
        let mut account = exact_account(name);
        account.set_secret(
            SecretField::Password,
            Some(SecretString::from(format!("pw-{name}"))),
            NOW,
        );
        save(&kc, &mut account);
    }
    (tmp, kc, names)
}

/// Opens every record as `audit` does; each must open as itself, with its own password.
fn open_all(kc: &Keychain, names: &[String]) {
    for (name, opened) in names.iter().zip(kc.read_many(names).unwrap()) {
        let account = opened.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&account.header.name, name);
        assert_eq!(
            account
                .secret(SecretField::Password)
                .unwrap()
                .expose_secret(),
            format!("pw-{name}")
        );
    }
}

fn opener(kc: &Keychain) -> X25519Opener {
    X25519Opener::new(kc.identity().unwrap())
}

fn cache_path(kc: &Keychain) -> std::path::PathBuf {
    kc.dir.join(FILE_NAME)
}

#[test]
fn a_warm_opening_makes_no_agreement_for_unchanged_records() {
    let (_tmp, kc, names) = keychain_of(12);
    open_all(&kc, &names);
    assert_eq!(kc.agreements.get(), 12, "cold: one agreement per record");
    open_all(&kc, &names);
    assert_eq!(kc.agreements.get(), 0, "warm: none");
    // A fresh process (a new Keychain) reads the cache from the folder.
    let again = Keychain::open(&kc.dir).unwrap();
    open_all(&again, &names);
    assert_eq!(again.agreements.get(), 0, "warm, another process: none");
}

#[test]
fn the_cache_is_written_0600_and_sealed() {
    use std::os::unix::fs::PermissionsExt;
    let (_tmp, kc, names) = keychain_of(8);
    open_all(&kc, &names);
    let path = cache_path(&kc);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the cache's mode");
    let bytes = std::fs::read(&path).unwrap();
    let entries = testing::entries(&kc.dir, &opener(&kc)).expect("unseals with the identity");
    assert_eq!(entries.len(), names.len(), "one entry per record");
    for (id, key) in &entries {
        assert!(
            !bytes.windows(key.len()).any(|w| w == key),
            "a file key in plaintext"
        );
        assert!(
            !bytes.windows(id.len()).any(|w| w == id),
            "an entry's id in plaintext"
        );
    }
    // Each entry is a record's real file key: a forged cache of them opens with no agreement.
    testing::write(&kc.dir, &opener(&kc), &entries);
    open_all(&kc, &names);
    assert_eq!(kc.agreements.get(), 0);
}

/// Damage of every kind to the cache file: ignored (every record still opens, the slow way),
/// and the cache is written again, whole.
#[test]
fn a_damaged_cache_is_ignored_and_rebuilt() {
    let (_tmp, kc, names) = keychain_of(6);
    open_all(&kc, &names);
    let good = std::fs::read(cache_path(&kc)).unwrap();
    let damages: Vec<(&str, Vec<u8>)> = vec![
        ("a flipped ciphertext byte", {
            let mut b = good.clone();
            let at = b.len() - 40;
            b[at] ^= 1;
            b
        }),
        ("a flipped tag byte", {
            let mut b = good.clone();
            *b.last_mut().unwrap() ^= 0x80;
            b
        }),
        ("a flipped salt byte", {
            let mut b = good.clone();
            b[30] ^= 1;
            b
        }),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("garbage", vec![0x41; 4096]),
        ("one entry more, unsealed", {
            let mut b = good.clone();
            b.extend_from_slice(&[7; 48]);
            b
        }),
    ];
    for (what, bytes) in damages {
        std::fs::write(cache_path(&kc), &bytes).unwrap();
        open_all(&kc, &names);
        assert_eq!(kc.agreements.get(), 6, "{what}: opened the slow way");
        let rebuilt = testing::entries(&kc.dir, &opener(&kc)).expect(what);
        assert_eq!(rebuilt.len(), 6, "{what}: rebuilt");
        open_all(&kc, &names);
        assert_eq!(kc.agreements.get(), 0, "{what}: warm again");
    }
    // Not a regular file: never blocks, ignored (not replaced: only a file is).
    std::fs::remove_file(cache_path(&kc)).unwrap();
    std::fs::create_dir(cache_path(&kc)).unwrap();
    open_all(&kc, &names);
    assert_eq!(kc.agreements.get(), 6);
}

#[test]
fn a_cache_of_another_identity_is_ignored() {
    let (_tmp, kc, names) = keychain_of(5);
    open_all(&kc, &names);
    // The right entries (ids and file keys), sealed under another identity.
    let entries = testing::entries(&kc.dir, &opener(&kc)).unwrap();
    let other = X25519Opener::new(&age::x25519::Identity::generate());
    testing::write(&kc.dir, &other, &entries);
    open_all(&kc, &names);
    assert_eq!(
        kc.agreements.get(),
        5,
        "another identity's cache is not read"
    );
    assert!(
        testing::entries(&kc.dir, &opener(&kc)).is_some(),
        "rebuilt under ours"
    );
    assert!(testing::entries(&kc.dir, &other).is_none());
}

#[test]
fn a_record_replaced_behind_the_cache_opens_as_it_is_now() {
    let (_tmp, kc, names) = keychain_of(4);
    open_all(&kc, &names);
    let old = std::fs::read(kc.record_path("acct01")).unwrap();
    let old_entries = testing::entries(&kc.dir, &opener(&kc)).unwrap();
    // Rewritten (a new stanza): opened the slow way, its new secret read.
    let (mut account, _) = kc.read("acct01").unwrap();
    account.set_secret(
        SecretField::Password,
        Some(SecretString::from("pw-acct01".to_string())),
        NOW + 60,
    );
    // Logged, as `set` logs it: the log now holds the new write counter.
    let lock = kc.lock("acct01").unwrap();
    let event = crate::audit::Event::new("set", crate::audit::Action::Set("password".into()))
        .account("acct01");
    kc.commit(
        &*lock,
        crate::store::Expect::Any,
        &mut account,
        vec![event],
        super::super::OnAuditFailure::Undo,
    )
    .unwrap();
    drop(lock);
    open_all(&kc, &names);
    assert_eq!(kc.agreements.get(), 1, "only the rewritten record");
    let entries = testing::entries(&kc.dir, &opener(&kc)).unwrap();
    assert_eq!(entries.len(), 4, "the old record's entry is gone");
    // The old bytes put back while the cache still knows their file key: the counter check
    // still refuses them as a replay.
    std::fs::write(kc.record_path("acct01"), &old).unwrap();
    let mut both = entries.clone();
    both.extend(old_entries);
    testing::write(&kc.dir, &opener(&kc), &both);
    // A new command (this one loaded the log's counters before the rewrite).
    let kc = Keychain::open(&kc.dir).unwrap();
    let opened = kc.read_many(&names).unwrap();
    assert!(
        matches!(opened[1], Err(Error::Replayed { .. })),
        "a replayed record is refused: {:?}",
        opened[1].as_ref().err()
    );
    assert!(opened[0].is_ok() && opened[2].is_ok() && opened[3].is_ok());
}

/// Entries swapped between records (forged with the identity): each record still opens as
/// itself with its own secret, never another's; opened with the wrong file key and no second
/// try, a record is refused exactly as a tampered record is.
#[test]
fn a_swapped_entry_cannot_make_a_wrong_record_open() {
    let (_tmp, kc, names) = keychain_of(3);
    open_all(&kc, &names);
    let mut entries = testing::entries(&kc.dir, &opener(&kc)).unwrap();
    let keys: Vec<[u8; 16]> = entries.iter().map(|(_, key)| *key).collect();
    for (i, (_, key)) in entries.iter_mut().enumerate() {
        *key = keys[(i + 1) % keys.len()];
    }
    testing::write(&kc.dir, &opener(&kc), &entries);
    open_all(&kc, &names);
    // The second try, the slow way, for each record the cache answered wrongly.
    assert_eq!(kc.agreements.get(), 3);
    open_all(&kc, &names);
    assert_eq!(kc.agreements.get(), 0, "the cache was written right again");

    // The wrong file key alone: the same error as a record whose header MAC was tampered with.
    let bytes = std::fs::read(kc.record_path("acct00")).unwrap();
    let wrong = WrongKey;
    let with_wrong_key = crate::record::open(&bytes, "acct00", &wrong).unwrap_err();
    let mut tampered = bytes.clone();
    let mac = tampered
        .windows(4)
        .position(|w| w == b"\n---")
        .expect("the age header's MAC line")
        + 5;
    tampered[mac] = if tampered[mac] == b'A' { b'B' } else { b'A' };
    let tampered_err =
        crate::record::open(&tampered, "acct00", kc.identity().unwrap()).unwrap_err();
    assert!(matches!(with_wrong_key, RecordError::Corrupt));
    assert_eq!(format!("{with_wrong_key:?}"), format!("{tampered_err:?}"));
}

/// An identity that answers every stanza with a file key that is not the record's.
struct WrongKey;

impl age::Identity for WrongKey {
    fn unwrap_stanza(
        &self,
        _: &age_core::format::Stanza,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        Some(Ok(age_core::format::FileKey::new(Box::new([9; 16]))))
    }
}
