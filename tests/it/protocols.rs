//! Issue 22 item 2: the credential helper protocols, each driven by the real client. git (its
//! credential helper protocol, over HTTP against a server of the test's own that demands Basic
//! credentials), kubectl (the exec credential plugin, over HTTPS, since client-go hands an exec
//! plugin's token only to a TLS server), and the credential_process-style document. Access
//! tokens are planted in the account's cache as a logon stores them; logons themselves are
//! covered by tests/login_*.rs.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use crate::support;

use secrecy::SecretString;
use support::*;

const TOKEN: &str = "at-crm-7e1f0c";

/// Stores a cached access token valid for an hour, as a logon does; returns its expiry.
fn plant_token(kc: &Kc, name: &str, token: &str) -> i64 {
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
    now + 3600
}

fn crm() -> (Kc, i64) {
    let kc = Kc::with_file_store();
    kc.add_account("crm");
    let expires = plant_token(&kc, "crm", TOKEN);
    (kc, expires)
}

/// What a test server saw: each request's path and Authorization header.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A git smart-less ("dumb") HTTP server on 127.0.0.1 that answers `info/refs` only to Basic
/// credentials whose password is `token`, and 401 with a Basic challenge otherwise.
fn git_server(token: &'static str) -> (String, Seen) {
    git_server_with(token, false)
}

/// [`git_server`]; with `bearer`, it takes only `Authorization: Bearer TOKEN` and challenges
/// with Bearer.
fn git_server_with(token: &'static str, bearer: bool) -> (String, Seen) {
    use base64::Engine;
    let server = support::loopback_http::server(0);
    let port = server.server_addr().to_ip().unwrap().port();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let auth = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Authorization"))
                .map(|h| h.value.to_string());
            log.lock()
                .unwrap()
                .push((request.url().to_string(), auth.clone()));
            let password = auth
                .as_deref()
                .and_then(|a| a.strip_prefix("Basic "))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|up| up.split_once(':').map(|(_, p)| p.to_string()));
            let good = if bearer {
                auth.as_deref() == Some(&format!("Bearer {token}"))
            } else {
                password.as_deref() == Some(token)
            };
            let challenge = if bearer {
                "Bearer realm=\"t\""
            } else {
                "Basic realm=\"t\""
            };
            let response = if good {
                tiny_http::Response::from_string(
                    "1111111111111111111111111111111111111111\trefs/heads/main\n",
                )
                .with_header(tiny_http::Header::from_bytes("Content-Type", "text/plain").unwrap())
            } else {
                tiny_http::Response::from_string("who are you?")
                    .with_status_code(401)
                    .with_header(
                        tiny_http::Header::from_bytes("WWW-Authenticate", challenge).unwrap(),
                    )
            };
            let _ = request.respond(response);
        }
    });
    (format!("http://127.0.0.1:{port}"), seen)
}

/// git with no configuration but the test's, never prompting, with keychain's environment.
fn git(kc: &Kc, helper_url: &str) -> Command {
    let bin = assert_cmd::cargo::cargo_bin("keychain");
    let mut cmd = Command::new("git");
    let home = kc.tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    cmd.env("HOME", &home)
        .env("XDG_CONFIG_HOME", &home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS")
        .env("KEYCHAIN_DIR", &kc.dir)
        .env_remove("KEYCHAIN_PASSPHRASE_FILE")
        .env_remove("KEYCHAIN_EXEC_ACCOUNT")
        .env("KEYCHAIN_LOCK_TIMEOUT", "30")
        .args([
            "-c",
            &format!(
                "credential.helper=!'{}' git-credential crm --url {helper_url}",
                bin.display()
            ),
        ]);
    cmd
}

fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git is installed (scripts/install-test-deps)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The real git clones' first step against a server that demands credentials: git asks the
/// helper, sends the account's token, and the server lets it in.
#[test]
fn git_ls_remote_uses_the_accounts_token() {
    let (kc, _) = crm();
    let (url, seen) = git_server(TOKEN);
    let mut cmd = git(&kc, &url);
    cmd.args(["ls-remote", &format!("{url}/repo.git")]);
    let out = cmd
        .output()
        .expect("git is installed (scripts/install-test-deps)");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("refs/heads/main"),
        "{}",
        text(&out)
    );
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().any(|(_, a)| a.is_some()),
        "git never sent credentials: {seen:?}"
    );
    // The token left keychain through the login engine: in the audit log.
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("\"account\":\"crm\"") && l.contains("login_cache")),
        "{log}"
    );
}

