//! Property tests for the audit parsers: log lines, the anchor and key state, verification of
//! whole files and the backward counter scan. Random and mutated inputs must give a typed error
//! (or a report), never a panic; inputs are bounded, so time and memory are too.
//! Cases that ever failed live in `tests/regressions/audit-*` and run first.

use proptest::prelude::*;
use secrecy::SecretBox;

use super::format::{parse_anchor, parse_line};
use super::key::AuditKey;
use super::{AuditLog, Event, counter, verify, verify_chain};
use crate::audit::Action;
use crate::proptest_support::{mutate, regressions};

/// A real log of a few lines, its anchor, and the key that verifies it.
fn real_log() -> (tempfile::TempDir, Vec<u8>, Vec<u8>, AuditKey) {
    let dir = tempfile::tempdir().unwrap();
    let key = AuditKey::derive(&SecretBox::new(Box::new([5u8; 32])));
    let log = AuditLog::new(dir.path().join("audit.log"));
    log.init(&key).unwrap();
    for i in 0..3 {
        log.append(
            &Event::new("set", Action::Set("password".into()))
                .account("acme")
                .counter(i),
        )
        .unwrap();
    }
    let text = std::fs::read(log.path()).unwrap();
    let anchor = std::fs::read(log.anchor_path()).unwrap();
    (dir, text, anchor, key)
}

fn check_files(log_bytes: &[u8], anchor_bytes: &[u8], key: &AuditKey) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let anchor = dir.path().join("audit.anchor");
    std::fs::write(&log, log_bytes).unwrap();
    std::fs::write(&anchor, anchor_bytes).unwrap();
    let files = vec![log.clone()];
    let _ = verify(&files, Some(&anchor), key);
    let _ = verify_chain(&files, Some(&anchor));
    let _ = counter::last_counter(&files, "acme");
    // An append on a damaged log must refuse with an error, not panic or write.
    let _ = AuditLog::new(&log).append(&Event::new("x", Action::Init));
}

#[test]
fn regression_lines_and_anchors_give_errors_not_panics() {
    let (_dir, _, _, key) = real_log();
    for case in regressions("audit-line-") {
        let _ = parse_line(&case);
        check_files(&case, b"", &key);
    }
    for case in regressions("audit-anchor-") {
        let _ = parse_anchor(&case);
        let (_dir, text, _, key) = real_log();
        check_files(&text, &case, &key);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_lines_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_line(&bytes);
        let _ = parse_anchor(&bytes);
    }

    #[test]
    fn mutated_real_logs_and_anchors_give_reports_not_panics(
        log_edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..6),
        anchor_edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..4),
    ) {
        let (_dir, text, anchor, key) = real_log();
        let mutated = mutate(text.clone(), &log_edits);
        let anchor = mutate(anchor, &anchor_edits);
        check_files(&mutated, &anchor, &key);
    }

    #[test]
    fn any_edit_of_a_real_log_is_found_by_verify(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        let (dir, text, anchor, key) = real_log();
        let mutated = mutate(text.clone(), &edits);
        prop_assume!(mutated != text);
        let log = dir.path().join("audit.log");
        let anchor_path = dir.path().join("audit.anchor");
        std::fs::write(&log, &mutated).unwrap();
        std::fs::write(&anchor_path, &anchor).unwrap();
        let report = verify(&[log], Some(&anchor_path), &key).unwrap();
        prop_assert!(!report.is_ok());
    }
}
