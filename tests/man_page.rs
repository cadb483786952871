//! The committed man pages must match the clap definition. Regenerate them with
//! `KEYCHAIN_BLESS=1 cargo test --test man_page`.

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
        "stale man pages {stale:?}: run KEYCHAIN_BLESS=1 cargo test --test man_page and commit man/"
    );
    let main = std::fs::read_to_string(dir.join("keychain.1")).unwrap();
    assert!(
        main.contains("EXIT STATUS") || main.contains("account not found"),
        "the man page must document the exit codes"
    );
}
