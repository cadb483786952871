//! Issue 20, item 7: how many HTTP requests a cached `login` makes to OpenBao, counted in the
//! server's own audit log (one `request` entry per request it received). Pinned, so that a
//! round trip added to the hot path is noticed; the timing itself is `benches/openbao.sh`.

use crate::support;

use support::openbao::Bao;

/// Requests the server received, by path, in audit-log order.
fn requests(bao: &Bao) -> Vec<String> {
    bao.audit_log()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "request")
        .map(|e| {
            format!(
                "{} {}",
                e["request"]["operation"].as_str().unwrap_or(""),
                e["request"]["path"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// A keychain on OpenBao with one account holding an access token valid for 10 minutes.
fn with_cached_token(bao: &Bao, mount: &str) -> support::Kc {
    with_cached_token_for(bao, mount, 600)
}

/// [`with_cached_token`] with a token valid for `seconds`.
fn with_cached_token_for(bao: &Bao, mount: &str, seconds: i64) -> support::Kc {
    let kc = bao.keychain(mount, "team/etl");
    kc.add_account("acme");
    let now = support::unix_now() as i64;
    kc.edit_account("acme", |account| {
        account.set_secret(
            keychain::record::SecretField::AccessToken,
            Some("at-cached".to_string().into()),
            now,
        );
        account.header.access_token_expires = Some(now + seconds);
    });
    kc
}

/// The requests of one cached `login` in a new process, once the process before it warmed
/// nothing but what persists across processes (the token cache, the local copies).
fn one_cached_login(bao: &Bao, kc: &support::Kc) -> Vec<String> {
    assert_eq!(kc.ok(&["login", "acme"]).trim(), "at-cached");
    let before = requests(bao).len();
    assert_eq!(kc.ok(&["login", "acme"]).trim(), "at-cached");
    requests(bao)[before..].to_vec()
}

/// Before issue 20 a cached `login` made 6 requests: the member list, the group key, the
/// record, the trail's last event seen (the witness), a probe of the next position (nothing
/// there), and the event written there. The group key now comes from this machine's copy
/// (`members::cache`) and the probe is gone (the write is check-and-set anyway): 4. Each is a
/// round trip on the path every unattended job takes. The record's counter is compared with
/// the trail as it stands in the store, not this machine's copy (issue 20, item 2): that costs
/// one read more, the position after the last event, which must be empty: 5. The fast path
/// (`keychain::fast_login`) serves from this machine's authenticated copies and writes its event
/// right after its copy of the trail: 1. It reads the witness again (the store still holds the
/// copy's last event, so a tail the operator deleted is refused as by every sync), sent before
/// its local work: 2. The write does not wait for the witness's answer (both are in flight at
/// once; nothing is revealed before both answered), so the server may log them in either order.
const CACHED_LOGIN_REQUESTS: usize = 2;

/// Whether `made` starts with the fast path's two requests, in either order: the witness (a read
/// of the trail's last event) and a write of an event.
fn starts_with_witness_and_write(made: &[String]) -> bool {
    let is_read = |r: &String| r.starts_with("read ") && r.contains("/audit/");
    // (OpenBao names a write to a key that exists an update.)
    let is_write = |r: &String| !r.starts_with("read ") && r.contains("/audit/");
    made.len() >= 2
        && ((is_read(&made[0]) && is_write(&made[1])) || (is_write(&made[0]) && is_read(&made[1])))
}

#[test]
fn a_cached_login_makes_a_pinned_number_of_requests_and_none_twice() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let kc = with_cached_token(&bao, &mount);
    let made = one_cached_login(&bao, &kc);
    eprintln!("a cached login: {} requests: {made:#?}", made.len());
    assert_eq!(made.len(), CACHED_LOGIN_REQUESTS, "{made:#?}");
    // The witness (a read of the trail's last event) and the event after it, created there.
    assert!(starts_with_witness_and_write(&made), "{made:#?}");
    assert!(
        made.iter()
            .any(|r| r.starts_with("create ") && r.contains("/audit/")),
        "{made:#?}"
    );
    // No read of the same key twice in one login.
    let reads: Vec<_> = made.iter().filter(|r| r.starts_with("read ")).collect();
    let mut unique = reads.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), reads.len(), "{made:#?}");
}

/// A token valid for more than `--min-valid` (60 s) but less than that plus the margin the fast
/// path adds while this process has not heard the store's clock yet (`clock::reference`'s
/// `MAX_OFFSET`, 300 s): the fast path decides before the witness answered, so it asks once more
/// after (the witness's `Date` is the store's clock) and serves the token with its two requests,
/// instead of leaving it to the normal path (five requests more).
#[test]
fn a_cached_token_inside_the_clock_margin_is_served_by_the_fast_path_all_the_same() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let kc = with_cached_token_for(&bao, &mount, 200);
    let made = one_cached_login(&bao, &kc);
    assert_eq!(made.len(), CACHED_LOGIN_REQUESTS, "{made:#?}");
    assert!(starts_with_witness_and_write(&made), "{made:#?}");
}

