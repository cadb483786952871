//! What keychain writes to its output streams, driven through the real binary:
//!
//! - every command that prints survives a reader that has gone away (a pipe whose read end is
//!   closed, as `| head` leaves it) and a full device (`/dev/full`): no panic, and the status
//!   the README documents (141 quietly for a closed pipe, 8 for a failed write; a change that was
//!   saved keeps status 0 and stays saved);
//! - no output of any command holds 4 or more consecutive characters of a stored password, TOTP
//!   secret or client secret (canaries), except the one command asked to reveal it;
//! - control characters planted in every user-controlled field come out escaped in every human
//!   output, and JSON stays JSON.
//!
//! Tokens come from a small token endpoint on 127.0.0.1 (a stub: the test needs a provider that
//! answers a refresh and one that answers with control characters in its error text).

use crate::support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use support::*;

/// Canaries: every window of 4 holds a character that keychain's own texts never use.
const PASSWORD: &str = "Q#zX%jK!vW#qZ%xJ!";
const TOTP: &str = "QZXJ7WKVQZXJ7WKV";
const CLIENT_SECRET: &str = "cs#Vq%Kz!Xj#Wq%";
const REFRESH_TOKEN: &str = "rt-first-0001";

/// What a person could be fooled by: ESC (CSI and OSC), BEL, CR, LF, a C1 CSI, a bidi override.
const EVIL: &str = "ev\u{1b}[2J\u{1b}]0;pwned\u{7}il\r\nFAKE\u{9b}31m\u{202e}txt";

/// A token endpoint: `/token` answers every refresh with new tokens; `/evil` rejects the grant
/// with control characters in its error text.
struct TokenServer {
    base: String,
}

impl TokenServer {
    fn start() -> TokenServer {
        let server = Arc::new(support::loopback_http::server(0));
        let base = format!("http://{}", server.server_addr().to_ip().unwrap());
        std::thread::spawn(move || {
            for (n, request) in server.incoming_requests().enumerate() {
                let (status, body) = if request.url().starts_with("/evil") {
                    (
                        400,
                        serde_json::json!({"error": "invalid_grant", "error_description": EVIL}),
                    )
                } else {
                    (
                        200,
                        serde_json::json!({
                            "access_token": format!("at-{n}-token"),
                            "token_type": "Bearer",
                            "expires_in": 3600,
                            "refresh_token": format!("rt-next-{n}"),
                        }),
                    )
                };
                let header =
                    tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
                let _ = request.respond(
                    tiny_http::Response::from_string(body.to_string())
                        .with_status_code(status)
                        .with_header(header),
                );
            }
        });
        TokenServer { base }
    }
}

/// A keychain (file key store) with account `acme`: password, TOTP secret, client secret and a
/// refresh token, its access token already cached by one `login`.
struct World {
    kc: Kc,
    tokens: TokenServer,
    recipient: String,
}

impl World {
    fn new() -> World {
        let kc = Kc::new();
        let recipient = kc.ok(&["init", "--key-store", "file"]).trim().to_string();
        let world = World {
            kc,
            tokens: TokenServer::start(),
            recipient,
        };
        world.add("acme", "dwho", "/token");
        world.kc.ok(&["login", "acme"]);
        world
    }

    fn add(&self, name: &str, user: &str, token_path: &str) {
        let pw = self.kc.file("pw", &format!("{PASSWORD}\n"));
        let totp = self.kc.file("totp", TOTP);
        let cs = self.kc.file("cs", &format!("{CLIENT_SECRET}\n"));
        let rt = self.kc.file("rt", &format!("{REFRESH_TOKEN}\n"));
        let auth = format!("{}/authorize", self.tokens.base);
        let token = format!("{}{token_path}", self.tokens.base);
        let args = [
            "add",
            name,
            "--provider",
            "oauth2",
            "--authorize-url",
            &auth,
            "--token-url",
            &token,
            "--client-id",
            "cli",
            "--user",
            user,
            "--password-file",
            pw.to_str().unwrap(),
            "--totp-file",
            totp.to_str().unwrap(),
            "--client-secret-file",
            cs.to_str().unwrap(),
            "--refresh-token-file",
            rt.to_str().unwrap(),
        ];
        self.kc.ok(&args);
    }

    /// A settings file with a plain-text password, for `scan`.
    fn settings(&self) -> PathBuf {
        self.kc.file(
            "settings-plain.xml",
            "<settings>\n<database provider=\"x\" defaultPassword=\"S3cr#t%Val!ue\"/>\n</settings>\n",
        )
    }

    fn stdin_file(&self, content: &str) -> PathBuf {
        self.kc.file("stdin.txt", content)
    }

