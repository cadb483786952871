//! `keychain login` and `keychain exec` against a real LemonLDAP::NG, through the real binary:
//! onboarding, a headless logon with TOTP, the cache, refresh with rotation written back,
//! recovery from a used refresh token, rejected credentials, output formats and exec.

use crate::support;

use keychain::oauth::{self, TokenError};
use secrecy::SecretString;
use support::login::{REDIRECT_URI, put_back_refresh_token};
use support::{Kc, Llng, TOTP_SECRET, assert_exit, closed_port, stderr};

/// Adds an OIDC account for `user` at `issuer`; secrets from files.
fn add(kc: &Kc, issuer: &str, user: &str, password: &str, totp: Option<&str>) {
    let pw = kc.file("pw", &format!("{password}\n"));
    let cs = kc.file("cs", "cli-secret");
    let mut args = vec![
        "add",
        "acct",
        "--provider",
        "oidc",
        "--issuer",
        issuer,
        "--client-id",
        "cli",
        "--redirect-uri",
        REDIRECT_URI,
        "--scope",
        "openid offline_access",
        "--user",
        user,
        "--password-file",
        pw.to_str().unwrap(),
        "--client-secret-file",
        cs.to_str().unwrap(),
    ];
    let totp_file = totp.map(|t| kc.file("totp", t));
    match &totp_file {
        Some(f) => args.extend(["--totp-file", f.to_str().unwrap()]),
        None => args.push("--no-totp"),
    }
    kc.ok(&args);
}

fn reveal(kc: &Kc, field: &str) -> String {
    kc.ok(&["show", "acct", "--reveal", field])
        .trim()
        .to_string()
}

/// Asks LemonLDAP directly to refresh with `token`.
fn refresh_directly(llng: &Llng, token: &str) -> Result<(), TokenError> {
    let client = oauth::http::client().unwrap();
    let endpoints = oauth::discover(&client, &llng.url).unwrap();
    oauth::refresh(
        &client,
        &endpoints,
        &oauth::Guard::for_endpoints(&endpoints),
        "cli",
        Some(&SecretString::from("cli-secret".to_string())),
        &SecretString::from(token.to_string()),
    )
    .map(|_| ())
}

#[test]
fn llng_dwho_headless_logon_then_cache_then_refresh_with_rotation_written_back() {
    let llng = Llng::exclusive();
    let kc = Kc::with_file_store();
    add(&kc, llng.url.as_str(), "dwho", "dwho", Some(TOTP_SECRET));

    // First login: a headless logon with user, password and TOTP code.
    let out = kc.run(&["login", "acct"]);
    assert_exit(&out, 0);
    let first = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(first.len() > 10 && first.ends_with('\n'));
    assert!(!stderr(&out).contains(first.trim()));
    // Password, TOTP code, code exchange; six requests in all (with discovery).
    assert_eq!(llng.log().matches("\"POST ").count(), 3, "{}", llng.log());
    assert_eq!(llng.log().matches("keychain/").count(), 6, "{}", llng.log());

    // Second login: from the cache, not one request to the provider.
    let log = llng.log();
    assert_eq!(kc.ok(&["login", "acct"]), first);
    assert_eq!(llng.log(), log, "the cached login made a request");

    // A refresh (asking for more validity than the cache has); the rotated refresh token is
    // written back, and the provider rejects the old one.
    let old_rt = reveal(&kc, "refresh-token");
    let out = kc.run(&["login", "acct", "--min-valid", "700"]);
    assert_exit(&out, 0);
    let second = String::from_utf8(out.stdout.clone()).unwrap();
    assert_ne!(second, first);
    let new_rt = reveal(&kc, "refresh-token");
    assert_ne!(new_rt, old_rt, "the rotated refresh token was written back");
    assert_eq!(reveal(&kc, "access-token"), second.trim());
    for s in [old_rt.as_str(), new_rt.as_str(), second.trim()] {
        assert!(!stderr(&out).contains(s), "a token in stderr");
    }
    let err = refresh_directly(&llng, &old_rt).expect_err("the old refresh token is dead");
    assert!(matches!(err, TokenError::Rejected { .. }), "{err:?}");
    assert_eq!(
        llng.log().matches("Bad password").count(),
        0,
        "{}",
        llng.log()
    );
}

