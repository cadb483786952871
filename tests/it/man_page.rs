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
