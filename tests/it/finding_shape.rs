//! Issue 23, point 8: one shape for findings and one vocabulary for every `--json` document.
//!
//! The class, not the examples: every command of the CLI (read from its clap tree, so a command
//! added later is caught until it is listed here) is run with `--json` on a keychain with
//! findings, and every document it prints is walked for the common vocabulary:
//! - `ok` in every document, and `ok` is `true` exactly when the command exits 0;
//! - no `account` key: an account's name is `name`; `accounts` is always an array of objects
//!   with a string `name`; no `name` is null;
//! - every `severity` is a word of the one scale (`severity::Severity`);
//! - every item of a `findings` array has the one finding shape (`ops::finding::Finding`): an
//!   `id` that `audit ack` takes, `severity`, `code`, `accounts`, `message`, `events`,
//!   `acknowledged`.
//!
//! And the behaviour the shape exists for: a static finding (a password two accounts share on
//! purpose) is acknowledged with `audit ack`, stays listed as acknowledged, stops the exit 1,
//! and the acknowledgement is in the audit log.

use crate::support;

use clap::CommandFactory;
use serde_json::Value;
use support::shape::Schemas;
use support::*;

use keychain::severity::Severity;

/// Commands whose output under `--json` is not a keychain document, and why. Each still prints
/// one JSON error on standard error under `--json` (walked below like any document).
const NOT_DOCUMENTS: &[(&str, &str)] = &[
    ("exec", "runs a program: its output is the program's"),
    ("read", "prints a bare value"),
    ("inject", "writes the rendered template"),
    ("git-credential", "speaks git's credential protocol"),
    (
        "kube-credential",
        "prints Kubernetes' ExecCredential, a format of its own",
    ),
    ("completions", "prints a shell script"),
    ("man", "prints roff"),
];

/// The one severity scale, as JSON writes it.
fn scale() -> Vec<&'static str> {
    use keychain::choice::Choice;
    [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Unknown,
        Severity::Critical,
    ]
    .into_iter()
    .map(Choice::name)
    .collect()
}

/// Every problem of `doc` with the common vocabulary, each with where it is.
fn vocabulary(doc: &Value, exit: i32) -> Vec<String> {
    let mut problems = Vec::new();
    match doc.get("ok") {
        Some(Value::Bool(ok)) if *ok == (exit == 0) => {}
        Some(Value::Bool(ok)) => {
            problems.push(format!("$.ok is {ok} but the exit status is {exit}"))
        }
        other => problems.push(format!("$.ok is missing or not a boolean: {other:?}")),
    }
    walk(doc, "$", &scale(), &mut problems);
    problems
}

fn walk(v: &Value, at: &str, scale: &[&str], out: &mut Vec<String>) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{at}[{i}]"), scale, out);
            }
        }
        Value::Object(map) => {
            for (key, value) in map {
                let here = format!("{at}.{key}");
                match key.as_str() {
                    "account" => out.push(format!(
                        "{here}: an account's name is 'name', a list of accounts 'accounts'"
                    )),
                    "accounts" => match value.as_array() {
                        Some(items) => {
                            for (i, item) in items.iter().enumerate() {
                                if !item.get("name").is_some_and(Value::is_string) {
                                    out.push(format!(
                                        "{here}[{i}]: not an object with a string 'name': {item}"
                                    ));
                                }
                            }
                        }
                        None => out.push(format!("{here}: not an array: {value}")),
                    },
                    "name" if !value.is_string() => {
                        out.push(format!("{here}: not a string: {value}"))
                    }
                    "severity" if !value.as_str().is_some_and(|s| scale.contains(&s)) => {
                        out.push(format!("{here}: {value} is not on the one scale {scale:?}"))
                    }
                    "findings" => match value.as_array() {
                        Some(items) => {
                            for (i, item) in items.iter().enumerate() {
                                finding_shape(item, &format!("{here}[{i}]"), out);
                            }
                        }
                        None => out.push(format!("{here}: not an array: {value}")),
                    },
                    _ => {}
                }
                walk(value, &here, scale, out);
            }
        }
        _ => {}
    }
}

/// The one finding shape: what `status`, the audit report, `refresh` and `scan` list.
fn finding_shape(f: &Value, at: &str, out: &mut Vec<String>) {
    let id_ok = f["id"].as_str().is_some_and(looks_like_id);
    if !id_ok {
        out.push(format!("{at}.id: not a FINDING-ID: {}", f["id"]));
    }
    for (key, ok) in [
        ("severity", f["severity"].is_string()),
        ("code", f["code"].is_string()),
        ("accounts", f["accounts"].is_array()),
        ("message", f["message"].is_string()),
        ("events", f["events"].is_array()),
        (
            "acknowledged",
            f.get("acknowledged").is_some_and(|a| {
                a.is_null() || (a["by"].is_string() && a["at"].is_string() && a["seq"].is_u64())
            }),
        ),
    ] {
        if !ok {
            out.push(format!("{at}.{key}: missing or of the wrong type: {f}"));
        }
    }
}