/// A host that wants a bearer token: with --bearer, git (2.46 or later) sends
/// `Authorization: Bearer TOKEN`, as the helper's authtype/credential answer says.
#[test]
fn git_sends_a_bearer_token_with_bearer() {
    let (kc, _) = crm();
    let (url, seen) = git_server_with(TOKEN, true);
    let bin = assert_cmd::cargo::cargo_bin("keychain");
    let mut cmd = git(&kc, &url);
    cmd.args([
        "-c",
        "credential.helper=",
        "-c",
        &format!(
            "credential.helper=!'{}' git-credential crm --bearer --url {url}",
            bin.display()
        ),
        "ls-remote",
        &format!("{url}/repo.git"),
    ]);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|(_, a)| a.as_deref() == Some(&format!("Bearer {TOKEN}"))),
        "{:?}",
        seen.lock().unwrap()
    );
}

/// `git credential fill` shows exactly what the helper answered: the token, its expiry as
/// password_expiry_utc, and the account's user.
#[test]
fn git_credential_fill_gives_the_token_and_its_expiry() {
    let (kc, expires) = crm();
    let out = run_with_stdin(
        {
            let mut c = git(&kc, "https://git.example.com");
            c.args(["credential", "fill"]);
            c
        },
        "protocol=https\nhost=git.example.com\n\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("password={TOKEN}\n")), "{stdout}");
    assert!(
        stdout.contains(&format!("password_expiry_utc={expires}\n")),
        "{stdout}"
    );
    assert!(stdout.contains("username=dwho\n"), "{stdout}");
}

/// A host, port or protocol the helper was not given never receives the token: not another
/// server (a hostile remote), not the same server under another name, not plain http in place
/// of https. git then has no credential and, unable to prompt, fails.
#[test]
fn git_never_hands_the_token_to_another_host() {
    let (kc, _) = crm();
    let (good, _) = git_server(TOKEN);
    let (evil, evil_seen) = git_server(TOKEN);
    let mut cmd = git(&kc, &good);
    cmd.args(["ls-remote", &format!("{evil}/repo.git")]);
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        evil_seen.lock().unwrap().iter().all(|(_, a)| a.is_none()),
        "the other host got credentials: {:?}",
        evil_seen.lock().unwrap()
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains(TOKEN));

    let port = good.rsplit(':').next().unwrap();
    for request in [
        format!("protocol=http\nhost=localhost:{port}\n\n"),
        format!("protocol=https\nhost=127.0.0.1:{port}\n\n"),
        "protocol=http\nhost=127.0.0.1\n\n".to_string(),
        "protocol=https\nhost=git.example.com\n\n".to_string(),
        format!("protocol=http\nhost=127.0.0.1:{port}.evil.net\n\n"),
    ] {
        let out = run_with_stdin(
            {
                let mut c = git(&kc, &good);
                c.args(["credential", "fill"]);
                c
            },
            &request,
        );
        assert!(!out.status.success(), "{request:?}: {}", text(&out));
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(TOKEN),
            "{request:?}"
        );
    }
    // The helper itself, as git runs it: exit 2 and nothing on standard output.
    let out = kc
        .cmd()
        .args(["git-credential", "crm", "--url", &good, "get"])
        .write_stdin("protocol=https\nhost=evil.example.com\n\n")
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(out.stdout.is_empty());
}

