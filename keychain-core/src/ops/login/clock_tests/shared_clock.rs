//! Issue 19 (the month of nights, issue 20's class): a shared keychain's members on clocks
//! minutes apart. Token times are stamped and read on the store's clock (OpenBao's `Date`, see
//! `clock::reference`), each member through the offset it measured: the rules below are
//! checked with offsets injected as the store's answers would give them, one member exact, one
//! 2 minutes behind, one 2 minutes ahead.

use std::time::{Duration, UNIX_EPOCH};

use crate::clock::reference::{MAX_OFFSET, Now, Offset};
use crate::providers::ProviderKind;
use crate::record::Header;

use super::super::cache::{STAMP_SPREAD, cached, pull_back_future_times, stamp_issue};
use super::{T, account};

/// Real time `real` (ms after `T`) on a machine whose clock is `skew` seconds off, with the
/// offset measured from an answer whose `Date` the store wrote at real `answered` (ms after `T`)
/// and that took `rtt` ms.
fn member(skew: i64, answered: i64, rtt: i64, real: i64) -> Now {
    let on_ours = |real_ms: i64| {
        UNIX_EPOCH + Duration::from_millis((T * 1000 + real_ms + skew * 1000) as u64)
    };
    let date =
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis((T * 1000 + answered) as u64));
    let offset = Offset::from_answer(
        &date,
        on_ours(answered - rtt / 2),
        on_ours(answered + rtt / 2),
    );
    Now::at(on_ours(real), offset)
}

/// A header holding a 600 s token that the member exact on time fetched at real `T`.
fn fetched_by_the_exact_member() -> Header {
    let mut a = account("exact-nl", "http://127.0.0.1:9/token", 600);
    let now = member(0, 0, 40, 0);
    stamp_issue(&mut a.header, now, Some(600));
    a.header
}

fn served(h: &Header, now: Now, min_valid: i64) -> bool {
    let mut a = account("exact-nl", "http://127.0.0.1:9/token", 600);
    a.header.access_token_issued = h.access_token_issued;
    a.header.access_token_expires = h.access_token_expires;
    cached(&a, now, min_valid).is_some()
}

#[test]
fn a_member_2_minutes_behind_or_ahead_serves_the_token_another_member_fetched_until_its_real_end() {
    let h = fetched_by_the_exact_member();
    for skew in [-120, 0, 120] {
        // Right after the fetch (the other member waited for the lock), all through its life.
        for real_s in [0, 1, 2, 300, 530] {
            let now = member(skew, 500, 40, real_s * 1000);
            assert!(served(&h, now, 60), "skew {skew}: at +{real_s} s");
        }
        // Never past its real end, whatever the clock of the member says.
        for real_s in [600, 601, 700, 86_400] {
            let now = member(skew, 500, 40, real_s * 1000);
            assert!(!served(&h, now, 0), "skew {skew}: served at +{real_s} s");
        }
    }
    // Before the fix (each member on its own clock) the member behind saw it issued in the
    // future, expired; the member ahead saw it 2 minutes older than it is.
    assert!(!served(&h, Now::local(T - 120 + 1), 60));
    assert!(!served(&h, Now::local(T + 120 + 500), 60));
}

#[test]
fn the_token_handed_to_the_caller_expires_on_its_own_clock_no_later_than_really() {
    let h = fetched_by_the_exact_member();
    let expires = h.access_token_expires.unwrap();
    for skew in [-120, 0, 120] {
        let now = member(skew, 500, 40, 10_000);
        let mut a = account("exact-nl", "http://127.0.0.1:9/token", 600);
        a.header.access_token_issued = h.access_token_issued;
        a.header.access_token_expires = h.access_token_expires;
        let token = cached(&a, now, 60).unwrap();
        let shown = token.expires_at.unwrap();
        // On the member's clock the real end is at T + 600 + skew: shown no later, and off by
        // no more than the readings' spread.
        let real_end = T + 600 + skew;
        assert!(shown <= real_end, "skew {skew}: {shown} > {real_end}");
        assert!(
            shown >= real_end - 5,
            "skew {skew}: {shown} far before {real_end}"
        );
        assert!(expires <= T + 600);
    }
}

