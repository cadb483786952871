//! The export format and both imports through the core functions, on real keychains in
//! temporary folders (the `file` key store) and files on disk: an export read back by another
//! keychain, entries refused one by one without stopping the others, an existing account
//! skipped or replaced, and a settings file's refresh token dated by the file.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use super::Fate;
use super::export::{FORMAT, export, seal};
use super::import::{ImportRequest, Imported, import, read_identities};
use crate::clock::ManualClock;
use crate::error::Error;
use crate::keychain::Keychain;
use crate::keychain::testing::{keychain_on, save};
use crate::providers::ProviderSettings;
use crate::record::{Account, Header, SecretField};

const T: i64 = 1_800_000_000;

fn account(name: &str) -> Account {
    let provider = ProviderSettings {
        client_id: Some("client".into()),
        redirect_uri: Some("https://example.com/callback".into()),
        ..ProviderSettings::new("exact-nl".parse().unwrap())
    };
    let mut a = Account::new(Header::new(name, provider, "etl".into(), T - 86_400));
    let secret = |v: &str| Some(SecretString::from(v.to_string()));
    a.set_secret(
        SecretField::Password,
        secret(&format!("pw-of-{name}")),
        T - 3_600,
    );
    a.set_secret(SecretField::RefreshToken, secret("rt-1"), T - 60);
    a.set_secret(SecretField::AccessToken, secret("at-1"), T - 60);
    a.header.access_token_issued = Some(T - 60);
    a.header.access_token_expires = Some(T + 540);
    a
}

/// A new age identity written to an identity file in `dir`, with a comment line as age-keygen
/// writes one; returns the file and the public key.
fn identity_file(dir: &Path) -> (PathBuf, age::x25519::Recipient) {
    let identity = age::x25519::Identity::generate();
    let path = dir.join("officer.key");
    std::fs::write(
        &path,
        format!(
            "# created: by the test\n{}\n",
            identity.to_string().expose_secret()
        ),
    )
    .unwrap();
    private(&path);
    (path, identity.to_public())
}

/// Mode 0600: an identity file others can read is refused.
fn private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

fn restore(kc: &Keychain, file: &Path, identity: &Path, replace: bool) -> Imported {
    import(
        kc,
        &ImportRequest {
            file: file.to_path_buf(),
            identity: Some(identity.to_path_buf()),
            strip: false,
            replace,
            file_stream: None,
            identity_stream: None,
            name: None,
        },
    )
    .unwrap()
}

fn words(imported: &Imported) -> Vec<(&str, &str)> {
    imported
        .entries
        .iter()
        .map(|(name, fate)| (name.as_str(), fate.word()))
        .collect()
}

#[test]
fn an_export_restores_every_account_with_its_secrets_and_ages_but_no_access_token() {
    let (_a_tmp, origin) = keychain_on(ManualClock::at_unix(T));
    for name in ["acme", "beta"] {
        save(&origin, &mut account(name));
    }
    let files = tempfile::tempdir().unwrap();
    let (key, recipient) = identity_file(files.path());
    let backup = files.path().join("backup.age");
    let names = vec!["acme".to_string(), "beta".to_string()];
    let sealed = export(&origin, &names, &recipient, "backup.age").unwrap();
    std::fs::write(&backup, sealed).unwrap();

    let (_b_tmp, copy) = keychain_on(ManualClock::at_unix(T + 600));
    let imported = restore(&copy, &backup, &key, false);
    assert_eq!(
        words(&imported),
        [("acme", "imported"), ("beta", "imported")]
    );
    let (restored, _) = copy.read("acme").unwrap();
    let password = restored.secret(SecretField::Password).unwrap();
    assert_eq!(password.expose_secret(), "pw-of-acme");
    assert_eq!(
        restored.header.secrets[&SecretField::Password].changed,
        T - 3_600,
        "the secret's age survives the restore"
    );
    assert!(restored.secret(SecretField::AccessToken).is_none());
    assert!(restored.header.access_token_expires.is_none());
    assert!(
        !restored
            .header
            .secrets
            .contains_key(&SecretField::AccessToken)
    );
}