    /// Every command whose job is to print, with the file its standard input comes from.
    fn printing_commands(&self) -> Vec<(Vec<String>, Option<PathBuf>)> {
        let settings = self.settings();
        let html = self.kc.tmp.path().join("report.html");
        let fingerprint_input = self.stdin_file(&format!("{PASSWORD}\n"));
        let plain = |args: &[&str]| (args.iter().map(|a| a.to_string()).collect(), None);
        vec![
            plain(&["list"]),
            plain(&["list", "--json"]),
            plain(&["show", "acme"]),
            plain(&["show", "acme", "--json"]),
            plain(&["show", "acme", "--reveal", "refresh-token"]),
            plain(&["totp", "acme"]),
            plain(&["login", "acme"]),
            plain(&["login", "acme", "--format", "json"]),
            plain(&["audit"]),
            plain(&["audit", "--json"]),
            plain(&["audit", "--html", html.to_str().unwrap(), "--force"]),
            plain(&["audit", "verify"]),
            (
                ["audit", "fingerprint", "acme", "password"]
                    .map(String::from)
                    .to_vec(),
                Some(fingerprint_input),
            ),
            plain(&["scan", settings.to_str().unwrap()]),
            plain(&["completions", "bash"]),
            plain(&["--help"]),
            plain(&["--version"]),
            plain(&["show", "no-such-account"]),
        ]
    }
}

fn command(kc: &Kc, args: &[String], stdin: &Option<PathBuf>) -> Command {
    let mut cmd = kc.std_cmd();
    cmd.args(args);
    cmd.stdin(match stdin {
        Some(path) => Stdio::from(File::open(path).unwrap()),
        None => Stdio::null(),
    });
    cmd
}

/// The write end of a pipe whose reader is already gone: every write gets EPIPE.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer.into()
}

fn dev_full() -> Stdio {
    File::options()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full")
        .into()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_panic(out: &Output, what: &str) {
    assert_ne!(out.status.code(), Some(101), "{what} panicked");
    assert!(out.status.code().is_some(), "{what} died of a signal");
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{what}: {}",
        text(&out.stderr)
    );
}

#[test]
fn every_printing_command_ends_quietly_with_141_on_a_closed_pipe_and_8_on_a_full_device() {
    let w = World::new();
    let mut checked = 0;
    for (args, stdin) in w.printing_commands() {
        let what = format!("keychain {}", args.join(" "));
        let normal = command(&w.kc, &args, &stdin).output().unwrap();
        assert_no_panic(&normal, &what);

        let wrote_out = !normal.stdout.is_empty();
        // main's own error message is best effort: the error's status already says it all.
        let says_more_on_stderr =
            !normal.stderr.is_empty() && !text(&normal.stderr).starts_with("error: ");

        // `keychain ... | head` after head has gone: status 141, no error message.
        let out = command(&w.kc, &args, &stdin)
            .stdout(closed_pipe())
            .output()
            .unwrap();
        assert_no_panic(&out, &what);
        if wrote_out {
            assert_eq!(out.status.code(), Some(141), "{what} into a closed pipe");
            // Quietly: no error about the write (notes written before it may stand).
            assert!(
                !text(&out.stderr).contains("error"),
                "{what}: {}",
                text(&out.stderr)
            );
        } else {
            assert_eq!(out.status.code(), normal.status.code(), "{what}");
        }

        // `keychain ... 2>&1 | head`: both streams gone.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = command(&w.kc, &args, &stdin)
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            .output()
            .unwrap();
        assert_no_panic(&out, &what);
        let expected = if wrote_out || says_more_on_stderr {
            Some(141)
        } else {
            normal.status.code()
        };
        assert_eq!(
            out.status.code(),
            expected,
            "{what} 2>&1 into a closed pipe"
        );

        // A full disk: status 8 with a message naming the stream, never a panic.
        let out = command(&w.kc, &args, &stdin)
            .stdout(dev_full())
            .output()
            .unwrap();
        assert_no_panic(&out, &what);
        if wrote_out {
            assert_eq!(out.status.code(), Some(8), "{what} into /dev/full");
            assert!(
                text(&out.stderr).contains("cannot write to standard output"),
                "{what}: {}",
                text(&out.stderr)
            );
        }

        // Standard error gone, standard output fine: a command with something to say on
        // standard error ends with 141 there; one without keeps its own status.
        let expected = if says_more_on_stderr {
            Some(141)
        } else {
            normal.status.code()
        };
        let out = command(&w.kc, &args, &stdin)
            .stderr(closed_pipe())
            .output()
            .unwrap();
        assert_no_panic(&out, &what);
        assert_eq!(out.status.code(), expected, "{what} with stderr closed");
        checked += 1;
    }
    assert!(checked >= 17, "{checked} commands checked");
}

