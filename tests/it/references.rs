//! Issue 22 item 3: one field vocabulary for every way a value leaves keychain: `read
//! ACCOUNT/FIELD`, `inject` templates, `exec --env` and `--env-file`, `login --format env
//! --env-name`. Access tokens are planted in the cache as a logon stores them; the TOTP
//! secret is the support's.

use std::os::unix::fs::PermissionsExt;

use crate::support;

use secrecy::SecretString;
use support::*;

const TOKEN: &str = "at-crm-5b9d21";

fn plant_token(kc: &Kc, name: &str, token: &str) {
    let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
    kc.edit_account(name, |account| {
        account.set_secret(
            keychain::record::SecretField::AccessToken,
            Some(SecretString::from(token.to_string())),
            now,
        );
        account.header.access_token_issued = Some(now);
        account.header.access_token_expires = Some(now + 3600);
    });
}

/// `crm` (OIDC, password, TOTP secret, a cached token) and `books` (Exact Online, for api-url).
fn keychain() -> Kc {
    let kc = Kc::with_file_store();
    kc.add_account("crm");
    plant_token(&kc, "crm", TOKEN);
    kc.add_exact_account("books", &[]);
    kc
}

fn audit_log(kc: &Kc) -> String {
    std::fs::read_to_string(kc.dir.join("audit.log")).unwrap()
}

fn reveals(kc: &Kc, command: &str, field: &str) -> usize {
    audit_log(kc)
        .lines()
        .filter(|l| {
            l.contains(&format!("\"command\":\"{command}\""))
                && l.contains(&format!("\"action\":\"reveal\",\"detail\":\"{field}\""))
        })
        .count()
}

/// The current TOTP code as `keychain totp` gives it, and whether `code` is it (or the one of
/// the step next to it, should the step have turned in between).
fn is_current_code(kc: &Kc, code: &str) -> bool {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(TOTP_SECRET).unwrap())
        .build_noncompliant();
    let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock) as u64;
    let _ = kc;
    [now - 30, now, now + 30]
        .iter()
        .any(|t| totp.generate(*t).to_string() == code)
}

#[test]
fn read_gives_each_field_of_the_vocabulary() {
    let kc = keychain();
    for (reference, want) in [
        ("crm/access-token", TOKEN),
        ("keychain://crm/access-token", TOKEN),
        ("crm/user", "dwho"),
        ("crm/client-id", "cli"),
        ("books/user", "fin@example.com"),
        ("books/client-id", "books-client"),
        ("books/api-url", "https://start.exactonline.nl/api"),
        ("crm/password", CANARY_PASSWORD),
        ("crm/totp-secret", TOTP_SECRET),
    ] {
        assert_eq!(
            kc.ok(&["read", reference]),
            format!("{want}\n"),
            "{reference}"
        );
    }
    assert_eq!(kc.ok(&["read", "-n", "crm/user"]), "dwho");
    let code = kc.ok(&["read", "crm/totp"]);
    assert!(is_current_code(&kc, code.trim_end()), "{code}");
    // Each secret named, and the code, are in the audit log as read's.
    assert_eq!(reveals(&kc, "read", "password"), 1);
    assert_eq!(reveals(&kc, "read", "totp-secret"), 1);
    assert!(
        audit_log(&kc)
            .lines()
            .any(|l| l.contains("\"command\":\"read\"") && l.contains("\"action\":\"totp\"")),
        "{}",
        audit_log(&kc)
    );
    // The access token went through the login engine: a login event, no reveal.
    assert!(audit_log(&kc).contains("login_cache"));
    assert!(!audit_log(&kc).contains(CANARY_PASSWORD));
}

