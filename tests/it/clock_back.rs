//! Issue 25, item 3, end to end: keychain's clock a day ahead when a token was fetched, then set
//! right. The Exact emulator granted 600 s; keychain must not serve that token for a day (jobs
//! would get a day of 401s), and Exact's 570 s rule counted from the "future" refresh holds 570 s
//! from now, not a day. keychain's clock moves through libfaketime, the emulator's by its admin
//! endpoint.

use crate::support;

use support::exact_emulator::Config;
use support::login::Exact;
use support::{CANARY_PASSWORD, Kc, assert_exit, stderr};

#[test]
fn a_token_fetched_a_day_ahead_is_not_served_after_the_clock_goes_back() {
    let mut exact = Exact::start(Config {
        password: CANARY_PASSWORD.into(),
        ..Config::default()
    });
    let kc = Kc::with_file_store();
    exact.add(&kc, "ex", CANARY_PASSWORD);

    exact.ok(&kc, &["login", "ex"]);
    // 600 s later keychain's clock jumps a day ahead of the emulator's: a refresh, stored as
    // issued a day ahead (the emulator grants 600 s by its own clock).
    exact.advance(600);
    exact.offset += 86_400;
    let ahead = exact.ok(&kc, &["login", "ex"]);
    // The clock is set right; 601 s pass: that token has expired at Exact.
    exact.offset -= 86_400;
    exact.advance(601);
    let out = exact.run(&kc, &["login", "ex"]);
    assert_ne!(
        String::from_utf8_lossy(&out.stdout),
        ahead,
        "the expired token was served"
    );
    assert_exit(&out, 5);
    assert!(
        stderr(&out).contains("try again in 570 s"),
        "{}",
        stderr(&out)
    );
    // 570 s from now, not a day: one refresh, no error at Exact.
    exact.advance(570);
    let second = exact.ok(&kc, &["login", "ex"]);
    assert_ne!(second, ahead);
    let s = exact.stats();
    assert_eq!((s.logons, s.refreshes, s.errors), (1, 2, 0));
}