#[test]
fn llng_used_refresh_token_recovers_by_headless_logon_with_a_new_chain() {
    let llng = Llng::exclusive();
    let kc = Kc::with_file_store();
    add(&kc, llng.url.as_str(), "msmith", "msmith", None);
    kc.ok(&["login", "acct"]);
    let stale_rt = reveal(&kc, "refresh-token");
    kc.ok(&["login", "acct", "--min-valid", "700"]);
    let rotated_rt = reveal(&kc, "refresh-token");

    put_back_refresh_token(&kc, "acct", &stale_rt);
    let posts = llng.log().matches("\"POST ").count();
    let out = kc.run(&["login", "acct", "--min-valid", "700"]);
    assert_exit(&out, 0);
    let new_rt = reveal(&kc, "refresh-token");
    assert!(new_rt != stale_rt && new_rt != rotated_rt, "a new chain");
    // One refused refresh, one password post, one code exchange.
    assert_eq!(llng.log().matches("\"POST ").count(), posts + 3);
    // The new chain works, and the last link of the old one still does too: LemonLDAP keeps
    // each chain separately.
    kc.ok(&["login", "acct", "--min-valid", "700"]);
}

/// The `lemonldap` provider knows the portal's endpoints: a logon and a refresh ask for no
/// discovery document, and its default scope brings a refresh token.
#[test]
fn llng_as_provider_lemonldap_logs_on_and_refreshes_without_discovery() {
    let llng = Llng::exclusive();
    let kc = Kc::with_file_store();
    let pw = kc.file("pw", "msmith\n");
    let cs = kc.file("cs", "cli-secret");
    kc.ok(&[
        "add",
        "acct",
        "--provider",
        "lemonldap",
        "--issuer",
        llng.url.as_str(),
        "--client-id",
        "cli",
        "--redirect-uri",
        REDIRECT_URI,
        "--user",
        "msmith",
        "--password-file",
        pw.to_str().unwrap(),
        "--client-secret-file",
        cs.to_str().unwrap(),
        "--no-totp",
    ]);
    let first = kc.ok(&["login", "acct"]);
    assert!(!reveal(&kc, "refresh-token").is_empty());
    let second = kc.ok(&["login", "acct", "--min-valid", "700"]);
    assert_ne!(first, second, "refreshed");
    // keychain's own requests (the readiness check probes discovery under its own user agent).
    let log = llng.log();
    let ours: Vec<&str> = log.lines().filter(|l| l.contains("keychain/")).collect();
    assert!(ours.iter().any(|l| l.contains("/oauth2/token")), "{log}");
    assert!(
        !ours.iter().any(|l| l.contains("openid-configuration")),
        "{log}"
    );
}

#[test]
fn llng_wrong_password_exits_4_after_exactly_one_attempt() {
    let llng = Llng::exclusive();
    let kc = Kc::with_file_store();
    add(
        &kc,
        llng.url.as_str(),
        "dwho",
        "wrong-pw-canary-31",
        Some(TOTP_SECRET),
    );
    let out = kc.run(&["login", "acct"]);
    assert_exit(&out, 4);
    assert!(!stderr(&out).contains("wrong-pw-canary-31"));
    let log = llng.log();
    assert_eq!(log.matches("Bad password for dwho").count(), 1, "{log}");
    assert_eq!(log.matches("\"POST ").count(), 1, "one POST in all: {log}");
}