/// Hostile references: unknown fields, traversal, missing parts (exit 2); an account that does
/// not exist (exit 3). Nothing on standard output, nothing in the audit log.
#[test]
fn read_refuses_what_is_not_a_reference() {
    let kc = keychain();
    let log = audit_log(&kc);
    for (reference, code) in [
        ("crm", 2),
        ("crm/", 2),
        ("crm/secrets", 2),
        ("crm/Password", 2),
        ("crm/user/x", 2),
        ("../crm/user", 2),
        ("crm/../password", 2),
        ("op://crm/user", 2),
        ("crm/access_token", 2),
        ("nope/user", 3),
        ("nope/access-token", 3),
        ("keychain://nope/password", 3),
    ] {
        let out = kc.run(&["read", reference]);
        assert_exit(&out, code);
        assert!(out.stdout.is_empty(), "{reference}");
    }
    // A secret the account does not hold: a usage error naming it.
    let out = kc.run(&["read", "books/password"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("has no password"), "{}", stderr(&out));
    assert_eq!(audit_log(&kc), log);
}

#[test]
fn inject_renders_a_template_into_a_private_file() {
    let kc = keychain();
    let template = kc.file(
        "app.ini.tpl",
        "[exact]\nurl = {{ keychain://books/api-url }}\nclient={{keychain://books/client-id}}\n\
         token = {{ keychain://crm/access-token }}\npassword = {{ keychain://crm/password }}\n\
         again = {{ keychain://crm/access-token }}\nliteral = \\{{ keychain://crm/password }}\n\
         jinja = {{ name }} {% raw %}\n",
    );
    let output = kc.tmp.path().join("out").join("app.ini");
    std::fs::create_dir(output.parent().unwrap()).unwrap();
    kc.ok(&[
        "inject",
        template.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        format!(
            "[exact]\nurl = https://start.exactonline.nl/api\nclient=books-client\n\
             token = {TOKEN}\npassword = {CANARY_PASSWORD}\nagain = {TOKEN}\n\
             literal = {{{{ keychain://crm/password }}}}\njinja = {{{{ name }}}} {{% raw %}}\n"
        )
    );
    assert_eq!(
        std::fs::metadata(&output).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(reveals(&kc, "inject", "password"), 1);
    // No temporary file left beside it.
    assert_eq!(files_under(output.parent().unwrap()).len(), 1);

    // To standard output with -, and from standard input with -.
    let out = kc
        .cmd()
        .args(["inject", "-", "-o", "-"])
        .write_stdin("u={{ keychain://crm/user }}")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "u=dwho");

    // Rendering again replaces the file with --force (a cron job's refresh), still 0600.
    std::fs::set_permissions(&output, std::fs::Permissions::from_mode(0o644)).unwrap();
    kc.ok(&[
        "inject",
        template.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(
        std::fs::metadata(&output).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// A bad template writes nothing: an unterminated reference, an unknown field, traversal, an
/// account that does not exist (exit 3, and no secret of another account revealed first). An
/// output file already there is left as it was.
#[test]
fn inject_writes_nothing_for_a_bad_template() {
    let kc = keychain();
    let output = kc.file("existing.ini", "old content\n");
    let log = audit_log(&kc);
    for (i, (template, code, says)) in [
        ("a={{ keychain://crm/user\n}}", 2, "line 1"),
        ("ok\nb={{ keychain://crm/nope }}", 2, "line 2"),
        ("c={{ keychain://../crm/user }}", 2, "line 1"),
        ("d={{ keychain://crm/user x }}", 2, "line 1"),
        (
            "p={{ keychain://crm/password }}\nq={{ keychain://ghost/user }}",
            3,
            "ghost",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let path = kc.file(&format!("bad{i}.tpl"), template);
        let out = kc.run(&[
            "inject",
            path.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
            "--force",
        ]);
        assert_exit(&out, code);
        assert!(
            stderr(&out).contains(says),
            "{template:?}: {}",
            stderr(&out)
        );
        assert_eq!(std::fs::read_to_string(&output).unwrap(), "old content\n");
        let fresh = kc.tmp.path().join(format!("fresh{i}.ini"));
        let out = kc.run(&[
            "inject",
            path.to_str().unwrap(),
            "-o",
            fresh.to_str().unwrap(),
        ]);
        assert_exit(&out, code);
        assert!(!fresh.exists(), "{template:?} wrote a file");
    }
    assert_eq!(audit_log(&kc), log, "a refused template revealed something");
}

#[test]
fn exec_env_file_maps_many_variables() {
    let kc = keychain();
    let env_file = kc.file(
        "job.env",
        "# the nightly job\nTOKEN=keychain://crm/access-token\n\nAPI = keychain://books/api-url\nCLIENT=keychain://books/client-id\nPW=keychain://crm/password\nCODE=keychain://crm/totp\n",
    );
    let out_file = kc.tmp.path().join("seen.txt");
    let script = format!(
        "printf '%s\\n' \"$TOKEN\" \"$API\" \"$CLIENT\" \"$PW\" \"$CODE\" \"$U\" > '{}'",
        out_file.display()
    );
    kc.ok(&[
        "exec",
        "--env-file",
        env_file.to_str().unwrap(),
        "--env",
        "U=keychain://crm/user",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let seen = std::fs::read_to_string(&out_file).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(
        lines[..4],
        [
            TOKEN,
            "https://start.exactonline.nl/api",
            "books-client",
            CANARY_PASSWORD
        ]
    );
    assert!(is_current_code(&kc, lines[4]), "{seen}");
    assert_eq!(lines[5], "dwho");
    assert_eq!(reveals(&kc, "exec --env PW", "password"), 1);

    // A bad line, a variable given twice (in the file and by --env), an account that does not
    // exist: refused before the command runs.
    let marker = kc.tmp.path().join("ran");
    let touch = format!("touch '{}'", marker.display());
    for (i, (content, extra, code)) in [
        ("TOKEN=crm/access-token\n", None, 2),
        ("TOKEN=keychain://crm/nope\n", None, 2),
        ("1X=keychain://crm/user\n", None, 2),
        ("X=keychain://crm/user\n", Some("X=crm:user"), 2),
        ("X=keychain://ghost/user\n", None, 3),
    ]
    .into_iter()
    .enumerate()
    {
        let file = kc.file(&format!("bad{i}.env"), content);
        let mut args = vec!["exec", "--env-file", file.to_str().unwrap()];
        if let Some(spec) = extra {
            args.extend(["--env", spec]);
        }
        args.extend(["--", "sh", "-c", &touch]);
        assert_exit(&kc.run(&args), code);
        assert!(!marker.exists(), "{content:?} ran the command");
    }
}

#[test]
fn login_env_name_names_the_variable() {
    let kc = keychain();
    assert_eq!(
        kc.ok(&["login", "crm", "--format", "env", "--env-name", "CRM_TOKEN"]),
        format!("export CRM_TOKEN='{TOKEN}'\n")
    );
    assert_eq!(
        kc.ok(&["login", "crm", "--format", "env"]),
        format!("export KEYCHAIN_ACCESS_TOKEN='{TOKEN}'\n")
    );
    for args in [
        &["login", "crm", "--env-name", "X"][..],
        &["login", "crm", "--format", "env", "--env-name", "1X"],
        &["login", "crm", "--format", "env", "--env-name", "X;rm"],
        &["login", "crm", "--format", "env", "--env-name", ""],
    ] {
        let out = kc.run(args);
        assert_exit(&out, 2);
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// One vocabulary: every plain field gives the same value by read, inject and exec --env.
#[test]
fn every_way_out_gives_the_same_value() {
    let kc = keychain();
    for field in ["access-token", "user", "client-id", "api-url"] {
        let account = if field == "api-url" { "books" } else { "crm" };
        let reference = format!("keychain://{account}/{field}");
        let read = kc.ok(&["read", &reference]);
        let injected = kc
            .cmd()
            .args(["inject", "-", "-o", "-"])
            .write_stdin(format!("{{{{ {reference} }}}}\n"))
            .output()
            .unwrap();
        assert_exit(&injected, 0);
        let out_file = kc.tmp.path().join("v.txt");
        kc.ok(&[
            "exec",
            "--env",
            &format!("V={account}:{field}"),
            "--",
            "sh",
            "-c",
            &format!("printf '%s\\n' \"$V\" > '{}'", out_file.display()),
        ]);
        assert_eq!(String::from_utf8_lossy(&injected.stdout), read, "{field}");
        assert_eq!(std::fs::read_to_string(&out_file).unwrap(), read, "{field}");
    }
}

/// The reveal is in the audit log before the file is written: an output that cannot be
/// written (its folder does not exist) fails with exit 8 after the reveal was recorded, never
/// the other way round.
#[test]
fn inject_records_the_secret_before_writing() {
    let kc = keychain();
    let template = kc.file("pw.tpl", "pw={{ keychain://crm/password }}\n");
    let output = kc.tmp.path().join("no-such-folder").join("out.ini");
    let out = kc.run(&[
        "inject",
        template.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ]);
    assert_exit(&out, 8);
    assert!(!output.exists());
    assert_eq!(reveals(&kc, "inject", "password"), 1);
}