/// An export file holding `accounts` (raw JSON values), as anyone with the public key could
/// write one.
fn forged_export(path: &Path, recipient: &age::x25519::Recipient, accounts: serde_json::Value) {
    let plaintext = serde_json::json!({
        "format": FORMAT, "exported": "2027-01-15T08:00:00Z", "accounts": accounts,
    });
    let bytes = crate::crypto::encrypt(
        plaintext.to_string().as_bytes(),
        &[recipient as &dyn age::Recipient],
    )
    .unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_refused_entry_does_not_stop_the_others() {
    let files = tempfile::tempdir().unwrap();
    let (key, recipient) = identity_file(files.path());
    let good = serde_json::to_value(&account("good").header).unwrap();
    let mut forged_url = account("forged").header;
    forged_url.provider.token_url = Some("http://evil.example/token".into());
    let forged_url = serde_json::to_value(&forged_url).unwrap();
    let unreadable = serde_json::json!({ "name": "future", "provider": { "kind": "not-yet" } });
    let secrets = serde_json::json!({ "password": "pw" });
    let path = files.path().join("mixed.age");
    forged_export(
        &path,
        &recipient,
        serde_json::json!([
            { "header": unreadable, "secrets": secrets },
            { "header": forged_url, "secrets": secrets },
            { "header": good, "secrets": secrets },
        ]),
    );

    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    let imported = restore(&kc, &path, &key, false);
    assert_eq!(
        words(&imported),
        [
            ("future", "refused"),
            ("forged", "refused"),
            ("good", "imported")
        ]
    );
    assert!(
        imported.entries[1].1.detail().contains("http"),
        "{:?}",
        imported.entries[1].1
    );
    assert!(kc.read("good").is_ok());
    assert!(matches!(kc.peek("forged"), Err(Error::NotFound(_))));
}

#[test]
fn an_existing_account_is_skipped_unless_replaced() {
    let files = tempfile::tempdir().unwrap();
    let (key, recipient) = identity_file(files.path());
    let path = files.path().join("one.age");
    std::fs::write(&path, seal(&[account("acme")], T, &recipient).unwrap()).unwrap();

    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    let mut mine = account("acme");
    mine.header.user = "someone-else".into();
    save(&kc, &mut mine);
    let skipped = restore(&kc, &path, &key, false);
    assert!(matches!(skipped.entries[0].1, Fate::Skipped(_)));
    assert_eq!(kc.peek("acme").unwrap().user, "someone-else");

    let replaced = restore(&kc, &path, &key, true);
    assert!(matches!(replaced.entries[0].1, Fate::Imported(_)));
    assert_eq!(kc.peek("acme").unwrap().user, "etl");
}

#[test]
fn an_export_for_another_recipient_or_of_another_format_is_refused_whole() {
    let files = tempfile::tempdir().unwrap();
    let (key, _mine) = identity_file(files.path());
    let other = age::x25519::Identity::generate().to_public();
    let path = files.path().join("theirs.age");
    std::fs::write(&path, seal(&[account("acme")], T, &other).unwrap()).unwrap();
    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    let request = |file: &Path| ImportRequest {
        file: file.to_path_buf(),
        identity: Some(key.clone()),
        strip: false,
        replace: false,
        file_stream: None,
        identity_stream: None,
        name: None,
    };
    let err = import(&kc, &request(&path)).err().unwrap();
    assert!(err.to_string().contains("cannot be decrypted"), "{err}");

    let second = files.path().join("second");
    std::fs::create_dir(&second).unwrap();
    let (key2, recipient) = identity_file(&second);
    let newer = files.path().join("newer.age");
    let plaintext = serde_json::json!({ "format": "keychain-export/2", "accounts": [] });
    let bytes = crate::crypto::encrypt(
        plaintext.to_string().as_bytes(),
        &[&recipient as &dyn age::Recipient],
    )
    .unwrap();
    std::fs::write(&newer, bytes).unwrap();
    let err = import(
        &kc,
        &ImportRequest {
            identity: Some(key2),
            ..request(&newer)
        },
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("'keychain-export/2'"), "{err}");
}

#[test]
fn an_identity_file_error_names_the_line_never_its_content() {
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("bad.key");
    std::fs::write(&path, "# comment\n\nAGE-SECRET-KEY-1NOTREALLYAKEY\n").unwrap();
    private(&path);
    let err = read_identities(&path).err().unwrap().to_string();
    assert!(err.contains("line 3"), "{err}");
    assert!(!err.contains("NOTREALLY"), "{err}");

    std::fs::write(&path, "# only a comment\n").unwrap();
    let err = read_identities(&path).err().unwrap().to_string();
    assert!(err.contains("holds no age identity"), "{err}");
}

#[test]
fn flags_that_do_not_fit_the_file_are_refused_before_anything_is_read() {
    let files = tempfile::tempdir().unwrap();
    let (key, recipient) = identity_file(files.path());
    let export_file = files.path().join("one.age");
    std::fs::write(&export_file, seal(&[], T, &recipient).unwrap()).unwrap();
    let settings = files.path().join("settings.xml");
    std::fs::write(&settings, "<settings/>").unwrap();
    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));

    let strip_export = ImportRequest {
        file: export_file,
        identity: Some(key.clone()),
        strip: true,
        replace: false,
        file_stream: None,
        identity_stream: None,
        name: None,
    };
    let err = import(&kc, &strip_export).err().unwrap().to_string();
    assert!(err.contains("--strip applies to settings files"), "{err}");
    let identity_settings = ImportRequest {
        file: settings,
        identity: Some(key),
        strip: false,
        replace: false,
        file_stream: None,
        identity_stream: None,
        name: None,
    };
    let err = import(&kc, &identity_settings).err().unwrap().to_string();
    assert!(err.contains("--identity applies to an export"), "{err}");
}

