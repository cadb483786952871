//! The JSON contract: every `--json` document of every command that prints validates against
//! its schema in `tests/schemas/` (checked by `support::shape`), starts with `"format": 1`,
//! and an error under `--json` is one JSON object on standard error.

use crate::support;

use secrecy::SecretString;
use serde_json::Value;
use support::shape::Schemas;
use support::*;

/// A keychain with an account of every kind the shapes cover: TOTP and password, a refresh
/// token and a cached access token, a rejected logon, an Exact account.
fn rich_keychain() -> Kc {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let rt = kc.file("rt.txt", "rt-1");
    kc.add_exact_account("books", &["--refresh-token-file", rt.to_str().unwrap()]);
    kc.edit_account("books", |account| {
        let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
        account.set_secret(
            keychain::record::SecretField::AccessToken,
            Some(SecretString::from("at-123".to_string())),
            now,
        );
        account.header.access_token_expires = Some(now + 3600);
        account.header.logon_rejected = Some(keychain::record::Rejection {
            at: now,
            by: "cron".into(),
            step: "password".into(),
        });
    });
    kc
}

fn stdout_json(out: &std::process::Output, args: &[&str]) -> Value {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        text.starts_with("{\n  \"format\": 1,") || text.starts_with("{\"format\":1,"),
        "{args:?}: the document does not start with its format: {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
}