#[test]
fn exact_570_s_counts_from_the_latest_issue_to_the_earliest_now_on_every_member() {
    let h = fetched_by_the_exact_member();
    let admission = "exact-nl"
        .parse::<ProviderKind>()
        .unwrap()
        .provider()
        .admission();
    for skew in [-120, 0, 120] {
        for rtt in [0, 40, 900] {
            // Never asked early: refused at every instant before 570 s really passed.
            for real_ms in [0, 1_000, 300_000, 569_000, 569_999] {
                let now = member(skew, 200_000, rtt, real_ms);
                assert!(
                    admission
                        .check_interval(h.access_token_issued, now.earliest)
                        .is_err(),
                    "skew {skew} rtt {rtt}: allowed at +{real_ms} ms"
                );
            }
            // And allowed a few seconds after (the readings' spread), not minutes.
            let now = member(skew, 200_000, rtt, 575_000);
            assert!(
                admission
                    .check_interval(h.access_token_issued, now.earliest)
                    .is_ok(),
                "skew {skew} rtt {rtt}: still refused at +575 s"
            );
        }
    }
}

#[test]
fn a_member_behind_pulls_back_nothing_the_other_member_stamped_but_a_day_ahead_still_is() {
    let fresh = fetched_by_the_exact_member();
    let mut h = fresh.clone();
    h.provider_errors = vec![T];
    assert!(!pull_back_future_times(&mut h, member(-120, 0, 40, 0)));
    assert_eq!(
        (h.access_token_issued, h.access_token_expires),
        (fresh.access_token_issued, fresh.access_token_expires)
    );
    // Beyond a stamp's spread it is a clock gone wrong: as before (issue 25).
    let mut h = fresh;
    h.access_token_issued = Some(T + STAMP_SPREAD + 10);
    let now = member(0, 0, 40, 0);
    assert!(pull_back_future_times(&mut h, now));
    assert_eq!(h.access_token_expires, Some(now.latest));
}

/// Whoever controls the store's `Date` (its operator, a proxy) moves a member's reading by at
/// most `MAX_OFFSET` from the member's own clock: a forged `Date` a day behind cannot keep an
/// expired token in service for a day, only up to that bound past its end (the bound the
/// module documents), after which only the provider's 401 follows.
#[test]
fn a_forged_date_keeps_a_token_at_most_the_bound_past_its_end() {
    let h = fetched_by_the_exact_member();
    let forged_behind = |real_s: i64| {
        let ours = UNIX_EPOCH + Duration::from_secs((T + real_s) as u64);
        let a_day_behind = httpdate::fmt_http_date(ours - Duration::from_secs(86_400));
        Now::at(ours, Offset::from_answer(&a_day_behind, ours, ours))
    };
    assert!(served(&h, forged_behind(600 + MAX_OFFSET - 5), 0));
    assert!(!served(&h, forged_behind(600 + MAX_OFFSET + 1), 0));
    assert!(!served(&h, forged_behind(86_400), 0));
    // A forged Date a day ahead makes tokens look older by the bound: dropped early (a
    // needless refresh, a denial of service at worst), never kept longer.
    let forged_ahead = |real_s: i64| {
        let ours = UNIX_EPOCH + Duration::from_secs((T + real_s) as u64);
        let a_day_ahead = httpdate::fmt_http_date(ours + Duration::from_secs(86_400));
        Now::at(ours, Offset::from_answer(&a_day_ahead, ours, ours))
    };
    assert!(served(&h, forged_ahead(600 - MAX_OFFSET - 5), 0));
    assert!(!served(&h, forged_ahead(600 - MAX_OFFSET), 0));
}

/// The fast path decides on this machine's copy while its first call to the store may still be
/// under way: without the store's clock it judges on its own with `MAX_OFFSET` more margin, so
/// a member behind the store's clock by up to that never serves a token past its end.
#[test]
fn before_the_store_is_heard_a_member_behind_within_the_bound_never_serves_past_the_end() {
    let h = fetched_by_the_exact_member();
    for behind in [0, 120, MAX_OFFSET] {
        for real_s in 0..=700 {
            let ours = Now::local(T + real_s - behind);
            if served(&h, ours, 60 + MAX_OFFSET) {
                assert!(
                    real_s < 600 - 60,
                    "{behind} s behind: served at +{real_s} s"
                );
            }
        }
    }
    // While fresh it is still served from the copy.
    assert!(served(&h, Now::local(T + 150), 60 + MAX_OFFSET));
    assert!(served(&h, Now::local(T + 10), 60 + MAX_OFFSET));
}
