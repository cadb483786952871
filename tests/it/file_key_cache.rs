//! `keychain audit`'s file-key cache (issue 24, `audit` on 10,000 accounts), through the real
//! binary on real files: written 0600 and sealed, and never trusted: a damaged cache, another
//! identity's, or one that predates a record's rewrite changes no finding and is written again.

use crate::support;

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;
use support::*;

const CACHE: &str = "file-keys.cache";
const MAGIC: &[u8] = b"keychain-file-key-cache/1\n";

fn add(kc: &Kc, name: &str, password: &str) {
    let pw = kc.file(&format!("{name}.pw"), password);
    kc.ok(&add_args(
        name,
        &["--password-file", pw.to_str().unwrap(), "--no-totp"],
    ));
}

/// A keychain with three accounts, two of them sharing a password (one finding).
fn three_accounts() -> Kc {
    let kc = Kc::with_file_store();
    add(&kc, "acme", "pw-canary-same");
    add(&kc, "beta", "pw-canary-same");
    add(&kc, "gamma", "pw-canary-other");
    kc
}

/// The accounts of each duplicate-password finding, and any unreadable record, sorted.
fn report(kc: &Kc) -> Vec<String> {
    let out = kc.run(&["audit", "--json", "--fail-on", "critical"]);
    let json: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let mut found: Vec<String> = findings(&json)
        .into_iter()
        .filter(|(_, code, _)| code == "duplicate-password" || code == "record-unreadable")
        .map(|(_, code, names)| format!("{code} {names}"))
        .collect();
    found.sort();
    found
}

fn cache(kc: &Kc) -> Vec<u8> {
    std::fs::read(kc.dir.join(CACHE)).expect("audit wrote the file-key cache")
}

#[test]
fn audit_keeps_a_sealed_private_file_key_cache() {
    let kc = three_accounts();
    let expected = vec!["duplicate-password acme,beta".to_string()];
    assert_eq!(report(&kc), expected);

    let path = kc.dir.join(CACHE);
    let mode = std::fs::metadata(&path).expect("audit wrote the file-key cache");
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    let bytes = cache(&kc);
    assert!(bytes.starts_with(MAGIC), "the cache's format line");
    let identity = std::fs::read_to_string(kc.dir.join("identity.txt")).unwrap();
    for secret in ["pw-canary-same", "pw-canary-other", identity.trim(), "acme"] {
        assert!(!contains(&bytes, secret), "{secret:?} in the cache");
    }
    // 3 entries of 48 bytes, sealed: 26 (format) + 32 (salt) + 144 + 16 (tag).
    assert_eq!(bytes.len(), MAGIC.len() + 32 + 3 * 48 + 16);

    // Warm: the same findings, and the unchanged cache is not written again.
    assert_eq!(report(&kc), expected);
    assert_eq!(cache(&kc), bytes, "a warm audit rewrites nothing");
}

#[test]
fn a_damaged_or_foreign_cache_is_ignored_and_rebuilt() {
    let kc = three_accounts();
    let expected = vec!["duplicate-password acme,beta".to_string()];
    assert_eq!(report(&kc), expected);
    let good = cache(&kc);

    let mut flipped = good.clone();
    let at = flipped.len() - 20;
    flipped[at] ^= 1;
    // Another keychain's cache (another identity), with the same number of entries.
    let other = Kc::with_file_store();
    for name in ["x", "y", "z"] {
        add(&other, name, "pw-other");
    }
    report(&other);
    for (what, bytes) in [
        ("a flipped byte", flipped),
        ("truncated", good[..good.len() - 1].to_vec()),
        ("garbage", vec![b'k'; good.len()]),
        ("another identity's", cache(&other)),
    ] {
        std::fs::write(kc.dir.join(CACHE), &bytes).unwrap();
        assert_eq!(report(&kc), expected, "{what}");
        let rebuilt = cache(&kc);
        assert_ne!(rebuilt, bytes, "{what}: written again");
        assert_eq!(rebuilt.len(), good.len(), "{what}: every record's entry");
    }
}

#[test]
fn a_record_rewritten_behind_the_cache_is_read_as_it_is_now() {
    let kc = three_accounts();
    assert_eq!(
        report(&kc),
        vec!["duplicate-password acme,beta".to_string()]
    );
    // The cache holds every record's file key now (else this tests nothing).
    assert_eq!(cache(&kc).len(), MAGIC.len() + 32 + 3 * 48 + 16);
    // gamma now shares acme's password, beta no longer does: read from the records, not the
    // cache.
    kc.edit_account("gamma", |a| {
        a.set_secret(
            keychain::record::SecretField::Password,
            Some("pw-canary-same".to_string().into()),
            0,
        )
    });
    kc.edit_account("beta", |a| {
        a.set_secret(
            keychain::record::SecretField::Password,
            Some("pw-canary-new".to_string().into()),
            0,
        )
    });
    assert_eq!(
        report(&kc),
        vec!["duplicate-password acme,gamma".to_string()]
    );
    // The rewritten records' old entries are gone: one entry per record, no more.
    assert_eq!(cache(&kc).len(), MAGIC.len() + 32 + 3 * 48 + 16);
    // A record swapped for another's file (its own name no longer inside): unreadable, as
    // without a cache, whatever the cache holds for either.
    std::fs::copy(kc.record("acme"), kc.record("gamma")).unwrap();
    let found = report(&kc);
    assert!(
        found.contains(&"record-unreadable gamma".to_string()),
        "{found:?}"
    );
}