/// What git sends back (`store` after a success, `erase` after a failure) is never written:
/// not a junk password, not an oauth_refresh_token, not for the account's own host. The
/// record and the audit log stay byte for byte, and the next fill still gives the token.
#[test]
fn git_store_and_erase_never_write_the_keychain() {
    let (kc, _) = crm();
    let record = std::fs::read(kc.record("crm")).unwrap();
    let log = std::fs::read(kc.dir.join("audit.log")).unwrap();
    for action in ["approve", "reject"] {
        for password in [TOKEN, "junk-from-a-hostile-remote"] {
            let out = run_with_stdin(
                {
                    let mut c = git(&kc, "https://git.example.com");
                    c.args(["credential", action]);
                    c
                },
                &format!(
                    "protocol=https\nhost=git.example.com\nusername=dwho\npassword={password}\noauth_refresh_token=rt-junk\npassword_expiry_utc=9999999999\n\n"
                ),
            );
            assert!(out.status.success(), "{action}: {}", text(&out));
        }
    }
    // Unknown operations are ignored, as gitcredentials(7) asks.
    let out = kc
        .cmd()
        .args([
            "git-credential",
            "crm",
            "--url",
            "https://git.example.com",
            "frobnicate",
        ])
        .write_stdin("protocol=https\nhost=git.example.com\n\n")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read(kc.record("crm")).unwrap(), record);
    assert_eq!(std::fs::read(kc.dir.join("audit.log")).unwrap(), log);
    let out = run_with_stdin(
        {
            let mut c = git(&kc, "https://git.example.com");
            c.args(["credential", "fill"]);
            c
        },
        "protocol=https\nhost=git.example.com\n\n",
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("password={TOKEN}\n")),
        "{}",
        text(&out)
    );
}

/// An HTTPS server on 127.0.0.1 (the certificate in tests/data/tls) answering the Kubernetes
/// discovery paths only to `Authorization: Bearer TOKEN`, 401 otherwise.
fn kube_server(token: &'static str) -> (String, Seen) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
    let cert =
        rustls::pki_types::CertificateDer::from(std::fs::read(data.join("cert.der")).unwrap());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
        std::fs::read(data.join("key.pk8.der")).unwrap().into(),
    );
    let config = Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let config = config.clone();
            let log = log.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, stream);
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let path = head.split(' ').nth(1).unwrap_or_default().to_string();
                let auth = head.lines().find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                        .map(|(_, v)| v.trim().to_string())
                });
                log.lock().unwrap().push((path, auth.clone()));
                let (status, body) = if auth.as_deref() == Some(&format!("Bearer {token}")) {
                    (
                        "200 OK",
                        r#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#,
                    )
                } else {
                    (
                        "401 Unauthorized",
                        r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}"#,
                    )
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes());
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (format!("https://127.0.0.1:{port}"), seen)
}

/// A kubeconfig whose user is keychain's exec plugin for ACCOUNT.
fn kubeconfig(kc: &Kc, server: &str, account: &str, api_version: &str) -> std::path::PathBuf {
    let bin = assert_cmd::cargo::cargo_bin("keychain");
    kc.file(
        &format!(
            "kubeconfig-{account}-{}",
            api_version.rsplit('/').next().unwrap()
        ),
        &format!(
            r#"apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: {server}
    insecure-skip-tls-verify: true
contexts:
- name: test
  context:
    cluster: test
    user: keychain
current-context: test
users:
- name: keychain
  user:
    exec:
      apiVersion: {api_version}
      command: {bin}
      args: [kube-credential, {account}]
      interactiveMode: Never
"#,
            bin = bin.display()
        ),
    )
}