/// The fast path opens the group key from its sealed local copy (`members::sealed`: no X25519
/// agreement), which the login before it wrote. Pinned by taking `group.key` away: the next
/// cached login still makes its two requests. Before the sealed copy the fast path needed
/// `group.key`, gave up without it and left the login to the normal path (which reads the group
/// key from the store again): five requests more.
#[test]
fn a_cached_login_opens_the_group_key_from_its_sealed_copy() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let kc = with_cached_token(&bao, &mount);
    assert_eq!(kc.ok(&["login", "acme"]).trim(), "at-cached");
    assert_eq!(kc.ok(&["login", "acme"]).trim(), "at-cached");
    assert!(kc.dir.join("group.key.sealed").exists());
    std::fs::remove_file(kc.dir.join("group.key")).unwrap();
    let before = requests(&bao).len();
    assert_eq!(kc.ok(&["login", "acme"]).trim(), "at-cached");
    let made = requests(&bao)[before..].to_vec();
    assert_eq!(made.len(), CACHED_LOGIN_REQUESTS, "{made:#?}");
    assert!(starts_with_witness_and_write(&made), "{made:#?}");
}

/// The fast path opens the record's copy with its age file key kept sealed beside it
/// (`shared-copy/NAME.kcr.file-key`, `keychain::file_key_cache`: no X25519 agreement), written by
/// the login before. The cache decides nothing: a cache that is not one (planted, damaged) is
/// ignored, the token is served all the same with the same two requests, and the cache is
/// written again.
#[test]
fn a_cached_login_keeps_the_record_copys_file_key_sealed_beside_it() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let kc = with_cached_token(&bao, &mount);
    let cache = kc.dir.join("shared-copy").join("acme.kcr.file-key");
    let magic = b"keychain-file-key-cache/1\n";
    one_cached_login(&bao, &kc);
    assert!(std::fs::read(&cache).unwrap().starts_with(magic));
    std::fs::write(
        &cache,
        b"keychain-file-key-cache/1\nnot sealed by this machine",
    )
    .unwrap();
    let made = one_cached_login(&bao, &kc);
    assert_eq!(made.len(), CACHED_LOGIN_REQUESTS, "{made:#?}");
    let kept = std::fs::read(&cache).unwrap();
    assert!(kept.starts_with(magic) && !kept.ends_with(b"this machine"));
}

/// When another machine appended to the trail since this machine's last login, the fast path's
/// write finds its position taken: it writes nothing more there and the normal path runs (sync,
/// the record from the store) and logs its own event after the other machine's. Two requests
/// more than the normal path alone: the fast path's witness read and its refused write.
#[test]
fn a_cached_login_after_another_machine_appended_falls_back_to_the_normal_path() {
    let t = crate::openbao_attacks::team();
    let now = support::unix_now() as i64;
    t.etl1.edit_account("acme", |account| {
        account.set_secret(
            keychain::record::SecretField::AccessToken,
            Some("at-cached".to_string().into()),
            now,
        );
        account.header.access_token_expires = Some(now + 600);
    });
    // etl2's copies are now current: its next cached login is the fast one.
    assert_eq!(
        one_cached_login(&t.bao, &t.etl2).len(),
        CACHED_LOGIN_REQUESTS
    );
    // etl1 appends (a reveal is logged); etl2's copy of the trail now ends before it.
    t.etl1.ok(&["show", "acme", "--reveal", "password"]);
    let before = requests(&t.bao).len();
    assert_eq!(t.etl2.ok(&["login", "acme"]).trim(), "at-cached");
    let made = requests(&t.bao)[before..].to_vec();
    eprintln!("a cached login after a peer appended: {made:#?}");
    // The fast path's witness and its refused write at the copy's end, then the normal path:
    // the member list, the witness, the other machine's event, the empty position after it,
    // the record, and the event.
    assert_eq!(made.len(), 2 + 6, "{made:#?}");
    assert!(starts_with_witness_and_write(&made), "{made:#?}");
    let refused = if made[0].starts_with("read ") {
        &made[1]
    } else {
        &made[0]
    };
    assert!(
        made.last().unwrap().starts_with("create ") && made.last().unwrap().contains("/audit/")
    );
    assert_ne!(
        *refused,
        *made.last().unwrap(),
        "one position written twice: {made:#?}"
    );
    assert!(
        made.iter().any(|r| r.contains("/records/acme")),
        "{made:#?}"
    );
    for kc in [&t.etl1, &t.etl2] {
        kc.ok(&["audit", "verify"]);
    }
}
