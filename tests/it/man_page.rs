//! The committed man pages must match the clap definition. Regenerate them with
//! `KEYCHAIN_BLESS=1 cargo test --test it man_page::`.

use std::path::Path;

#[test]
fn committed_man_pages_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let bless = std::env::var("KEYCHAIN_BLESS").as_deref() == Ok("1");
    let mut stale = Vec::new();
    for (name, content) in keychain::manpage::render_all() {
        let path = dir.join(&name);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &content).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&content[..]) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale man pages {stale:?}: run KEYCHAIN_BLESS=1 cargo test --test it man_page:: and commit man/"
    );
    let main = std::fs::read_to_string(dir.join("keychain.1")).unwrap();
    assert!(
        main.contains("EXIT STATUS") || main.contains("account not found"),
        "the man page must document the exit codes"
    );
}

fn rendered(page: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("man").join(page);
    let out = std::process::Command::new("man")
        .args(["-l", path.to_str().unwrap()])
        .env("MANWIDTH", "80")
        .env("MAN_KEEP_FORMATTING", "0")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("man (man-db) and groff are needed: run scripts/install-test-deps");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Strip overstrike bold/underline, as col -b would.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut clean = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            clean.pop();
        } else {
            clean.push(c);
        }
    }
    clean
}

/// The lines of one section of a rendered page.
fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| l.trim_end() != title)
        .skip(1)
        // The body is indented; the page's footer (at the end of SEE ALSO) is not part of it.
        .take_while(|l| {
            l.is_empty() || (l.starts_with("       ") && !l.contains(env!("CARGO_PKG_VERSION")))
        })
        .collect()
}

#[test]
fn login_page_shows_its_exit_codes_as_a_table() {
    let text = rendered("keychain-login.1");
    let table = section(&text, "EXIT STATUS");
    assert!(!table.is_empty(), "{text}");
    // Each code starts a row; its text starts in one column, and continuation lines of a
    // wrapped text start in that same column (roff did not reflow the table).
    let column = |l: &str| l.len() - l.trim_start().len();
    let mut text_column = None;
    let mut codes = Vec::new();
    for line in table.iter().filter(|l| !l.trim().is_empty()) {
        let trimmed = line.trim_start();
        let first = trimmed.split_whitespace().next().unwrap();
        if first.chars().all(|c| c.is_ascii_digit()) {
            codes.push(first.to_string());
            let rest = &trimmed[first.len()..];
            let at = column(line) + first.len() + (rest.len() - rest.trim_start().len());
            assert_eq!(
                *text_column.get_or_insert(at),
                at,
                "{line:?}\n{}",
                table.join("\n")
            );
        } else {
            assert_eq!(
                Some(column(line)),
                text_column,
                "{line:?}\n{}",
                table.join("\n")
            );
        }
    }
    assert_eq!(codes, ["0", "2", "3", "4", "5", "6", "7", "8", "141"]);
    assert!(
        section(&text, "JSON OUTPUT")
            .iter()
            .any(|l| l.contains("expires_at"))
    );
}

#[test]
fn synopses_are_true_and_references_exist() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let pages: Vec<String> = keychain::manpage::render_all()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    for page in &pages {
        let text = rendered(page);
        for title in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
            "SEE ALSO",
        ] {
            assert!(
                text.lines().any(|l| l.trim_end() == title),
                "{page} has no {title}"
            );
        }
        assert!(!text.contains("\nEXTRA"), "{page}: an EXTRA section");
        // Words only: roff justifies lines with extra spaces.
        let synopsis = section(&text, "SYNOPSIS")
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            synopsis.trim_start().starts_with("keychain"),
            "{page}: {synopsis}"
        );
        if page != "keychain.1" {
            let command = page.trim_start_matches("keychain-").trim_end_matches(".1");
            assert!(
                synopsis.contains(&format!("keychain {command}")),
                "{page}: {synopsis}"
            );
            assert!(!synopsis.contains("-V"), "{page}: {synopsis}");
            assert!(!synopsis.contains("keychain-"), "{page}: {synopsis}");
        }
        for line in section(&text, "SEE ALSO") {
            for reference in line.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                let name = reference.trim_end_matches("(1)");
                assert!(
                    dir.join(format!("{name}.1")).exists(),
                    "{page} refers to {reference}, which does not exist"
                );
            }
        }
    }
}