#[test]
fn every_json_document_validates_against_its_schema() {
    let schemas = Schemas::load();
    let kc = rich_keychain();
    let settings = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/settings/tree")
        .display()
        .to_string();
    let cases: Vec<(&str, Vec<&str>, Option<&str>)> = vec![
        ("list", vec!["list"], None),
        ("list", vec!["list", "acme"], None),
        ("show", vec!["show", "acme"], None),
        ("show", vec!["show", "books"], None),
        ("status", vec!["status"], None),
        ("totp", vec!["totp", "acme"], None),
        ("scan", vec!["scan", &settings], None),
        (
            "refresh",
            vec!["refresh", "--all", "--idle-days", "5"],
            None,
        ),
        ("audit-report", vec!["audit", "--fail-on", "critical"], None),
        ("audit-report", vec!["audit", "report", "--no-key"], None),
        ("audit-verify", vec!["audit", "verify"], None),
        (
            "audit-fingerprint",
            vec!["audit", "fingerprint", "acme", "password"],
            Some(CANARY_PASSWORD),
        ),
        (
            "confirmation",
            vec!["set", "acme", "--scope", "openid"],
            None,
        ),
        ("confirmation", vec!["mv", "acme", "acme2"], None),
        ("confirmation", vec!["mv", "acme2", "acme"], None),
        ("confirmation", vec!["audit", "rotate"], None),
    ];
    for (schema, args, stdin) in cases {
        let mut full = vec!["--json"];
        full.extend(&args);
        let out = match stdin {
            Some(input) => kc.run_stdin(&full, input),
            None => kc.run(&full),
        };
        // status exits as a monitoring plugin: 2 is a critical finding (this account has no
        // redirect URI), still a whole document.
        let documented = if args[0] == "status" { 3 } else { 1 };
        assert!(
            out.status.code().is_some_and(|c| c <= documented),
            "{full:?}: {}",
            stderr(&out)
        );
        schemas.check(schema, &stdout_json(&out, &full));
    }

    // login from the cache (after the rejection is cleared by a new refresh token).
    let rt = kc.file("rt2.txt", "rt-2");
    kc.ok(&["set", "books", "--refresh-token-file", rt.to_str().unwrap()]);
    for args in [
        &["login", "books", "--json"][..],
        &["login", "books", "--format", "json"],
    ] {
        let out = kc.run(args);
        assert_success(&out, args);
        let doc = stdout_json(&out, args);
        schemas.check("login", &doc);
        assert_eq!(doc["access_token"], "at-123");
    }

    // import of an export, and init.
    let officer = Kc::new();
    let init = officer.run(&["init", "--key-store", "file", "--json"]);
    assert_success(&init, &["init"]);
    schemas.check("init", &stdout_json(&init, &["init"]));
    let export = kc.tmp.path().join("backup.age");
    let identity = kc.tmp.path().join("officer.key");
    let officer_key = age::x25519::Identity::generate();
    use secrecy::ExposeSecret;
    std::fs::write(&identity, officer_key.to_string().expose_secret()).unwrap();
    std::fs::set_permissions(
        &identity,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let out = kc.run(&[
        "export",
        "--json",
        "--recipient",
        &officer_key.to_public().to_string(),
        export.to_str().unwrap(),
    ]);
    assert_success(&out, &["export"]);
    schemas.check("confirmation", &stdout_json(&out, &["export"]));
    let out = officer.run(&[
        "import",
        "--json",
        export.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
    ]);
    assert_success(&out, &["import"]);
    let doc = stdout_json(&out, &["import"]);
    schemas.check("import", &doc);
    assert_eq!(doc["accounts"].as_array().unwrap().len(), 2);
}

#[test]
fn keychain_format_json_is_the_same_switch() {
    let kc = rich_keychain();
    let by_flag = kc.ok(&["list", "--json"]);
    let out = kc
        .cmd()
        .arg("list")
        .env("KEYCHAIN_FORMAT", "json")
        .output()
        .unwrap();
    assert_success(&out, &["KEYCHAIN_FORMAT=json list"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), by_flag);
    let out = kc
        .cmd()
        .arg("list")
        .env("KEYCHAIN_FORMAT", "yaml")
        .output()
        .unwrap();
    assert_exit(&out, 2);
}

#[test]
fn errors_under_json_are_one_object_on_stderr_with_exit_code_and_message() {
    let schemas = Schemas::load();
    let kc = rich_keychain();
    for (args, exit, code) in [
        (&["show", "nope", "--json"][..], 3, "not-found"),
        (&["list", "--no-such-flag", "--json"], 2, "usage"),
        (&["set", "acme", "--json"], 2, "usage"),
        (
            &["exec", "acme", "--json", "--", "no-such-program-x9"],
            127,
            "no-program",
        ),
        (&["completions", "bash", "--json"], 2, "usage"),
    ] {
        let out = kc.run(args);
        assert_exit(&out, exit);
        assert!(out.stdout.is_empty(), "{args:?}");
        let text = stderr(&out);
        assert_eq!(text.lines().count(), 1, "{args:?}: {text}");
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        schemas.check("error", &doc);
        assert_eq!(doc["exit"], exit);
        assert_eq!(doc["code"], code, "{text}");
    }
    // The same error without --json is text.
    assert!(stderr(&kc.run(&["show", "nope"])).starts_with("error: "));
}

#[test]
#[should_panic(expected = "not in the schema")]
fn the_shape_checker_catches_a_stray_field() {
    let doc = serde_json::json!({"format": 1, "accounts": [], "extra": true});
    Schemas::load().check("list", &doc);
}

#[test]
#[should_panic(expected = "not an RFC 3339 UTC time")]
fn the_shape_checker_catches_an_epoch_time() {
    let doc = serde_json::json!({
        "format": 1, "ok": true, "checked": "2026-11-30T03:17:00Z", "keychain": "k",
        "store": {"kind": "local", "location": "l"},
        "key_store": {"kind": "file", "answers": true, "error": null},
        "unlocked": false, "unlocked_until": "2026-11-30T03:17:00+01:00",
        "accounts": [], "findings": []
    });
    Schemas::load().check("status", &doc);
}

/// Regression (merge of issues 10 and 14): the report's last use came from the log line's own
/// time (milliseconds) while `list` and `show` give the same use in whole seconds: two forms of
/// one concept. Both are now the contract's form.
#[test]
fn the_reports_last_use_has_the_contracts_time_form() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.ok(&["show", "acme", "--reveal", "password"]);
    let args = ["audit", "--json", "--fail-on", "critical"];
    let doc = stdout_json(&kc.run(&args), &args);
    let at = doc["accounts"][0]["last_use"]["at"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(at.len(), "2026-11-30T03:17:00Z".len(), "{at}");
    assert!(at.ends_with('Z') && !at.contains('.'), "{at}");
}

/// Regression (review): `list --json` with an unreadable record wrote a text "error: ..." line
/// per record before its JSON error, so standard error was not one JSON object.
#[test]
fn list_json_with_a_damaged_record_keeps_stderr_one_json_object() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.add_account("beta");
    std::fs::write(kc.record("beta"), "not a record\n").unwrap();
    let out = kc.run(&["list", "--json"]);
    assert_exit(&out, 7);
    let listed = stdout_json(&out, &["list", "--json"]);
    assert_eq!(listed["accounts"].as_array().unwrap().len(), 1);
    let text = stderr(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    Schemas::load().check("error", &doc);
    let message = doc["message"].as_str().unwrap();
    assert!(
        message.contains("beta (") && message.contains("keychain record"),
        "{message}"
    );
}

/// The contract lists every provider kind a document can carry: a provider added to keychain
/// and not to `common.json` would fail validation only once some test used it.
#[test]
fn the_schemas_provider_kinds_are_exactly_keychains() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/common.json");
    let common: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let listed = &common["$defs"]["provider"]["properties"]["kind"]["enum"];
    let known: Vec<String> = keychain::providers::all()
        .iter()
        .map(|kind| kind.to_string())
        .collect();
    assert_eq!(listed, &serde_json::json!(known));
}

/// Regression (issue 21, the CLI `Ctx`): every command whose only output is a notice on
/// standard error confirms on standard output under --json, each with its own command name and
/// the accounts as given, read from the one output mode `dispatch` builds.
#[test]
fn commands_that_only_confirm_print_their_confirmation_under_json() {
    let kc = Kc::with_file_store();
    kc.add_account("a");
    kc.add_account("b");
    let cases: [(&[&str], &str, Value); 3] = [
        // Issue 23: accounts are `{"name"}` objects in every document.
        (
            &["mv", "a", "c"],
            "mv",
            serde_json::json!([{"name": "a"}, {"name": "c"}]),
        ),
        (
            &["rm", "-f", "c", "c"],
            "rm",
            serde_json::json!([{"name": "c"}, {"name": "c"}]),
        ),
        (&["lock"], "lock", serde_json::json!([])),
    ];
    for (args, command, accounts) in cases {
        let mut full = vec!["--json"];
        full.extend(args);
        let out = kc.run(&full);
        assert_success(&out, &full);
        let doc = stdout_json(&out, &full);
        assert_eq!(
            doc,
            serde_json::json!({"format": 1, "ok": true, "command": command, "accounts": accounts}),
            "{full:?}"
        );
    }
}
