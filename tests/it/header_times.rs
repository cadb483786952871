//! Regression: times in a record's public header are outside input. `list` and `audit --no-key`
//! read headers without the key (nothing checks them before the record is opened), so an edited
//! header with a time past year 9999 or before 1970 made `keychain list --json` panic (exit 101)
//! while formatting it. Every command that reads headers must answer without a panic.

use crate::support;

use support::*;

/// Rewrites every `"created"`, `"updated"` and `"changed"` time of the record's public header.
fn set_header_times(kc: &Kc, name: &str, time: i64) {
    let path = kc.record(name);
    let bytes = std::fs::read(&path).unwrap();
    let split = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
    let end = split + bytes[split..].iter().position(|b| *b == b'\n').unwrap();
    let header = String::from_utf8(bytes[split..end].to_vec()).unwrap();
    let mut edited = String::new();
    let mut rest = header.as_str();
    while let Some(i) = ["\"created\":", "\"updated\":", "\"changed\":"]
        .iter()
        .filter_map(|k| rest.find(k).map(|i| i + k.len()))
        .min()
    {
        edited.push_str(&rest[..i]);
        rest = &rest[i..];
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '-')
            .unwrap();
        edited.push_str(&time.to_string());
        rest = &rest[digits..];
    }
    edited.push_str(rest);
    assert_ne!(edited, header, "the header has times to edit");
    let mut out = bytes[..split].to_vec();
    out.extend_from_slice(edited.as_bytes());
    out.extend_from_slice(&bytes[end..]);
    std::fs::write(&path, out).unwrap();
}

#[test]
fn header_times_far_in_the_future_or_past_never_make_a_command_panic() {
    for time in [300_000_000_000i64, i64::MAX, -300_000_000_000, i64::MIN] {
        let kc = Kc::with_file_store();
        kc.add_account("acme");
        set_header_times(&kc, "acme", time);
        let html = kc.tmp.path().join("r.html");
        for args in [
            vec!["list"],
            vec!["list", "--json"],
            vec!["audit", "--no-key", "--json", "--fail-on", "critical"],
            vec![
                "audit",
                "--no-key",
                "--fail-on",
                "critical",
                "--html",
                html.to_str().unwrap(),
            ],
        ] {
            let out = kc.run(&args);
            assert!(
                out.status.code().is_some_and(|c| c != 101) && !stderr(&out).contains("panicked"),
                "{time}: keychain {args:?} panicked: {}",
                stderr(&out)
            );
        }
        // Opening the record still finds the edit.
        assert_exit(&kc.run(&["show", "acme"]), 7);
    }
}
