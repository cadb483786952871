//! Property tests for the parsers of Invantive settings files: the XML reader with its import
//! and strip, connection strings, and XML attribute decoding. Random and mutated inputs must
//! never panic and must end in a result or a typed error; what is stripped must parse again and
//! hold exactly the secrets not chosen. Inputs are bounded in size.
//!
//! A case that ever fails is kept by proptest in `tests/regressions/` (replayed first on every
//! run); files worth keeping go to `tests/regressions/settings/`, replayed by
//! `regression_corpus_reads_without_panic`.

use std::path::Path;

use proptest::prelude::*;

use super::connstr;
use super::*;
use crate::proptest_support::config;

const FIXTURE: &str = include_str!("../../../tests/data/settings/settings-test.xml");
const SEED: &str = include_str!("../../../tests/data/settings/settings-seed-example.xml");

/// Writes `text` as a settings file and runs everything that reads one: scan, import parsing
/// and, when there are secrets, strip (whose result must parse and hold none of them).
fn check_settings(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings-prop.xml");
    std::fs::write(&path, text).unwrap();
    let scanned = scan_file(&path);
    let read = read_settings(&path);
    match (&scanned, &read) {
        (Ok(findings), Ok(file)) => assert_eq!(findings.len(), file.spots.len()),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("scan and import disagree: {a:?} / {:?}", b.as_ref().err()),
    }
    if let Ok(file) = read {
        let _ = format!("{:?}", file.candidates);
        if !file.spots.is_empty() {
            match strip_spots(&path, &file.text, &file.spots, 1_700_000_000) {
                Ok(_) => assert!(scan_file(&path).unwrap().is_empty()),
                Err(error) => drop(error.to_string()),
            }
        }
    }
}

/// `text` with a few random edits drawn from characters that matter to XML and connection
/// strings, kept valid UTF-8.
fn mutated(text: &'static str) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("<".to_string()),
        Just(">".to_string()),
        Just("&amp;".to_string()),
        Just("&#x27;".to_string()),
        Just("&".to_string()),
        Just(";".to_string()),
        Just("=".to_string()),
        Just(" ".to_string()),
        Just("\r\n".to_string()),
        Just("defaultPassword=\"x\" ".to_string()),
        Just("password=".to_string()),
        "\\PC{1,3}",
    ];
    prop::collection::vec((any::<prop::sample::Index>(), piece, any::<bool>()), 1..6).prop_map(
        move |edits| {
            let mut out = text.to_string();
            for (at, piece, replace) in edits {
                let mut i = at.index(out.len() + 1);
                while !out.is_char_boundary(i) {
                    i -= 1;
                }
                if replace && i < out.len() {
                    let end = out[i..].chars().next().map_or(i, |c| i + c.len_utf8());
                    out.replace_range(i..end, &piece);
                } else {
                    out.insert_str(i, &piece);
                }
            }
            out
        },
    )
}

proptest! {
    #![proptest_config(config("settings", 256))]

    #[test]
    fn any_text_reads_or_fails_cleanly(text in "\\PC{0,400}") {
        check_settings(&text);
    }

    #[test]
    fn mutated_fixtures_read_and_strip_or_fail_cleanly(
        text in prop_oneof![mutated(FIXTURE), mutated(SEED)]
    ) {
        check_settings(&text);
    }

    #[test]
    fn connection_strings_parse_into_spans_inside_the_text(s in "[a-z;= \"'pP]{0,60}") {
        for pair in connstr::parse(&s) {
            assert!(pair.span.start <= pair.span.end && pair.span.end <= s.len());
            assert!(s.is_char_boundary(pair.span.start) && s.is_char_boundary(pair.span.end));
        }
    }

    #[test]
    fn removing_any_pair_leaves_the_others_as_they_were(
        pairs in prop::collection::vec(("[a-z]{1,6}", "[A-Za-z0-9;\" ]{0,8}", any::<bool>()), 1..6),
        quote in any::<bool>(),
    ) {
        // Values with a ';' or a quote are quoted (a doubled quote inside), as a writer would.
        let text: Vec<String> = pairs
            .iter()
            .map(|(k, v, _)| {
                if quote || v.contains(';') || v.contains('"') {
                    format!("{k}=\"{}\"", v.replace('"', "\"\""))
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        let text = text.join(";");
        let parsed = connstr::parse(&text);
        let chosen: Vec<&connstr::Pair<'_>> = parsed
            .iter()
            .zip(&pairs)
            .filter(|(_, (_, _, remove))| *remove)
            .map(|(p, _)| p)
            .collect();
        let mut spans: Vec<std::ops::Range<usize>> = chosen
            .iter()
            .flat_map(|p| connstr::removal_spans(&text, &[*p]))
            .collect();
        spans.sort_by_key(|r| r.start);
        let mut out = text.clone();
        for span in connstr::merge(spans).into_iter().rev() {
            out.replace_range(span, "");
        }
        let kept: Vec<(String, String)> = parsed
            .iter()
            .zip(&pairs)
            .filter(|(_, (_, _, remove))| !*remove)
            .map(|(p, _)| (p.key.to_string(), p.value.clone()))
            .collect();
        let left: Vec<(String, String)> = connstr::parse(&out)
            .into_iter()
            .map(|p| (p.key.to_string(), p.value))
            .collect();
        prop_assert_eq!(left, kept, "{} -> {}", text, out);
    }

    #[test]
    fn attribute_decoding_maps_every_byte_back_into_the_raw_text(raw in "[a-z&#;x0-9\t\r\n ]{0,40}") {
        if let Some((decoded, map)) = connstr::decode_attribute(&raw) {
            prop_assert_eq!(map.len(), decoded.len() + 1);
            prop_assert_eq!(*map.last().unwrap(), raw.len());
            prop_assert!(map.windows(2).all(|w| w[0] <= w[1]));
        }
    }
}

/// Every file kept in `tests/regressions/settings/` goes through scan, import and strip.
#[test]
fn regression_corpus_reads_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/regressions/settings");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        check_settings(&String::from_utf8_lossy(&bytes));
        seen += 1;
    }
    assert!(seen > 0, "the corpus in {} is empty", dir.display());
}
