//! `keychain exec --env VAR=ACCOUNT:FIELD`: several values of several accounts for one job,
//! driven through the real binary. Access tokens come from each account's cache (planted through
//! the library as a logon stores them), so no provider is needed; logons themselves are
//! covered by tests/login_*.rs.

use crate::support;

use secrecy::SecretString;
use support::*;

/// Stores a cached access token valid for an hour, as a logon does.
fn plant_token(kc: &Kc, name: &str, token: &str) {
    kc.edit_account(name, |account| {
        let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
        account.set_secret(
            keychain::record::SecretField::AccessToken,
            Some(SecretString::from(token.to_string())),
            now,
        );
        account.header.access_token_expires = Some(now + 3600);
    });
}

/// Runs `exec ARGS -- sh -c 'env dump'` and returns the variables the child saw.
fn child_env(kc: &Kc, args: &[&str], vars: &[&str]) -> Vec<String> {
    let out_file = kc.tmp.path().join("child-env.txt");
    let script = vars
        .iter()
        .map(|v| format!("printf '%s\\n' \"${v}\""))
        .collect::<Vec<_>>()
        .join("; ");
    let mut full: Vec<&str> = vec!["exec"];
    full.extend_from_slice(args);
    let script = format!("({script}) > '{}'", out_file.display());
    full.extend_from_slice(&["--", "sh", "-c", &script]);
    let out = kc.run(&full);
    assert_success(&out, &full);
    // Nothing of the values reaches keychain's own output.
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::read_to_string(out_file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn several_accounts_and_fields_reach_the_child_with_the_marker() {
    let kc = Kc::with_file_store();
    kc.add_account("crm");
    kc.add_exact_account("books", &[]);
    plant_token(&kc, "crm", "at-crm-123");
    plant_token(&kc, "books", "at-books-456");
    let seen = child_env(
        &kc,
        &[
            "--env",
            "CRM_TOKEN=crm:access-token",
            "--env",
            "BOOKS_TOKEN=books:access-token",
            "--env",
            "BOOKS_USER=books:user",
            "--env",
            "BOOKS_CLIENT=books:client-id",
            "--env",
            "BOOKS_API=books:api-url",
            "--env",
            "CRM_PASSWORD=crm:password",
        ],
        &[
            "CRM_TOKEN",
            "BOOKS_TOKEN",
            "BOOKS_USER",
            "BOOKS_CLIENT",
            "BOOKS_API",
            "CRM_PASSWORD",
            "KEYCHAIN_EXEC_ACCOUNT",
            "KEYCHAIN_ACCESS_TOKEN",
        ],
    );
    assert_eq!(
        seen,
        [
            "at-crm-123",
            "at-books-456",
            "fin@example.com",
            "books-client",
            "https://start.exactonline.nl/api",
            CANARY_PASSWORD,
            "crm,books",
            "",
        ]
    );
    // The secret named explicitly is in the audit log, by field, before the job ran.
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("\"command\":\"exec --env CRM_PASSWORD\"")
                && l.contains("\"action\":\"reveal\",\"detail\":\"password\"")),
        "{log}"
    );
    assert!(!log.contains(CANARY_PASSWORD));
}

#[test]
fn name_and_env_combine_and_the_old_form_still_works() {
    let kc = Kc::with_file_store();
    kc.add_account("crm");
    plant_token(&kc, "crm", "at-crm-123");
    let seen = child_env(
        &kc,
        &["crm", "--env", "U=crm:user"],
        &["KEYCHAIN_ACCESS_TOKEN", "U", "KEYCHAIN_EXEC_ACCOUNT"],
    );
    assert_eq!(seen, ["at-crm-123", "dwho", "crm"]);
}

#[test]
fn bad_env_specs_are_refused_before_anything_runs() {
    let kc = Kc::with_file_store();
    kc.add_account("crm");
    let marker = kc.tmp.path().join("ran");
    let touch = format!("touch '{}'", marker.display());
    for (spec, code) in [
        (&["--env", "X=crm"][..], 2),
        (&["--env", "X=crm:secrets"], 2),
        (&["--env", "1X=crm:user"], 2),
        (&["--env", "X=crm:user", "--env", "X=crm:client-id"], 2),
        (&["--env", "KEYCHAIN_EXEC_ACCOUNT=crm:user"], 2),
        (&["--env", "X=crm:api-url"], 2),
        (&["--env", "X=crm:client-secret"], 2),
        (&["--env", "X=crm-typo:user"], 3),
    ] {
        let mut args = vec!["exec"];
        args.extend_from_slice(spec);
        args.extend_from_slice(&["--", "sh", "-c", &touch]);
        assert_exit(&kc.run(&args), code);
        assert!(!marker.exists(), "{spec:?} ran the command");
    }
    // Neither NAME nor --env: a usage error.
    assert_exit(&kc.run(&["exec", "--", "true"]), 2);
}