#[test]
fn man_install_puts_pages_where_man_finds_them() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("keychain"))
        .args(["man", "--install", tmp.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new("man")
        .args(["-M", tmp.path().to_str().unwrap(), "keychain-status"])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("EXIT STATUS"));
    // The default folder, from HOME, is one man-db searches for ~/.local/bin.
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("keychain"))
        .args(["man", "--install"])
        .env("HOME", home.path())
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        home.path()
            .join(".local/share/man/man1/keychain.1")
            .exists()
    );
}

fn keychain(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("keychain"));
    cmd.args(args).env_remove("KEYCHAIN_FORMAT");
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().unwrap()
}

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The rows of a page's EXIT STATUS table, from its roff: (code, text).
fn exit_rows(roff: &str) -> Vec<(String, String)> {
    let table = roff
        .split(".SH \"EXIT STATUS\"")
        .nth(1)
        .and_then(|rest| rest.split(".TE").next())
        .expect("an EXIT STATUS table");
    table
        .split("T}\n")
        .filter_map(|row| {
            let (code, text) = row.split_once("|T{\n")?;
            let code = code.lines().last()?.to_string();
            Some((code, words(&text.replace("\\-", "-").replace("\\e", "\\"))))
        })
        .collect()
}

/// Issue 23 (4): the exit codes were listed three ways that disagreed (126/127 missing from the
/// man page). `--help`, `keychain help exit-codes` and keychain(1) now list exactly the rows of
/// `keychain_core::exit::STATUSES`, in its words; each command's page lists only codes of the
/// table (exec adds "other", the program's own status); login's long help too.
#[test]
fn every_list_of_exit_codes_is_the_one_table() {
    let table = keychain_core::exit::STATUSES;
    let codes: Vec<String> = table.iter().map(|s| s.code.to_string()).collect();
    assert!(codes.contains(&"126".to_string()) && codes.contains(&"127".to_string()));
    for args in [&["--help"][..], &["help"], &["help", "exit-codes"]] {
        let out = keychain(args, &[]);
        assert!(out.status.success(), "{args:?}");
        let text = words(&String::from_utf8_lossy(&out.stdout));
        for status in table {
            let row = format!("{} {}", status.code, words(status.meaning));
            assert!(
                text.contains(&row),
                "keychain {args:?} lacks {row:?}:\n{text}"
            );
        }
    }
    for (name, content) in keychain::manpage::render_all() {
        let roff = String::from_utf8(content).unwrap();
        let rows = exit_rows(&roff);
        if name == "keychain.1" {
            let listed: Vec<&String> = rows.iter().map(|(code, _)| code).collect();
            assert_eq!(listed, codes.iter().collect::<Vec<_>>(), "{name}");
            for ((_, text), status) in rows.iter().zip(table) {
                assert_eq!(*text, words(status.meaning), "{name}");
            }
        }
        for (code, _) in &rows {
            assert!(
                codes.contains(code) || (code == "other" && name == "keychain-exec.1"),
                "{name} lists exit code {code}, which keychain_core::exit::STATUSES does not have"
            );
        }
    }
    for line in keychain::cli::LOGIN_EXIT_CODES.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        if line.starts_with(|c: char| c == ' ' || c.is_ascii_digit())
            && first.chars().all(|c| c.is_ascii_digit())
            && !first.is_empty()
        {
            assert!(codes.contains(&first.to_string()), "help login: {line}");
        }
    }
}

/// Issue 23 (4): `help audit` said that without the key "the log's integrity" is not checked,
/// while the report still checks the log's order, hash chain and anchor (as the README says).
#[test]
fn help_audit_says_what_no_key_still_checks() {
    let out = keychain(&["help", "audit"], &[]);
    let text = words(&String::from_utf8_lossy(&out.stdout));
    let no_key = text.split("--no-key").nth(1).unwrap_or_default();
    assert!(
        !no_key.contains("log's integrity are then not checked"),
        "{no_key}"
    );
    assert!(
        no_key.contains("hash chain and anchor still are"),
        "{no_key}"
    );
}

