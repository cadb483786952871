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
    let kc = bao.keychain(mount, "team/etl");
    kc.add_account("acme");
    let now = support::unix_now() as i64;
    kc.edit_account("acme", |account| {
        account.set_secret(
            keychain::record::SecretField::AccessToken,
            Some("at-cached".to_string().into()),
            now,
        );
        account.header.access_token_expires = Some(now + 600);
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
/// one read more, the position after the last event, which must be empty: 5.
const CACHED_LOGIN_REQUESTS: usize = 1;

#[test]
fn a_cached_login_makes_a_pinned_number_of_requests_and_none_twice() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let kc = with_cached_token(&bao, &mount);
    let made = one_cached_login(&bao, &kc);
    eprintln!("a cached login: {} requests: {made:#?}", made.len());
    assert_eq!(made.len(), CACHED_LOGIN_REQUESTS, "{made:#?}");
    // No read of the same key twice in one login.
    let reads: Vec<_> = made.iter().filter(|r| r.starts_with("read ")).collect();
    let mut unique = reads.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), reads.len(), "{made:#?}");
}
