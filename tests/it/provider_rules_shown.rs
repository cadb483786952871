//! Issue 23, point 10 (kc-findings' part): a provider's rules are shown for the providers that
//! have them, and `--min-valid` above the access token's lifetime is said, not silent.
//!
//! - The refresh token's 30-day idle expiry is Exact's: the audit report (text, JSON, HTML
//!   timeline) gave every provider's refresh token "N days left" and an expiry; `status` and the
//!   report must agree that an OIDC account's token has no such rule.
//! - `login --min-valid` at or above the token's lifetime (Exact: 600 s) warns on every call,
//!   naming the lifetime, and the provider is not hammered: within Exact's 570 s the last token
//!   is served, so a run of such calls makes no token request.

use crate::support;

use support::exact_emulator::Config;
use support::login::Exact;
use support::{CANARY_PASSWORD, Kc, add_args, stderr};

use serde_json::Value;

/// An OIDC account and an Exact account, each with a refresh token set just now.
fn two_providers() -> Kc {
    let kc = Kc::with_file_store();
    let rt = kc.file("rt.txt", "rt-oidc");
    kc.ok(&add_args(
        "oidc-acct",
        &[
            "--no-password",
            "--refresh-token-file",
            rt.to_str().unwrap(),
        ],
    ));
    let rt = kc.file("rt2.txt", "rt-exact");
    kc.ok(&[
        "add",
        "--no-client-secret",
        "exact-acct",
        "--provider",
        "exact-nl",
        "--client-id",
        "c",
        "--user",
        "u@example.com",
        "--no-password",
        "--no-totp",
        "--refresh-token-file",
        rt.to_str().unwrap(),
    ]);
    kc
}

fn account<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no {name}: {doc}"))
}

#[test]
fn the_idle_rule_is_shown_only_for_the_provider_that_has_it() {
    let kc = two_providers();
    let out = kc.run(&["audit", "--json", "--fail-on", "critical"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        account(&report, "exact-acct")["refresh_token"]["days_left"],
        30,
        "{report:#}"
    );
    assert!(
        account(&report, "oidc-acct")["refresh_token"]["days_left"].is_null(),
        "an OIDC refresh token has no idle expiry: {report:#}"
    );

    // The text report: days left for Exact's, none for the OIDC one.
    let text = kc.ok(&["audit", "--fail-on", "critical"]);
    let row = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row {name}: {text}"))
            .to_string()
    };
    assert!(row("exact-acct").contains("30d left"), "{text}");
    assert!(!row("oidc-acct").contains("left"), "{text}");

    // The HTML timeline: an expiry for Exact's token only.
    let html = kc.tmp.path().join("r.html");
    kc.ok(&[
        "audit",
        "--fail-on",
        "critical",
        "--html",
        html.to_str().unwrap(),
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    let timeline = |name: &str| {
        page.split(&format!("id=\"timeline-{name}\""))
            .nth(1)
            .unwrap_or_else(|| panic!("no timeline of {name}"))
            .split("</figure>")
            .next()
            .unwrap()
            .to_string()
    };
    assert!(timeline("exact-acct").contains("refresh token expires unused at"));
    assert!(
        timeline("oidc-acct").contains("does not expire unused"),
        "{}",
        timeline("oidc-acct")
    );

    // status agrees (it already did): days left for Exact's token only.
    let out = kc.run(&["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        account(&status, "exact-acct")["refresh_token_days_left"],
        30
    );
    assert!(account(&status, "oidc-acct")["refresh_token_days_left"].is_null());

    // Idle 27 days: a finding for the Exact account, none for the OIDC one, in both.
    let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
    for name in ["exact-acct", "oidc-acct"] {
        kc.edit_account(name, |a| {
            a.header.refresh_token_active = Some(now - 27 * 86_400)
        });
    }
    for args in [
        &["audit", "--json", "--fail-on", "critical"][..],
        &["status", "--json"],
    ] {
        let doc: Value = serde_json::from_slice(&kc.run(args).stdout).unwrap();
        let idle: Vec<&Value> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "refresh-token-idle")
            .collect();
        assert_eq!(idle.len(), 1, "{args:?}: {doc:#}");
        assert_eq!(idle[0]["accounts"][0]["name"], "exact-acct", "{args:?}");
    }

    // The help names whose rule it is.
    let help = kc.ok(&["help", "audit"]);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("refresh-token-expired (past the idle expiry of a provider that has one: Exact's 30 days)"),
        "{help}"
    );
}

#[test]
fn min_valid_above_exacts_lifetime_is_said_and_does_not_hammer_the_provider() {
    let mut exact = Exact::start(Config {
        password: CANARY_PASSWORD.into(),
        ..Config::default()
    });
    let kc = Kc::with_file_store();
    exact.add(&kc, "ex", CANARY_PASSWORD);
    let first = exact.ok(&kc, &["login", "ex"]);
    let before = exact.stats();

    // Three calls asking for more than a 10-minute token can have: each says so, with the
    // lifetime; the token issued seconds ago is served (Exact allows no new one within 570 s).
    for _ in 0..3 {
        let out = exact.run(&kc, &["login", "ex", "--min-valid", "900"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(String::from_utf8(out.stdout.clone()).unwrap(), first);
        let err = stderr(&out);
        assert!(
            err.contains("--min-valid 900") && err.contains("600 s") && err.contains("570 s"),
            "{err}"
        );
    }
    assert_eq!(
        exact.stats().token_requests,
        before.token_requests,
        "no token request within 570 s"
    );

    // Past 570 s: one refresh, then the new token is served again.
    exact.advance(580);
    let second = exact.ok(&kc, &["login", "ex", "--min-valid", "900"]);
    assert_ne!(second, first);
    assert_eq!(
        exact.ok(&kc, &["login", "ex", "--min-valid", "900"]),
        second
    );
    assert_eq!(exact.stats().token_requests, before.token_requests + 1);

    // A margin the token can have: no warning.
    let out = exact.run(&kc, &["login", "ex", "--min-valid", "120"]);
    assert!(out.status.success());
    assert!(!stderr(&out).contains("--min-valid"), "{}", stderr(&out));
}
