//! The exit codes the documentation lists are the code's (issue 23, point 4, the README side):
//! `docs/exit-codes.md` (one click from the README) holds, between its markers, the list
//! generated from the one table in `keychain-core/src/exit.rs`. This test writes it with
//! `KEYCHAIN_BLESS=1` and otherwise fails on any difference, so a code added, renamed or
//! reworded in the table cannot be missing from the docs (126 and 127 once were).

use std::path::Path;

use keychain_core::exit::{self, Class};

const BEGIN: &str =
    "<!-- exit-codes:begin (generated from keychain-core/src/exit.rs; do not edit) -->";
const END: &str = "<!-- exit-codes:end -->";

/// The one place that reads the table: each documented code, the JSON `"code"`s of the classes
/// that exit with it, and what it means.
fn table() -> Vec<(i32, Vec<&'static str>, &'static str)> {
    exit::STATUSES
        .iter()
        .map(|&exit::ExitStatus { code, meaning }| {
            let mut json: Vec<&str> = Class::ALL
                .iter()
                .filter(|c| c.exit_code() == code)
                .map(|c| c.code())
                .collect();
            json.dedup();
            (code, json, meaning)
        })
        .collect()
}

/// The Markdown list the docs show.
fn render() -> String {
    let mut out = String::from("| code | JSON `\"code\"` | meaning |\n| --- | --- | --- |\n");
    for (code, json, meaning) in table() {
        let json = if json.is_empty() {
            "-".to_string()
        } else {
            json.iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "| {code} | {json} | {} |\n",
            meaning.replace('|', "\\|")
        ));
    }
    out
}

/// Every class's exit code is a documented one, each documented once and in order; 0 and the
/// exec codes are there.
#[test]
fn every_class_exits_with_a_documented_code() {
    let codes: Vec<i32> = exit::STATUSES.iter().map(|s| s.code).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(codes, sorted, "not in order, or a code twice");
    for class in Class::ALL {
        assert!(codes.contains(&class.exit_code()), "{class:?}");
    }
    for code in [exit::OK, exit::FINDINGS, exit::CANNOT_RUN, exit::NO_PROGRAM] {
        assert!(codes.contains(&code), "{code}");
    }
}

/// Issue 23, point 4: the docs' list is the table's.
#[test]
fn the_docs_list_of_exit_codes_is_generated_from_the_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/exit-codes.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let begin = text
        .find(BEGIN)
        .expect("no begin marker in docs/exit-codes.md")
        + BEGIN.len();
    let end = text.find(END).expect("no end marker in docs/exit-codes.md");
    let wanted = format!("\n{}", render());
    if std::env::var_os("KEYCHAIN_BLESS").is_some() {
        let blessed = format!("{}{wanted}{}", &text[..begin], &text[end..]);
        std::fs::write(&path, blessed).unwrap();
        return;
    }
    assert_eq!(
        &text[begin..end],
        wanted,
        "docs/exit-codes.md differs from keychain-core/src/exit.rs: KEYCHAIN_BLESS=1 cargo test --test it docs_exit_codes::"
    );
    // The README points at it.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(readme.contains("(docs/exit-codes.md)"));
}