/// Issue 8, defect 2: two runs with a wrong password (a job in cron): exactly one password
/// attempt reaches LemonLDAP::NG; the second run exits 4 without a request.
#[test]
fn llng_wrong_password_twice_reaches_the_provider_once() {
    let llng = Llng::exclusive();
    let kc = Kc::with_file_store();
    add(
        &kc,
        llng.url.as_str(),
        "dwho",
        "wrong-pw-42",
        Some(TOTP_SECRET),
    );
    assert_exit(&kc.run(&["login", "acct"]), 4);
    let log = llng.log();
    let out = kc.run(&["login", "acct"]);
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("--retry"), "{}", stderr(&out));
    assert_eq!(llng.log(), log, "the second run made a request");
    assert_eq!(llng.log().matches("Bad password for dwho").count(), 1);
}

#[test]
fn llng_wrong_totp_secret_exits_4() {
    let llng = Llng::exclusive();
    let kc = Kc::with_file_store();
    add(
        &kc,
        llng.url.as_str(),
        "dwho",
        "dwho",
        Some("KRUGKIDROVUWG2ZAMJZG653OEBTG66BA"),
    );
    let out = kc.run(&["login", "acct"]);
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("code"), "{}", stderr(&out));
    assert_eq!(llng.log().matches("\"POST ").count(), 2, "{}", llng.log());
    // Issue 8: a rejected code is recorded like a rejected password; the next run sends nothing.
    let log = llng.log();
    let out = kc.run(&["login", "acct"]);
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("one-time code"), "{}", stderr(&out));
    assert_eq!(llng.log(), log, "the second run made a request");
}

#[test]
fn llng_msmith_without_second_factor_then_formats_and_exec_with_the_provider_stopped() {
    let llng = Llng::start();
    let kc = Kc::with_file_store();
    add(&kc, llng.url.as_str(), "msmith", "msmith", None);
    let token = kc.ok(&["login", "acct"]).trim().to_string();
    // From here on nothing may reach the provider: it is gone.
    llng.stop();

    let json: serde_json::Value =
        serde_json::from_str(&kc.ok(&["login", "acct", "--format", "json"])).unwrap();
    assert_eq!(json["access_token"], token.as_str());
    assert_eq!(
        json["token_type"].as_str().unwrap().to_lowercase(),
        "bearer"
    );
    assert!(json["expires_in"].as_i64().unwrap() > 500, "{json}");
    assert_eq!(
        kc.ok(&["login", "acct", "--format", "env"]),
        format!("export KEYCHAIN_ACCESS_TOKEN='{token}'\n")
    );
    assert_eq!(
        kc.ok(&["login", "acct", "--format", "header"]),
        format!("Authorization: Bearer {token}\n")
    );

    // exec: the token in the environment, the child's exit code passed on.
    kc.ok(&[
        "exec",
        "acct",
        "--",
        "sh",
        "-c",
        "test -n \"$KEYCHAIN_ACCESS_TOKEN\"",
    ]);
    assert_exit(&kc.run(&["exec", "acct", "--", "sh", "-c", "exit 7"]), 7);
    let file = kc.tmp.path().join("seen");
    kc.ok(&[
        "exec",
        "acct",
        "--env-name",
        "API_TOKEN",
        "--",
        "sh",
        "-c",
        "test -z \"$KEYCHAIN_ACCESS_TOKEN\" && printf %s \"$API_TOKEN\" > \"$0\"",
        file.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), token);
    assert_exit(
        &kc.run(&["exec", "acct", "--env-name", "1BAD", "--", "true"]),
        2,
    );
    // Nested: the inner keychain refuses (2), the outer passes that on.
    let bin = assert_cmd::cargo::cargo_bin("keychain");
    let out = kc.run(&[
        "exec",
        "acct",
        "--",
        bin.to_str().unwrap(),
        "exec",
        "acct",
        "--",
        "true",
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("refuses to nest"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&token));
}

#[test]
fn unreachable_provider_exits_5() {
    let kc = Kc::with_file_store();
    let port = closed_port();
    let closed = format!("http://127.0.0.1:{}", port.port);
    add(&kc, &closed, "msmith", "msmith", None);
    let out = kc.run(&["login", "acct"]);
    assert_exit(&out, 5);
    assert_exit(&kc.run(&["exec", "acct", "--", "true"]), 5);
}