/// A FINDING-ID as the contract states it: the code, '-' and 10 lowercase hex digits.
fn looks_like_id(id: &str) -> bool {
    id.rsplit_once('-').is_some_and(|(code, hex)| {
        !code.is_empty()
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && hex.len() == 10
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The paths of every command the CLI has (`audit` alone is one too), from its clap tree.
fn every_command() -> Vec<String> {
    fn leaves(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let path = format!("{prefix}{}", sub.get_name()).trim().to_string();
            if sub.get_subcommands().next().is_none()
                || sub.is_args_conflicts_with_subcommands_set()
            {
                out.push(path.clone());
            }
            leaves(sub, &format!("{path} "), out);
        }
    }
    let mut out = Vec::new();
    leaves(&keychain::cli::Cli::command(), "", &mut out);
    out
}

/// One run: the documents it printed (standard output, or the error on standard error).
struct Run {
    args: Vec<String>,
    exit: i32,
    stdout: Option<Value>,
    error: Option<Value>,
}

fn run(kc: &Kc, args: &[&str], stdin: Option<&str>) -> Run {
    run_as(kc, args, stdin, true)
}

/// `document`: whether standard output is a keychain document (see [`NOT_DOCUMENTS`]).
fn run_as(kc: &Kc, args: &[&str], stdin: Option<&str>, document: bool) -> Run {
    let mut full = vec!["--json"];
    full.extend(args);
    let out = match stdin {
        Some(input) => kc.run_stdin(&full, input),
        None => kc.run(&full),
    };
    let exit = out.status.code().expect("an exit status");
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let stdout = (document && !text.trim().is_empty()).then(|| {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{full:?}: stdout: {e}: {text}"))
    });
    let err = stderr(&out);
    // A failure without a document on standard output is one JSON error on standard error.
    let error = (exit != 0 && (stdout.is_none() || !document)).then(|| {
        let line = err.lines().last().unwrap_or_default();
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{full:?}: stderr: {e}: {err}"))
    });
    Run {
        args: full.iter().map(|s| s.to_string()).collect(),
        exit,
        stdout,
        error,
    }
}

/// A keychain with findings of every source: two accounts sharing a password and a TOTP secret
/// (audit: duplicates), accounts a headless logon cannot use (status: critical), an Exact
/// account with a refresh token and a cached access token, and an account whose refresh fails.
fn keychain_with_findings() -> Kc {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.add_account("beta");
    let rt = kc.file("rt.txt", "rt-1");
    kc.add_exact_account("books", &["--refresh-token-file", rt.to_str().unwrap()]);
    kc.edit_account("books", |account| {
        let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
        account.set_secret(
            keychain::record::SecretField::AccessToken,
            Some(secrecy::SecretString::from("at-123".to_string())),
            now,
        );
        account.header.access_token_issued = Some(now);
        account.header.access_token_expires = Some(now + 600);
    });
    // Its provider does not answer (nothing listens on port 9): a refresh fails at once.
    let rt = kc.file("rt-dead.txt", "rt-dead");
    kc.ok(&add_args(
        "dead",
        &[
            "--no-password",
            "--refresh-token-file",
            rt.to_str().unwrap(),
        ],
    ));
    kc
}

/// Issue 23: every document every command prints under `--json` speaks one vocabulary.
#[test]
fn every_json_document_of_every_command_speaks_one_vocabulary() {
    let schemas = Schemas::load();
    let kc = keychain_with_findings();
    let settings = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/settings/tree")
        .display()
        .to_string();
    let template = kc.file("t.tmpl", "user={{ keychain://acme/user }}\n");
    let inject_out = kc.tmp.path().join("rendered.txt");
    let export = kc.tmp.path().join("backup.age");
    let identity = kc.tmp.path().join("officer.key");
    let officer_key = age::x25519::Identity::generate();
    {
        use secrecy::ExposeSecret;
        std::fs::write(&identity, officer_key.to_string().expose_secret()).unwrap();
        std::fs::set_permissions(
            &identity,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
    }
    let recipient = officer_key.to_public().to_string();
    let pw = kc.file("pw2.txt", &format!("{CANARY_PASSWORD}\n"));

    // The id of a static finding, to acknowledge.
    let report = run(&kc, &["audit"], None);
    let duplicate = report.stdout.as_ref().unwrap()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "duplicate-password")
        .unwrap_or_else(|| panic!("no duplicate-password finding: {:?}", report.stdout))["id"]
        .as_str()
        // Without an id (as before issue 23) the walk below still runs, and says what is wrong.
        .unwrap_or("duplicate-password-0000000000")
        .to_string();

    // (command path, arguments, standard input, schema of its standard-output document)
    type Case<'a> = (&'a str, Vec<&'a str>, Option<&'a str>, Option<&'a str>);
    let officer = Kc::new();
    let cases: Vec<Case> = vec![
        (
            "add",
            add_args("extra", &["--password-file", pw.to_str().unwrap()]),
            None,
            Some("confirmation"),
        ),
        ("list", vec!["list"], None, Some("list")),
        ("show", vec!["show", "acme"], None, Some("show")),
        (
            "set",
            vec!["set", "acme", "--scope", "openid"],
            None,
            Some("confirmation"),
        ),
        ("totp", vec!["totp", "acme"], None, Some("totp")),
        (
            "mv",
            vec!["mv", "extra", "extra2"],
            None,
            Some("confirmation"),
        ),
        ("rm", vec!["rm", "-f", "extra2"], None, Some("confirmation")),
        ("login", vec!["login", "books"], None, Some("login")),
        (
            "exec",
            vec!["exec", "acme", "--", "no-such-program-x9"],
            None,
            None,
        ),
        ("read", vec!["read", "acme/user"], None, None),
        (
            "inject",
            vec![
                "inject",
                "--output",
                inject_out.to_str().unwrap(),
                template.to_str().unwrap(),
            ],
            None,
            None,
        ),
        (
            "git-credential",
            vec![
                "git-credential",
                "--url",
                "https://example.com",
                "books",
                "get",
            ],
            Some("protocol=https\nhost=example.com\n\n"),
            None,
        ),
        (
            "kube-credential",
            vec!["kube-credential", "books"],
            None,
            None,
        ),
        (
            "unlock",
            vec!["unlock", "--for", "1h"],
            None,
            Some("confirmation"),
        ),
        ("lock", vec!["lock"], None, Some("confirmation")),
        ("status", vec!["status"], None, Some("status")),
        ("status", vec!["status", "books"], None, Some("status")),
        ("audit", vec!["audit"], None, Some("audit-report")),
        (
            "audit report",
            vec!["audit", "report", "--no-key"],
            None,
            Some("audit-report"),
        ),
        (
            "audit verify",
            vec!["audit", "verify"],
            None,
            Some("audit-verify"),
        ),
        (
            "audit fingerprint",
            vec!["audit", "fingerprint", "acme", "password"],
            Some(CANARY_PASSWORD),
            Some("audit-fingerprint"),
        ),
        (
            "audit fingerprint",
            vec!["audit", "fingerprint", "acme", "password"],
            Some("not-it"),
            Some("audit-fingerprint"),
        ),
        (
            "audit rotate",
            vec!["audit", "rotate"],
            None,
            Some("confirmation"),
        ),
        (
            "audit seal-config",
            vec!["audit", "seal-config"],
            None,
            Some("confirmation"),
        ),
        (
            "audit ack",
            vec!["audit", "ack", &duplicate],
            None,
            Some("audit-ack"),
        ),
        (
            "audit ack",
            vec!["audit", "ack", "duplicate-password-0000000000"],
            None,
            None,
        ),
        (
            "member add",
            vec!["member", "add", "m2", &recipient],
            None,
            None,
        ),
        (
            "member join",
            vec!["member", "join", "not-a-code"],
            None,
            None,
        ),
        ("member list", vec!["member", "list"], None, None),
        ("member rm", vec!["member", "rm", "m2"], None, None),
        (
            "store copy",
            vec!["store", "copy", "acme", "--to", "/nonexistent"],
            None,
            None,
        ),
        ("scan", vec!["scan", &settings], None, Some("scan")),
        (
            "export",
            vec![
                "export",
                "--recipient",
                &recipient,
                export.to_str().unwrap(),
            ],
            None,
            Some("confirmation"),
        ),
        (
            "refresh",
            vec!["refresh", "--all", "--idle-days", "5"],
            None,
            Some("refresh"),
        ),
        (
            "refresh",
            vec!["refresh", "dead", "--idle-days", "0"],
            None,
            Some("refresh"),
        ),
        ("completions", vec!["completions", "bash"], None, None),
        ("man", vec!["man", "login"], None, None),
    ];

    let mut covered: Vec<&str> = cases.iter().map(|c| c.0).collect();
    covered.extend(["init", "import"]);
    let missing: Vec<String> = every_command()
        .into_iter()
        .filter(|c| !covered.contains(&c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "commands not walked for the JSON vocabulary (add each to the cases here): {missing:?}"
    );

    let mut runs = Vec::new();
    // Each document's schema is checked after the vocabulary, which says more.
    let mut checked: Vec<(&str, Value)> = Vec::new();
    for (path, args, stdin, schema) in &cases {
        let document = !NOT_DOCUMENTS.iter().any(|(p, _)| p == path);
        let done = run_as(&kc, args, *stdin, document);
        if let (Some(schema), Some(doc)) = (schema, &done.stdout) {
            checked.push((*schema, doc.clone()));
        }
        if document || done.exit != 0 {
            runs.push(done);
        }
    }
    runs.push(run(&officer, &["init", "--key-store", "file"], None));
    checked.push(("init", runs.last().unwrap().stdout.clone().unwrap()));
    let import = run(
        &officer,
        &[
            "import",
            export.to_str().unwrap(),
            "--identity",
            identity.to_str().unwrap(),
        ],
        None,
    );
    checked.push(("import", import.stdout.clone().unwrap()));
    runs.push(import);

    let mut problems = Vec::new();
    for r in &runs {
        for doc in [&r.stdout, &r.error].into_iter().flatten() {
            for p in vocabulary(doc, r.exit) {
                problems.push(format!("{:?} (exit {}): {p}", r.args, r.exit));
            }
        }
        if r.stdout.is_none() && r.error.is_none() {
            problems.push(format!(
                "{:?} (exit {}): printed no JSON document",
                r.args, r.exit
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for (schema, doc) in &checked {
        schemas.check(schema, doc);
    }

    // The findings seen are of every source, and status, audit and refresh found some.
    let findings_of = |cmd: &str| -> usize {
        runs.iter()
            .filter(|r| r.args.get(1).map(String::as_str) == Some(cmd))
            .filter_map(|r| r.stdout.as_ref())
            .map(|d| d["findings"].as_array().map_or(0, Vec::len))
            .sum()
    };
    for cmd in ["status", "audit", "refresh", "scan"] {
        assert!(findings_of(cmd) > 0, "{cmd} found nothing to walk");
    }
}

/// Issue 23: a static finding (a password two accounts share on purpose) is acknowledged: it
/// stays listed, marked with who acknowledged it; `audit` exits 0 once every finding at or above
/// --fail-on is acknowledged; the acknowledgement is a line of the audit log. Status findings
/// are acknowledged the same way.
#[test]
fn a_static_finding_is_acknowledged_stays_listed_and_stops_the_exit_1() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.add_account("beta");
    let report = |kc: &Kc| {
        let r = run(kc, &["audit", "--fail-on", "high"], None);
        (r.exit, r.stdout.unwrap())
    };
    let (exit, doc) = report(&kc);
    assert_eq!(exit, 1, "{doc}");
    let open: Vec<Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "high" || f["severity"] == "critical")
        .cloned()
        .collect();
    let duplicate = open
        .iter()
        .find(|f| f["code"] == "duplicate-password")
        .expect("the shared password is a finding");
    assert_eq!(
        duplicate["accounts"],
        serde_json::json!([{"name": "acme"}, {"name": "beta"}])
    );
    for f in &open {
        let id = f["id"].as_str().unwrap();
        let out = kc.run(&["audit", "ack", id]);
        assert_success(&out, &["audit", "ack", id]);
    }
    let (exit, after) = report(&kc);
    assert_eq!(exit, 0, "{after}");
    assert_eq!(after["ok"], true);
    let listed = after["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == duplicate["id"])
        .expect("an acknowledged finding stays listed");
    assert!(listed["acknowledged"]["by"].is_string(), "{listed}");
    let text = kc.ok(&["audit", "--fail-on", "high"]);
    assert!(
        text.contains("duplicate-password") && text.contains("acknowledged by"),
        "{text}"
    );
    // The acknowledgement is audited: a line of the log, action ack, detail the id.
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("\"ack\"") && l.contains(duplicate["id"].as_str().unwrap())),
        "{log}"
    );

    // status: its critical findings (no redirect URI: no headless logon) acknowledged, it exits 0
    // and still lists them.
    let status = run(&kc, &["status"], None);
    assert_eq!(status.exit, 2);
    for f in status.stdout.unwrap()["findings"].as_array().unwrap() {
        let id = f["id"].as_str().unwrap();
        assert_success(&kc.run(&["audit", "ack", id]), &["audit", "ack", id]);
    }
    let status = run(&kc, &["status"], None);
    assert_eq!(status.exit, 0);
    let doc = status.stdout.unwrap();
    assert_eq!(doc["ok"], true);
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["acknowledged"].is_object()),
        "{doc}"
    );
    // A typo acknowledges nothing.
    assert_exit(
        &kc.run(&["audit", "ack", "duplicate-password-0000000000"]),
        2,
    );
}