/// A change command, how to see that its change was saved, and a name to make each run new.
struct Change {
    args: Vec<String>,
    saved: Box<dyn Fn(&World) -> bool>,
}

fn changes(w: &World, round: &str) -> Vec<Change> {
    let s = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let dir = w.kc.tmp.path().to_path_buf();
    let new_name = format!("new-{round}");
    let scope = format!("scope-{round}");
    let export = dir.join(format!("backup-{round}.age"));
    let identity = w.kc.dir.join("identity.txt");
    let other = dir.join(format!("other-{round}"));
    let mut list = vec![
        Change {
            args: s(&[
                "add",
                "--no-client-secret",
                &new_name,
                "--provider",
                "oidc",
                "--issuer",
                "http://127.0.0.1:9",
                "--client-id",
                "c",
                "--user",
                "u",
                "--no-password",
                "--no-totp",
            ]),
            saved: {
                let n = new_name.clone();
                Box::new(move |w| w.kc.ok(&["list", "--json"]).contains(&format!("\"{n}\"")))
            },
        },
        Change {
            args: s(&["set", "acme", "--scope", &scope]),
            saved: {
                let sc = scope.clone();
                Box::new(move |w| w.kc.ok(&["show", "acme", "--json"]).contains(&sc))
            },
        },
        Change {
            args: s(&["rm", "-f", &new_name]),
            saved: {
                let n = new_name.clone();
                Box::new(move |w| !w.kc.ok(&["list", "--json"]).contains(&format!("\"{n}\"")))
            },
        },
        Change {
            args: s(&[
                "export",
                "--recipient",
                &w.recipient,
                export.to_str().unwrap(),
            ]),
            saved: {
                let e = export.clone();
                Box::new(move |_| e.exists())
            },
        },
        Change {
            args: s(&[
                "import",
                export.to_str().unwrap(),
                "--identity",
                identity.to_str().unwrap(),
                "--replace",
            ]),
            saved: Box::new(|w| w.kc.ok(&["show", "acme", "--json"]).contains("acme")),
        },
        Change {
            args: s(&["refresh", "--all", "--idle-days", "0"]),
            saved: {
                let before =
                    w.kc.run(&["show", "acme", "--reveal", "access-token"])
                        .stdout;
                Box::new(move |w| {
                    let after =
                        w.kc.run(&["show", "acme", "--reveal", "access-token"])
                            .stdout;
                    !after.is_empty() && after != before
                })
            },
        },
        Change {
            args: s(&["audit", "rotate"]),
            saved: {
                let before = rotated(&w.kc.dir);
                Box::new(move |w| rotated(&w.kc.dir) == before + 1)
            },
        },
        Change {
            args: s(&["unlock", "--for", "60s"]),
            // Locking again finds the cached identity that unlock left.
            saved: Box::new(|w| text(&w.kc.run(&["lock"]).stderr).contains("Locked")),
        },
        Change {
            args: s(&["lock"]),
            saved: Box::new(|_| true),
        },
    ];
    list.push(Change {
        args: s(&[
            "--dir",
            other.to_str().unwrap(),
            "init",
            "--key-store",
            "file",
        ]),
        saved: Box::new(move |_| other.join("config.json").exists()),
    });
    list
}

fn rotated(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("audit.log.")
        })
        .count()
}

#[test]
fn a_saved_change_exits_0_and_stays_saved_when_its_streams_are_closed_or_full() {
    let w = World::new();
    type Sinks = fn() -> (Stdio, Stdio);
    let sinks: [(&str, Sinks); 2] = [
        ("closed", || {
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            (writer.try_clone().unwrap().into(), writer.into())
        }),
        ("full", || (dev_full(), dev_full())),
    ];
    for (round, make) in sinks {
        for change in changes(&w, round) {
            let what = format!("keychain {} (streams {round})", change.args.join(" "));
            let (stdout, stderr) = make();
            let out = command(&w.kc, &change.args, &None)
                .stdout(stdout)
                .stderr(stderr)
                .output()
                .unwrap();
            assert_no_panic(&out, &what);
            assert_eq!(out.status.code(), Some(0), "{what}");
            assert!((change.saved)(&w), "{what}: the change was not saved");
        }
    }
}

/// Every window of 4 characters of `secret` that occurs in `output`.
fn windows_in(output: &str, secret: &str) -> Vec<String> {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .windows(4)
        .map(|w| w.iter().collect::<String>())
        .filter(|w| output.contains(w.as_str()))
        .collect()
}

