//! `keychain login` killed (SIGKILL) at random moments during a refresh and its write-back,
//! many times: afterwards the record always opens and the next login succeeds, by refresh or,
//! when the killed process had the provider rotate the refresh token but died before storing
//! the new one, by one headless logon.

use crate::support;

use std::time::{Duration, Instant};

use rand::Rng;
use support::exact_emulator::Config;
use support::login::Exact;
use support::{Kc, assert_success};

const KILLS: usize = 100;

/// The emulator's counts once a request the killed process had already sent has been served:
/// read until two reads 20 ms apart agree (the stats request itself is not compared).
fn settled_stats(exact: &Exact) -> support::exact_emulator::Stats {
    let mut last = exact.stats();
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let now = exact.stats();
        if (now.refreshes, now.logons, now.token_requests, now.errors)
            == (
                last.refreshes,
                last.logons,
                last.token_requests,
                last.errors,
            )
        {
            return now;
        }
        last = now;
    }
}

#[test]
fn login_killed_at_random_moments_never_loses_the_account() {
    let mut exact = Exact::start(Config::default());
    let kc = Kc::with_file_store();
    exact.add(&kc, "ex", &Config::default().password);
    exact.ok(&kc, &["login", "ex"]);

    // How long a refresh takes here: kills land anywhere in 0..1.2 of it.
    exact.advance(600);
    let t = Instant::now();
    exact.ok(&kc, &["login", "ex"]);
    let span = t.elapsed().as_micros() as u64 * 6 / 5;

    let mut rng = rand::thread_rng();
    let (mut killed, mut finished_first) = (0, 0);
    let (mut by_cache, mut by_refresh, mut by_logon, mut rotated_unsaved) = (0, 0, 0, 0);
    for i in 0..KILLS {
        exact.advance(600);
        let before = exact.stats();
        let mut child = exact
            .std_cmd(&kc)
            .args(["login", "ex"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..span)));
        let _ = child.kill();
        if child.wait().unwrap().success() {
            finished_first += 1;
        } else {
            killed += 1;
        }
        let mid = settled_stats(&exact);

        // A fresh TOTP step for a possible logon; the token (if stored) is still valid.
        exact.advance(35);
        let out = exact.run(&kc, &["show", "ex"]);
        assert_success(&out, &["show", "ex", "(after kill", &i.to_string()]);
        let out = exact.run(&kc, &["login", "ex"]);
        assert_success(&out, &["login", "ex", "(after kill", &i.to_string()]);
        let after = exact.stats();
        match (after.logons - mid.logons, after.refreshes - mid.refreshes) {
            (0, 0) => by_cache += 1,
            (0, _) => by_refresh += 1,
            _ => by_logon += 1,
        }
        // A logon is needed exactly when the provider rotated the token and it was not saved.
        if mid.refreshes > before.refreshes && after.logons > mid.logons {
            rotated_unsaved += 1;
        }
        assert_eq!(after.logons - mid.logons, after.errors - mid.errors);
    }
    assert_eq!(exact.stats().logons, 1 + by_logon);
    assert_eq!(
        rotated_unsaved, by_logon,
        "a logon only when the chain was lost"
    );
    // The record was never left unreadable, and no write left a temp file behind.
    let files = support::files_under(&kc.dir.join("accounts"));
    assert_eq!(files.len(), 1, "{files:?}");
    eprintln!(
        "crash loop: {KILLS} runs, {killed} killed, {finished_first} finished before the kill; \
         next login from the cache {by_cache}, by refresh {by_refresh}, by headless logon {by_logon}"
    );
}