fn kubectl(kc: &Kc, config: &Path) -> Output {
    let home = kc.tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    Command::new("kubectl")
        .env("HOME", &home)
        .env("KEYCHAIN_DIR", &kc.dir)
        .env_remove("KEYCHAIN_PASSPHRASE_FILE")
        .env_remove("KUBECONFIG")
        .env("KEYCHAIN_LOCK_TIMEOUT", "30")
        .arg("--kubeconfig")
        .arg(config)
        .args(["get", "--raw", "/api"])
        .output()
        .expect("kubectl is installed (scripts/install-test-deps)")
}

/// kubectl's minor version (`32+` reads 32).
fn kubectl_minor() -> u32 {
    let out = Command::new("kubectl")
        .args(["version", "--client", "-o", "json"])
        .output()
        .expect("kubectl is installed (scripts/install-test-deps)");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let minor = doc["clientVersion"]["minor"].as_str().unwrap_or_default();
    minor.trim_end_matches('+').parse().unwrap()
}

/// The real kubectl runs keychain as its exec credential plugin and reaches a server that
/// demands the account's bearer token; an account that does not exist gets kubectl nothing.
#[test]
fn kubectl_uses_the_accounts_token() {
    let (kc, _) = crm();
    let (server, seen) = kube_server(TOKEN);
    // v1 is kubectl's since 1.22; Debian 12's kubernetes-client (1.20) speaks v1beta1 only,
    // which keychain answers too (the document test below checks v1's fields either way).
    let mut versions = vec!["client.authentication.k8s.io/v1beta1"];
    if kubectl_minor() >= 22 {
        versions.push("client.authentication.k8s.io/v1");
    } else {
        eprintln!("kubectl older than 1.22: its exec plugin speaks v1beta1 only; v1 not driven");
    }
    for version in versions {
        let out = kubectl(&kc, &kubeconfig(&kc, &server, "crm", version));
        assert!(out.status.success(), "{version}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("APIVersions"),
            "{}",
            text(&out)
        );
    }
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|(_, a)| a.as_deref() == Some(&format!("Bearer {TOKEN}"))),
        "{:?}",
        seen.lock().unwrap()
    );
    seen.lock().unwrap().clear();
    let out = kubectl(
        &kc,
        &kubeconfig(&kc, &server, "nope", "client.authentication.k8s.io/v1"),
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(seen.lock().unwrap().iter().all(|(_, a)| a.is_none()));
}

/// The ExecCredential document against the fields of client.authentication.k8s.io/v1's
/// ExecCredential (apiVersion, kind, status with token and an RFC 3339 expirationTimestamp;
/// nothing else), and a request for a version keychain does not speak refused.
#[test]
fn exec_credential_document_matches_the_v1_schema() {
    let (kc, expires) = crm();
    let out = kc
        .cmd()
        .args(["kube-credential", "crm"])
        .env(
            "KUBERNETES_EXEC_INFO",
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#,
        )
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({
            "apiVersion": "client.authentication.k8s.io/v1",
            "kind": "ExecCredential",
            "status": {
                "token": TOKEN,
                "expirationTimestamp": keychain::clock::rfc3339(expires),
            }
        })
    );
    let out = kc
        .cmd()
        .args(["kube-credential", "crm"])
        .env(
            "KUBERNETES_EXEC_INFO",
            r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#,
        )
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(out.stdout.is_empty());
}