#[test]
fn no_output_holds_four_characters_of_a_password_totp_secret_or_client_secret() {
    let w = World::new();
    w.add("evil", "dwho", "/evil");
    let mut runs: Vec<(Vec<String>, Option<PathBuf>)> = w.printing_commands();
    let s = |args: &[&str]| (args.iter().map(|a| a.to_string()).collect(), None);
    // Errors and the remaining commands print too.
    runs.extend([
        s(&["login", "evil"]),
        s(&["refresh", "--all", "--idle-days", "0"]),
        s(&["set", "acme", "--scope", "x"]),
        s(&["show", "acme", "--reveal", "access-token"]),
        s(&["audit", "report", "--no-key"]),
    ]);
    let mut checked = 0;
    for (args, stdin) in &runs {
        let out = command(&w.kc, args, stdin).output().unwrap();
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        for (name, secret) in [
            ("password", PASSWORD),
            ("TOTP secret", TOTP),
            ("client secret", CLIENT_SECRET),
        ] {
            let found = windows_in(&all, secret);
            assert!(
                found.is_empty(),
                "keychain {} shows part of the {name}: {found:?}\n{all}",
                args.join(" ")
            );
        }
        // Base32 is read in any case, so the TOTP secret must not show in lower case either.
        let found = windows_in(&all.to_uppercase(), TOTP);
        assert!(
            found.is_empty(),
            "keychain {} shows part of the TOTP secret: {found:?}",
            args.join(" ")
        );
        {}
        checked += 1;
    }
    let html = std::fs::read_to_string(w.kc.tmp.path().join("report.html")).unwrap();
    for secret in [PASSWORD, TOTP, CLIENT_SECRET] {
        assert!(windows_in(&html, secret).is_empty(), "the HTML report");
    }
    // The canary check can fail: the one command asked to reveal a secret shows it whole.
    let revealed = w.kc.ok(&["show", "acme", "--reveal", "password"]);
    assert_eq!(windows_in(&revealed, PASSWORD).len(), PASSWORD.len() - 3);
    assert!(checked >= 20);
}

/// A control character a terminal would obey: C0 other than LF, DEL, C1, bidi controls.
fn raw_controls(output: &str) -> Vec<char> {
    output
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
        })
        .collect()
}