/// Issue 23 (5): with `KEYCHAIN_DIR` (or any variable of a flag) set, a usage error's
/// "Usage:" line showed `--dir <DIR>` as if it were required.
#[test]
fn a_variable_does_not_make_its_flag_look_required() {
    let env = [
        ("KEYCHAIN_DIR", "/tmp/some-keychain"),
        ("KEYCHAIN_LOCK_TIMEOUT", "5"),
        ("KEYCHAIN_ON_FAILURE", "true"),
    ];
    for args in [
        &["login"][..],
        &["show"],
        &["totp"],
        &["mv", "a"],
        &["rm"],
        &["exec", "a"],
    ] {
        let out = keychain(args, &env);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let text = String::from_utf8_lossy(&out.stderr);
        let usage = text
            .lines()
            .find(|l| l.starts_with("Usage:"))
            .unwrap_or_else(|| panic!("{args:?}: {text}"));
        for flag in ["--dir", "--lock-timeout", "--on-failure"] {
            assert!(!usage.contains(flag), "{args:?}: {usage}");
        }
    }
}

/// Issue 23 (5): `help cron` was a topic nobody could find. `keychain --help` lists the help
/// topics, and each works.
#[test]
fn help_lists_its_topics_and_each_works() {
    let out = keychain(&["--help"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    for (topic, _, body) in keychain::cli::TOPICS {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("{topic} "))),
            "{topic} is not listed:\n{text}"
        );
        let out = keychain(&["help", topic], &[]);
        assert!(out.status.success(), "help {topic}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim_end(),
            body().trim_end()
        );
    }
    assert!(text.contains("cron"), "{text}");
}

/// Issue 23 (5): no command had examples. Each command's page has an EXAMPLES section with its
/// examples from the one table (`cli::EXAMPLES`), as its `--help` shows them.
#[test]
fn every_page_has_the_commands_examples() {
    for (name, content) in keychain::manpage::render_all() {
        let roff = String::from_utf8(content).unwrap();
        let command = name
            .trim_end_matches(".1")
            .trim_start_matches("keychain")
            .trim_start_matches('-');
        let examples = keychain::cli::examples(command);
        assert!(examples.len() >= 2, "{name}: {examples:?}");
        let section = roff
            .split(".SH EXAMPLES\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{name} has no EXAMPLES"));
        for example in examples {
            let first = example.lines().next().unwrap().replace('-', "\\-");
            assert!(section.contains(&first), "{name}: {first}");
        }
        let help = keychain(&[command, "--help"], &[]);
        if !command.is_empty() {
            assert!(
                String::from_utf8_lossy(&help.stdout).contains("Examples:"),
                "keychain {command} --help"
            );
        }
    }
    // A test-only option is not offered.
    let out = keychain(&["man", "--help"], &[]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("scrypt"));
}

/// Issue 23 (10): `keychain man login` on a terminal printed raw roff. On a terminal (a
/// pseudo-terminal from script(1)) with man on PATH it is rendered by `man -l -`; without man,
/// and off a terminal, it is roff (for scripts and `| man -l -`).
#[test]
fn man_renders_on_a_terminal_and_prints_roff_elsewhere() {
    let bin = assert_cmd::cargo::cargo_bin("keychain");
    let on_terminal = |prefix: &str| {
        let out = std::process::Command::new("script")
            .args([
                "-qec",
                &format!("{prefix} '{}' man login", bin.display()),
                "/dev/null",
            ])
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .env("MANWIDTH", "80")
            .env_remove("KEYCHAIN_FORMAT")
            .output()
            .expect("script(1) from util-linux gives the command a pseudo-terminal");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let rendered = on_terminal("");
    assert!(
        !rendered.contains(".TH") && !rendered.contains("\\fB"),
        "{rendered}"
    );
    assert!(rendered.contains("keychain-login(1)"), "{rendered}");
    // No man to render with: the roff, as before.
    let roff = on_terminal("PATH=/nonexistent");
    assert!(roff.contains(".TH"), "{roff}");
    // Off a terminal: roff, byte for byte the page.
    let out = keychain(&["man", "login"], &[]);
    let page = keychain::manpage::render_all()
        .into_iter()
        .find(|(name, _)| name == "keychain-login.1")
        .unwrap()
        .1;
    assert_eq!(out.stdout, page);
}