#[test]
fn a_settings_files_refresh_token_counts_its_idle_time_from_the_files_modification() {
    let files = tempfile::tempdir().unwrap();
    let settings = files.path().join("settings.xml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/settings/settings-test.xml"),
        &settings,
    )
    .unwrap();
    let written = T - 10 * 86_400;
    let modified = std::time::UNIX_EPOCH + std::time::Duration::from_secs(written as u64);
    std::fs::File::options()
        .write(true)
        .open(&settings)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    let imported = import(
        &kc,
        &ImportRequest {
            file: settings,
            identity: None,
            strip: false,
            replace: false,
            file_stream: None,
            identity_stream: None,
            name: None,
        },
    )
    .unwrap();
    assert!(imported.settings.is_some());
    let (name, _) = imported
        .entries
        .iter()
        .find(|(_, fate)| {
            matches!(fate, Fate::Imported(_)) && fate.detail().contains("refresh-token")
        })
        .unwrap_or_else(|| {
            panic!(
                "no account with a refresh token imported: {:?}",
                imported.entries
            )
        });
    let header = kc.peek(name).unwrap();
    assert_eq!(header.refresh_token_active, Some(written));
    assert_eq!(header.secrets[&SecretField::RefreshToken].changed, written);
    assert_eq!(header.secrets[&SecretField::ClientSecret].changed, T);
}

/// `settings-test.xml` copied into `dir`, behind a symbolic link; returns the link.
fn settings_behind_link(dir: &Path) -> PathBuf {
    let target = dir.join("settings.xml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/settings/settings-test.xml"),
        &target,
    )
    .unwrap();
    let link = dir.join("settings-link.xml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    link
}

#[test]
fn a_strip_cuts_only_the_values_the_keychain_holds_and_rewrites_the_links_target() {
    let files = tempfile::tempdir().unwrap();
    let link = settings_behind_link(files.path());
    let (_tmp, kc) = keychain_on(ManualClock::at_unix(T));
    let request = ImportRequest {
        file: link.clone(),
        identity: None,
        strip: true,
        replace: false,
        file_stream: None,
        identity_stream: None,
        name: None,
    };
    let imported = import(&kc, &request).unwrap();
    let settings = imported.settings.expect("a settings file");

    // One value changed in the keychain since: the file's copy is not the keychain's, so stays.
    let changed = "exact-online-be-app-eolbe";
    let (mut account, _) = kc.read(changed).unwrap();
    account.set_secret(
        SecretField::ClientSecret,
        Some(SecretString::from("another-value".to_string())),
        T,
    );
    save(&kc, &mut account);

    let plan = super::strip::plan(&kc, &link, &settings);
    assert!(plan.through_link);
    assert!(
        plan.moved
            .iter()
            .all(|m| m.field != SecretField::ClientSecret)
    );
    assert!(plan.moved.iter().any(|m| m.account == changed));
    assert_eq!(plan.left.len(), 1, "{:?}", plan.left);
    assert_eq!(plan.left[0].key, "api-client-secret");

    let backup = super::strip::apply(&kc, &settings, &plan).unwrap();
    let text = std::fs::read_to_string(files.path().join("settings.xml")).unwrap();
    assert!(text.contains("Zx9-client-secret-canary-Q"), "left in place");
    assert!(!text.contains("Gq7.refresh-token-canary.ZZ"), "moved out");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert!(
        std::fs::read_to_string(backup)
            .unwrap()
            .contains("Gq7.refresh-token-canary.ZZ")
    );
}