/// `login --format credential-process`: AWS's envelope (Version 1, an ISO 8601 Expiration)
/// with the fields of an OAuth2 bearer token.
#[test]
fn credential_process_document() {
    let (kc, expires) = crm();
    let out = kc.ok(&["login", "crm", "--format", "credential-process"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({
            "Version": 1,
            "AccessToken": TOKEN,
            "TokenType": "Bearer",
            "Expiration": keychain::clock::rfc3339(expires),
        })
    );
}

/// On the Exact Online emulator (10-minute tokens, single-use refresh tokens), with keychain's
/// clock moved with the emulator's: git's helper logs on the first time, serves the cache
/// while the token is valid, and refreshes once it has expired, each answer carrying the
/// token's own expiry. The login engine does the work, one logon and one refresh in all.
#[test]
fn git_gets_a_fresh_token_after_expiry_on_the_exact_emulator() {
    use support::exact_emulator::Config;
    let mut exact = support::login::Exact::start(Config {
        password: CANARY_PASSWORD.into(),
        ..Config::default()
    });
    let kc = Kc::with_file_store();
    exact.add(&kc, "crm", CANARY_PASSWORD);
    let fill = |exact: &support::login::Exact| -> (String, i64) {
        let mut cmd = git(&kc, "https://git.example.com");
        cmd.env("LD_PRELOAD", support::login::FAKETIME_LIB)
            .env("FAKETIME", format!("{:+}s", exact.offset))
            .env("FAKETIME_DONT_RESET", "1")
            // A machine whose clock is off has it off on the wall clock only: libfaketime would
            // move CLOCK_MONOTONIC too, and the kernel's timed waits (a lease renewer's
            // recv_timeout) would then be off by the offset, which no real machine sees.
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .args(["credential", "fill"]);
        let out = run_with_stdin(cmd, "protocol=https\nhost=git.example.com\n\n");
        assert!(out.status.success(), "{}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let value = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("no {key}: {stdout}"))
                .to_string()
        };
        (
            value("password"),
            value("password_expiry_utc").parse().unwrap(),
        )
    };
    let now = || keychain::clock::Clock::unix(&keychain::clock::SystemClock);
    let (first, first_expiry) = fill(&exact);
    assert!(
        (590..=601).contains(&(first_expiry - now())),
        "{first_expiry}"
    );
    let s = exact.stats();
    assert_eq!((s.logons, s.refreshes), (1, 0));
    assert_eq!(fill(&exact).0, first, "served from the cache");
    exact.advance(700);
    let (second, second_expiry) = fill(&exact);
    assert_ne!(second, first);
    assert!(
        (590..=601).contains(&(second_expiry - now() - 700)),
        "{second_expiry}"
    );
    let s = exact.stats();
    assert_eq!((s.logons, s.refreshes), (1, 1));
    // `read` and `login` hand out the same valid token: one engine.
    assert_eq!(
        exact.ok(&kc, &["read", "crm/access-token"]),
        format!("{second}\n")
    );
    assert_eq!(exact.ok(&kc, &["login", "crm"]), format!("{second}\n"));
}

/// A stored access token with a space, a line break or a control character (from a backup or
/// `set`; no provider answer gets in with one) could inject a header, a protocol line or a
/// shell command: no way out hands it on. Each exits 7 with nothing on standard output, and
/// the program of exec never runs.
#[test]
fn no_way_out_hands_on_a_token_with_control_characters() {
    let kc = Kc::with_file_store();
    kc.add_account("crm");
    plant_token(&kc, "crm", "at\nquit=1\npassword=x");
    let marker = kc.tmp.path().join("ran");
    let touch = format!("touch '{}'", marker.display());
    let template = kc.file("t.tpl", "{{ keychain://crm/access-token }}");
    for args in [
        vec!["read", "crm/access-token"],
        vec!["inject", template.to_str().unwrap(), "-o", "-"],
        vec!["kube-credential", "crm"],
        vec!["login", "crm", "--format", "credential-process"],
        vec!["exec", "crm", "--", "sh", "-c", &touch],
        vec![
            "exec",
            "--env",
            "T=keychain://crm/access-token",
            "--",
            "sh",
            "-c",
            &touch,
        ],
    ] {
        let out = kc.run(&args);
        assert_exit(&out, 7);
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = kc
        .cmd()
        .args([
            "git-credential",
            "crm",
            "--url",
            "https://git.example.com",
            "get",
        ])
        .write_stdin("protocol=https\nhost=git.example.com\n\n")
        .output()
        .unwrap();
    assert_exit(&out, 7);
    assert!(out.stdout.is_empty());
    assert!(!marker.exists(), "exec ran its program");
}
