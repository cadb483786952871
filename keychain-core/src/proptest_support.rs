//! What the property tests of every parser share: how many cases they run, where proptest keeps
//! the cases that once failed, and a byte mutator for inputs derived from real files.
#![cfg(test)]

use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};

/// `cases` per property, or `PROPTEST_CASES` for a deeper run; failing cases are kept in
/// `tests/regressions/NAME.txt` (commit them: proptest replays them first on every run).
pub fn config(name: &str, cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(Box::leak(
            format!("../tests/regressions/{name}.txt").into_boxed_str(),
        )))),
        ..ProptestConfig::default()
    }
}

/// Applies byte edits: flip, insert, delete, at positions taken modulo the length.
pub fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, kind, value) in edits {
        let len = bytes.len();
        match kind % 3 {
            0 if len > 0 => bytes[at % len] ^= value | 1,
            1 => bytes.insert(at % (len + 1), value),
            _ if len > 0 => {
                bytes.remove(at % len);
            }
            _ => {}
        }
    }
    bytes
}

/// The files of `tests/regressions/` whose names start with `prefix`, sorted: inputs that once
/// broke a parser, replayed on every run. None found is an error, not a silent pass.
pub fn regressions(prefix: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/regressions");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    cases.sort();
    assert!(
        !cases.is_empty(),
        "no regression files {prefix}* in {}",
        dir.display()
    );
    cases
}
