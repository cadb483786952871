//! Issue 25, item 1: a secret echoed by a provider in another encoding than it was written in
//! (HTML references as PHP and Python write them, percent-encoding in quotes, base64 as in a
//! Basic header of `client_id:secret`), and codes a page carries in a link or a meta refresh,
//! reach none of stderr, the audit log, the JSON error and the debug pages.

use crate::support;

use base64::Engine;
use support::login::REDIRECT_URI;
use support::stub::{Answer, Seen, Stub};
use support::{Kc, assert_exit, stderr};

const PASSWORD: &str = "pw'Canary<Enc>42";
const REFRESH_TOKEN: &str = "rt-canary-enc/0123456789";
const CLIENT_SECRET: &str = "cs canary+enc/98765";

fn add(kc: &Kc, stub: &Stub, extra: &[&str]) {
    let out = support::login::add_oauth2(kc, &stub.url("/auth"), &stub.url("/token"), extra);
    assert_exit(&out, 0);
}

fn path(seen: &Seen) -> &str {
    seen.url.split('?').next().unwrap_or("")
}

/// The forms a provider may echo `secret` in.
fn echoes(secret: &str) -> Vec<String> {
    let php: String = secret
        .chars()
        .map(|c| match c {
            '\'' => "&#039;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '+' => "&#43;".into(),
            ' ' => "&#32;".into(),
            c => c.to_string(),
        })
        .collect();
    let python = php.replace("&#039;", "&#x27;").replace("&#43;", "&#x2B;");
    let percent: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("cli:{secret}"));
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    vec![
        php,
        python,
        format!("\"{}\"", percent.to_lowercase()),
        format!("'{}'", percent.replace('+', "%20")),
        format!("Basic {basic}"),
        url_safe,
    ]
}

/// No echo of any secret, nor any six-character run of one, in `text`.
fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    let lower = text.to_ascii_lowercase();
    for secret in secrets {
        for echo in echoes(secret) {
            let probe = &echo[..echo.len().min(14)];
            assert!(!text.contains(probe), "{what} holds {probe:?}: {text}");
        }
        for run in secret.as_bytes().windows(6) {
            let run = String::from_utf8_lossy(run).to_ascii_lowercase();
            assert!(!lower.contains(&run), "{what} holds {run:?}: {text}");
        }
    }
}

#[test]
fn a_token_error_echoing_secrets_in_other_encodings_reaches_no_output() {
    let mut description = String::from("invalid client:");
    for secret in [CLIENT_SECRET, REFRESH_TOKEN] {
        for echo in echoes(secret) {
            description.push(' ');
            description.push_str(&echo);
        }
    }
    let body = serde_json::json!({"error": "invalid_client", "error_description": description})
        .to_string();
    let stub = Stub::start(move |_| Answer::json(401, &body));
    let kc = Kc::with_file_store();
    let rt = kc.file("rt", REFRESH_TOKEN);
    let cs = kc.file("cs", CLIENT_SECRET);
    add(
        &kc,
        &stub,
        &[
            "--no-password",
            "--no-totp",
            "--refresh-token-file",
            rt.to_str().unwrap(),
            "--client-secret-file",
            cs.to_str().unwrap(),
        ],
    );
    let out = kc.run(&["login", "acct"]);
    assert_exit(&out, 5);
    assert!(stderr(&out).contains("invalid_client"), "{}", stderr(&out));
    let json = kc.run(&["login", "acct", "--json"]);
    assert_exit(&json, 5);
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    for (what, text) in [
        ("stderr", stderr(&out)),
        (
            "the JSON error",
            String::from_utf8_lossy(&json.stdout).into_owned(),
        ),
        ("the JSON run's stderr", stderr(&json)),
        ("audit log", log),
    ] {
        assert_clean(what, &text, &[CLIENT_SECRET, REFRESH_TOKEN]);
    }
}

#[test]
fn a_redirect_error_echoing_the_password_escaped_reaches_no_output() {
    let description = format!("user alice password {}", echoes(PASSWORD).join(" "));
    let stub = Stub::start(move |s| match path(s) {
        "/auth" => {
            let mut location = url::Url::parse(REDIRECT_URI).unwrap();
            location
                .query_pairs_mut()
                .append_pair("error", "server_error")
                .append_pair("error_description", &description);
            Answer::redirect(302, location.as_str())
        }
        _ => Answer::text(404, "not found"),
    });
    let kc = Kc::with_file_store();
    let pw = kc.file("pw", PASSWORD);
    add(
        &kc,
        &stub,
        &["--password-file", pw.to_str().unwrap(), "--no-totp"],
    );
    let out = kc.run(&["login", "acct"]);
    assert_exit(&out, 5);
    assert!(stderr(&out).contains("server_error"), "{}", stderr(&out));
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    for (what, text) in [("stderr", stderr(&out)), ("audit log", log)] {
        assert_clean(what, &text, &[PASSWORD]);
    }
}

#[test]
fn debug_pages_hold_no_escaped_secret_and_no_code_from_a_link_or_meta_refresh() {
    let echoed = echoes(PASSWORD).join(" | ");
    let stub = Stub::start(move |s| {
        match path(s) {
        "/auth" => Answer::html(
            r#"<html><body><form method="post" action="/login">
            <input type="text" name="username"><input type="password" name="password">
            <input type="submit" value="Log on"></form></body></html>"#,
        ),
        _ => Answer::html(&format!(
            r#"<html><head><meta http-equiv="refresh" content="0;url=https://app.example/cb?code=MetaCodeCanary777"></head>
            <body><p>You typed {echoed}</p>
            <a href="https://app.example/cb?code=LinkCodeCanary888&amp;state=s">continue</a>
            <form action="/next"><input name="colour"></form></body></html>"#
        ))
        .header("Refresh", "5; url=/cb?code=HeaderCodeCanary999"),
    }
    });
    let kc = Kc::with_file_store();
    let pw = kc.file("pw", PASSWORD);
    add(
        &kc,
        &stub,
        &["--password-file", pw.to_str().unwrap(), "--no-totp"],
    );
    let pages = kc.tmp.path().join("pages");
    let out = kc.run(&["login", "acct", "--debug-pages", pages.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_clean("stderr", &stderr(&out), &[PASSWORD]);
    let mut seen = 0;
    for entry in std::fs::read_dir(&pages).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        seen += 1;
        assert_clean("a debug page", &text, &[PASSWORD]);
        for code in [
            "MetaCodeCanary777",
            "LinkCodeCanary888",
            "HeaderCodeCanary999",
        ] {
            assert!(!text.contains(code), "a debug page holds {code}: {text}");
        }
    }
    assert!(seen >= 2, "the pages were written");
}
