//! `keychain login` against the Exact Online emulator, through the real binary: the whole
//! headless flow, 10-minute tokens, single-use refresh tokens, the 570 s rule, the error
//! budget, the 30-day idle expiry and rate-limited answers that still rotate the chain.
//! keychain's clock follows the emulator's through libfaketime; nothing waits in real time.

mod support;

use support::exact_emulator::Config;
use support::login::{Exact, restore, snapshot};
use support::{CANARY_PASSWORD, Kc, assert_exit, stderr};

fn setup() -> (Exact, Kc) {
    let exact = Exact::start(Config {
        password: CANARY_PASSWORD.into(),
        ..Config::default()
    });
    let kc = Kc::with_file_store();
    exact.add(&kc, "ex", CANARY_PASSWORD);
    (exact, kc)
}

fn reveal(exact: &Exact, kc: &Kc, field: &str) -> String {
    exact
        .ok(kc, &["show", "ex", "--reveal", field])
        .trim()
        .to_string()
}

#[test]
fn exact_headless_logon_then_cache_then_refresh_only_after_570_s() {
    let (mut exact, kc) = setup();
    let first = exact.ok(&kc, &["login", "ex"]);
    let s = exact.stats();
    assert_eq!((s.logons, s.token_requests, s.refreshes), (1, 1, 0));
    assert_eq!(
        (s.password_attempts, s.totp_attempts),
        (1, 1),
        "one pass through the pages"
    );

    // 10-minute tokens.
    let json: serde_json::Value =
        serde_json::from_str(&exact.ok(&kc, &["login", "ex", "--format", "json"])).unwrap();
    let expires_in = json["expires_in"].as_i64().unwrap();
    assert!((590..=600).contains(&expires_in), "{json}");
    assert_eq!(json["access_token"].as_str().unwrap(), first.trim());

    // From the cache: the emulator sees nothing.
    let before = exact.stats().requests;
    assert_eq!(exact.ok(&kc, &["login", "ex"]), first);
    // Stats calls themselves are requests: one per call.
    assert_eq!(exact.stats().requests, before + 1);

    // 550 s later the token has 50 s left, less than --min-valid's 60: Exact would count a
    // refresh now as an error, so keychain serves the cached token.
    exact.advance(550);
    assert_eq!(exact.ok(&kc, &["login", "ex"]), first);
    assert_eq!(
        exact.ok(&kc, &["login", "ex", "--min-valid", "500"]),
        first,
        "even when more validity is asked for"
    );
    assert_eq!(
        exact.stats().token_requests,
        1,
        "no token request before 570 s"
    );

    // After 570 s: one refresh.
    exact.advance(25);
    let second = exact.ok(&kc, &["login", "ex"]);
    assert_ne!(second, first);
    let s = exact.stats();
    assert_eq!(
        (s.logons, s.token_requests, s.refreshes, s.errors),
        (1, 2, 1, 0)
    );
    assert_eq!(exact.ok(&kc, &["login", "ex"]), second);
    assert_eq!(reveal(&exact, &kc, "access-token"), second.trim());
}

#[test]
fn exact_reused_refresh_token_recovers_by_one_headless_logon() {
    let (mut exact, kc) = setup();
    exact.ok(&kc, &["login", "ex"]);
    let stale = snapshot(&kc, "ex");
    let stale_rt = reveal(&exact, &kc, "refresh-token");

    exact.advance(600);
    exact.ok(&kc, &["login", "ex"]);
    let rotated_rt = reveal(&exact, &kc, "refresh-token");
    assert_ne!(rotated_rt, stale_rt, "single-use refresh tokens rotate");

    // A backup restored: its refresh token was used already. Exact answers "Old refresh token
    // used"; keychain logs on again and starts a new chain.
    restore(&kc, "ex", &stale);
    exact.advance(600);
    let out = exact.run(&kc, &["login", "ex"]);
    assert_exit(&out, 0);
    let s = exact.stats();
    assert_eq!((s.refreshes, s.errors, s.logons), (2, 1, 2), "{s:?}");
    let new_rt = reveal(&exact, &kc, "refresh-token");
    assert!(new_rt != stale_rt && new_rt != rotated_rt);

    // The new chain refreshes normally.
    exact.advance(600);
    exact.ok(&kc, &["login", "ex"]);
    let s = exact.stats();
    assert_eq!((s.refreshes, s.errors, s.logons), (3, 1, 2), "{s:?}");
}

#[test]
fn exact_error_budget_stops_before_exact_blocks_the_app() {
    let (mut exact, kc) = setup();
    let wrong = kc.file("wrong.pw", "not-the-password\n");
    exact.ok(
        &kc,
        &["set", "ex", "--password-file", wrong.to_str().unwrap()],
    );
    for attempt in 1..=8 {
        let out = exact.run(&kc, &["login", "ex"]);
        assert_exit(&out, 4);
        assert_eq!(exact.stats().password_attempts, attempt);
    }
    let out = exact.run(&kc, &["login", "ex"]);
    assert_exit(&out, 5);
    let err = stderr(&out);
    assert!(
        err.contains("8 errors from Exact Online in the last hour"),
        "{err}"
    );
    assert!(err.contains("try again after"), "{err}");
    assert_eq!(
        exact.stats().password_attempts,
        8,
        "no request once the budget is spent"
    );

    // An hour later the budget is back; with the right password the logon works.
    exact.advance(3601);
    let right = kc.file("right.pw", &format!("{CANARY_PASSWORD}\n"));
    exact.ok(
        &kc,
        &["set", "ex", "--password-file", right.to_str().unwrap()],
    );
    exact.ok(&kc, &["login", "ex"]);
    assert_eq!(exact.stats().logons, 1);
}

#[test]
fn exact_refresh_token_expires_after_30_idle_days() {
    let (mut exact, kc) = setup();
    exact.ok(&kc, &["login", "ex"]);
    exact.advance(31 * 24 * 3600);
    let out = exact.run(&kc, &["login", "ex"]);
    assert_exit(&out, 0);
    let s = exact.stats();
    assert_eq!((s.refreshes, s.errors, s.logons), (1, 1, 2), "{s:?}");
}

#[test]
fn exact_rate_limited_answer_with_a_new_refresh_token_is_stored() {
    let (mut exact, kc) = setup();
    exact.ok(&kc, &["login", "ex"]);
    let before = reveal(&exact, &kc, "refresh-token");

    // Ten errors from some other process using the same app: Exact blocks it for an hour.
    let client = keychain::oauth::http::client().unwrap();
    for _ in 0..10 {
        client
            .post(exact.url("api/oauth2/token"))
            .form(&[("grant_type", "refresh_token"), ("client_id", "nobody")])
            .send()
            .unwrap();
    }
    exact.rate_limited_with_token(true);
    exact.advance(600);
    let out = exact.run(&kc, &["login", "ex"]);
    assert_exit(&out, 5);
    assert!(stderr(&out).contains("rate-limited"), "{}", stderr(&out));
    let after = reveal(&exact, &kc, "refresh-token");
    assert_ne!(after, before, "the rotated refresh token was stored");

    // After the block the stored token refreshes: no new logon needed.
    exact.advance(3601);
    exact.ok(&kc, &["login", "ex"]);
    let s = exact.stats();
    assert_eq!(s.logons, 1, "{s:?}");
    assert_ne!(reveal(&exact, &kc, "refresh-token"), after);
}