#[test]
fn control_characters_in_every_user_controlled_field_come_out_escaped() {
    let w = World::new();
    // A user name, client id and scope with controls; a TOTP label and issuer with them.
    let pw = w.kc.file("pw2", "pw-of-evil-1\n");
    let uri = w.kc.file(
        "evil-totp",
        &format!(
            "otpauth://totp/Ev%1B%5B2Jil%E2%80%AE:dw%07ho?secret={TOTP}&issuer=Ev%1B%5B2Jil%E2%80%AE"
        ),
    );
    let auth = format!("{}/authorize", w.tokens.base);
    let token = format!("{}/evil", w.tokens.base);
    w.kc.ok(&[
        "add",
        "--no-client-secret",
        "evil",
        "--provider",
        "oauth2",
        "--authorize-url",
        &auth,
        "--token-url",
        &token,
        "--client-id",
        EVIL,
        "--scope",
        EVIL,
        // A user name with controls is refused at input (the edited header below plants one).
        "--user",
        "evil-user",
        "--password-file",
        pw.to_str().unwrap(),
        "--totp-file",
        uri.to_str().unwrap(),
        "--refresh-token-file",
        w.kc.file("rt2", "rt-of-evil\n").to_str().unwrap(),
    ]);
    // A record header edited on disk: `list` reads headers without the key.
    let record = w.kc.record("acme");
    let bytes = std::fs::read(&record).unwrap();
    let needle = b"\"user\":\"dwho\"";
    let at = bytes
        .windows(needle.len())
        .position(|win| win == needle)
        .expect("the header holds the user name");
    let mut edited = bytes[..at].to_vec();
    edited
        .extend_from_slice(format!("\"user\":{}", serde_json::to_string(EVIL).unwrap()).as_bytes());
    edited.extend_from_slice(&bytes[at + needle.len()..]);
    std::fs::write(&record, &edited).unwrap();
    // A settings file whose name holds controls, for scan.
    let evil_file =
        w.kc.tmp
            .path()
            .join(format!("settings-{}.xml", "a\u{1b}[2Jb\u{202e}"));
    std::fs::write(
        &evil_file,
        "<settings><database provider=\"x\" defaultPassword=\"S3cr#t%Val!ue\"/></settings>",
    )
    .unwrap();

    // A settings file with controls in group, connection, alias, user and client id (XML allows
    // C1, bidi and line breaks as character references; ESC it does not).
    let settings = w.kc.file(
        "settings-ctl.xml",
        &format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<settings xmlns="http://www.invantive.com/connections" version="3">
  <group name="Ev&#x9b;il&#x202e;">
    <connection name="Conn&#13;&#10;FAKE&#x202e;" authenticationMethod="Password" defaultUserLogonCode="jo&#x9b;31m&#x202e;hn&#13;&#10;X" defaultPassword="pw-of-xml-1">
      <database order="10" alias="al&#x9b;ias" provider="ExactOnlineAll" connectionString="api-url=https://start.exactonline.nl;api-client-id=cl&#x9b;i;totp-secret={TOTP}" />
    </connection>
  </group>
</settings>
"#
        ),
    );

    let human: Vec<Vec<&str>> = vec![
        vec!["import", settings.to_str().unwrap()],
        vec!["list"],
        vec!["show", "evil"],
        vec!["show", "acme"], // the edited header: refused, and the error names the file
        vec!["audit"],
        vec!["audit", "report", "--no-key"],
        vec!["login", "evil"], // the provider's error text
        vec!["refresh", "--all", "--idle-days", "0"],
        vec!["scan", evil_file.to_str().unwrap()],
        vec!["show", "x\u{1b}[31my"], // an error text quoting a bad name
        vec!["list", "\u{1b}[31m"],   // clap's usage error quoting the argument
    ];
    let mut escaped_seen = 0;
    for args in &human {
        let out = w.kc.run(args);
        assert_no_panic(&out, &format!("{args:?}"));
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let shown = text(bytes);
            let raw = raw_controls(&shown);
            assert!(
                raw.is_empty(),
                "keychain {args:?} {stream} holds {raw:?}:\n{shown}"
            );
            if shown.contains("\\x1b[2J") || shown.contains("\\x1b[31m") {
                escaped_seen += 1;
            }
        }
    }
    // The planted values were shown (escaped), not left out.
    let list = w.kc.run(&["list"]);
    assert!(
        text(&list.stdout)
            .contains("ev\\x1b[2J\\x1b]0;pwned\\x07il\\x0d\\x0aFAKE\\x9b31m\\u{202e}txt")
    );
    let show = text(&w.kc.run(&["show", "evil"]).stdout);
    for field in ["client-id", "scope"] {
        let line = show.lines().find(|l| l.starts_with(field)).unwrap();
        assert!(line.ends_with("\\u{202e}txt"), "{line}");
    }
    assert!(
        escaped_seen >= 6,
        "only {escaped_seen} outputs showed an escaped value"
    );
    // The settings file's user name with controls is refused, as add refuses it.
    let import = w.kc.run(&["import", settings.to_str().unwrap()]);
    assert!(
        text(&import.stdout).contains("refused")
            && text(&import.stdout).contains("control characters"),
        "{}",
        text(&import.stdout)
    );

    // JSON stays JSON: the value comes back exactly.
    let json: serde_json::Value =
        serde_json::from_str(&w.kc.ok(&["show", "evil", "--json"])).unwrap();
    assert_eq!(json["provider"]["client_id"], EVIL);
    let listed: serde_json::Value =
        serde_json::from_slice(&w.kc.run(&["list", "--json"]).stdout).unwrap();
    // The JSON contract (issue 10): a document with "format": 1 and its accounts.
    assert!(
        listed["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["user"] == EVIL && a["name"] == "acme")
    );
}

#[test]
fn show_names_the_totp_algorithm_and_flow_as_otpauth_and_the_flags_spell_them() {
    let w = World::new();
    let uri = w.kc.file(
        "sha256",
        &format!("otpauth://totp/X:dwho?secret={TOTP}&algorithm=sha256&digits=8&period=60"),
    );
    w.kc.ok(&[
        "set",
        "acme",
        "--totp-file",
        uri.to_str().unwrap(),
        "--flow",
        "implicit",
    ]);
    let shown = w.kc.ok(&["show", "acme"]);
    let field = |name: &str| {
        shown
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in {shown}"))
            .to_string()
    };
    assert!(
        field("totp").ends_with(" SHA256, 8 digits, 60 s"),
        "{shown}"
    );
    assert!(field("flow").ends_with(" implicit"), "{shown}");
    let json: serde_json::Value =
        serde_json::from_str(&w.kc.ok(&["show", "acme", "--json"])).unwrap();
    assert_eq!(json["totp"]["algorithm"], "SHA256");
}
