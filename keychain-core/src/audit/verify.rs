//! Verifying an audit log: every line's MAC under its own evolved key, the seq order, the hash
//! chain across files, and the end of the log against the anchor.
//!
//! A report names positions (file, line number, seq, time, action) and never echoes a line's
//! other content, so it can be shown or mailed without leaking what the log recorded.
#![deny(missing_docs)]

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::AuditError;
use super::format::{GENESIS, MAX_LINE, parse_line};
use super::key::{AuditKey, MacKey, line_hash};
use super::log::{io_err, read_anchor};

/// A line claiming a seq further than this beyond the last trusted line is not evolved to (it
/// would cost that many hashes); it is reported as forged. Only trusted lines move the base, so a
/// forged log cannot make verification slow.
const MAX_SEQ_JUMP: u64 = 1_000_000;

/// Keys are remembered every this many seqs, so a seq that goes backwards (a swap, a replay)
/// costs at most this many hashes instead of a walk from `k_0`.
const CHECKPOINT_EVERY: u64 = 1024;

mod report;

pub use report::{Problem, ProblemKind, VerifyReport};

/// Evolves MAC keys forward from `k_0`, with checkpoints to step back cheaply.
struct KeyCursor {
    steps: u64,
    seq: u64,
    key: MacKey,
    /// `checkpoints[i]` is the key of seq `i * CHECKPOINT_EVERY`.
    checkpoints: Vec<MacKey>,
}

impl KeyCursor {
    fn new(root: &AuditKey) -> Self {
        KeyCursor {
            steps: 0,
            seq: 0,
            key: root.mac_root(),
            checkpoints: vec![root.mac_root()],
        }
    }

    /// The key of `seq`, or `None` when `seq` is more than [`MAX_SEQ_JUMP`] past `trusted`.
    fn at(&mut self, seq: u64, trusted: u64) -> Option<&MacKey> {
        if seq > trusted.saturating_add(MAX_SEQ_JUMP) {
            return None;
        }
        if seq < self.seq {
            let index = (seq / CHECKPOINT_EVERY) as usize;
            self.seq = index as u64 * CHECKPOINT_EVERY;
            self.key = MacKey::from_bytes(*self.checkpoints[index].expose());
        }
        while self.seq < seq {
            self.key = self.key.next();
            self.seq += 1;
            self.steps += 1;
            if self.seq.is_multiple_of(CHECKPOINT_EVERY)
                && self.checkpoints.len() as u64 == self.seq / CHECKPOINT_EVERY
            {
                self.checkpoints
                    .push(MacKey::from_bytes(*self.key.expose()));
            }
        }
        Some(&self.key)
    }
}

/// The last trusted line seen.
struct Last {
    seq: u64,
    hash: String,
    prev: String,
    file: PathBuf,
    line: u64,
    time: String,
    action: String,
}

/// Verifies `files` (oldest first; rotated files then the live log) and, when given, the anchor
/// of the live log. I/O errors are errors; everything wrong with the content is a [`Problem`].
pub fn verify(
    files: &[PathBuf],
    anchor: Option<&Path>,
    key: &AuditKey,
) -> Result<VerifyReport, AuditError> {
    verify_with(files, anchor, Some(key))
}

/// What can be checked without the key: seq order, the hash chain across files, and the end of
/// the log against the anchor's count and hash. Lines rewritten consistently from some point on
/// pass this; only [`verify`] (MACs) catches those.
pub fn verify_chain(files: &[PathBuf], anchor: Option<&Path>) -> Result<VerifyReport, AuditError> {
    verify_with(files, anchor, None)
}

/// The shortest line [`parse_line`] accepts: a bound on how many lines `bytes` can hold.
const MIN_LINE: u64 = 76;

fn verify_with(
    files: &[PathBuf],
    anchor: Option<&Path>,
    key: Option<&AuditKey>,
) -> Result<VerifyReport, AuditError> {
    let mut report = VerifyReport {
        files: files.len(),
        anchor_checked: anchor.is_some(),
        macs_checked: key.is_some(),
        ..VerifyReport::default()
    };
    let mut keys = key.map(KeyCursor::new);
    // Before the first trusted line, the (not yet checked) anchor bounds how far a first line's
    // seq may be: a log verified without its rotated predecessors starts far from 0. The anchor
    // is not trusted yet, so the hint is also bounded by how many lines the files can hold: an
    // edited anchor cannot make verification walk the key chain further than the log is long.
    let mut bytes = 0u64;
    for file in files {
        bytes += std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    }
    let anchor_hint = anchor
        .and_then(|path| read_anchor(path).ok().flatten())
        .map(|a| a.next_seq.min(bytes / MIN_LINE))
        .unwrap_or(0);
    let mut expected: Option<u64> = None;
    // Hash of the line before, when that line was trusted; `None` after a bad line.
    let mut prev_hash: Option<String> = Some(GENESIS.to_string());
    let mut last: Option<Last> = None;

    for file in files {
        let mut reader = BufReader::new(File::open(file).map_err(|e| io_err("open", file, e))?);
        let mut line_no = 0u64;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n =
                read_line_bounded(&mut reader, &mut buf).map_err(|e| io_err("read", file, e))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            let problem = |kind, seq, time: Option<&str>, action: Option<&str>| Problem {
                file: file.clone(),
                line: Some(line_no),
                seq,
                time: time.map(str::to_string),
                action: action.map(str::to_string),
                kind,
            };
            if buf.last() != Some(&b'\n') {
                report
                    .problems
                    .push(problem(ProblemKind::PartialLine, None, None, None));
                prev_hash = None;
                continue;
            }
            buf.pop();
            let Ok(p) = parse_line(&buf) else {
                report
                    .problems
                    .push(problem(ProblemKind::Unreadable, None, None, None));
                prev_hash = None;
                continue;
            };
            let (seq, time, action) = (Some(p.seq), Some(p.time.as_str()), Some(p.action.as_str()));
            let mac_ok = match keys.as_mut() {
                Some(keys) => keys
                    .at(p.seq, expected.unwrap_or(anchor_hint))
                    .is_some_and(|k| k.verify_line(&p.unsigned, &p.mac)),
                None => true,
            };
            if !mac_ok {
                report
                    .problems
                    .push(problem(ProblemKind::BadMac, seq, time, action));
                // The forged or edited line takes its seq's place, if it claims the expected one.
                if expected.is_none_or(|e| e == p.seq) {
                    expected = Some(p.seq + 1);
                }
                prev_hash = None;
                continue;
            }
            let kind = match expected {
                None if p.seq != 0 => Some(ProblemKind::MissingStart { first_seq: p.seq }),
                Some(e) if p.seq > e => Some(ProblemKind::Gap {
                    expected: e,
                    found: p.seq,
                }),
                Some(e) if p.seq < e => Some(ProblemKind::OutOfOrder {
                    expected: e,
                    found: p.seq,
                }),
                _ => match &prev_hash {
                    Some(h) if *h != p.prev => Some(ProblemKind::BrokenChain),
                    _ => None,
                },
            };
            let backwards = matches!(kind, Some(ProblemKind::OutOfOrder { .. }));
            if let Some(kind) = kind {
                report.problems.push(problem(kind, seq, time, action));
            }
            report.lines += 1;
            if backwards {
                // A genuine but misplaced line: do not move the baseline back to it.
                prev_hash = None;
                continue;
            }
            let hash = line_hash(&buf);
            report.first_seq.get_or_insert(p.seq);
            report.last_seq = Some(p.seq);
            expected = Some(p.seq + 1);
            prev_hash = Some(hash.clone());
            last = Some(Last {
                seq: p.seq,
                hash,
                prev: p.prev,
                file: file.clone(),
                line: line_no,
                time: p.time,
                action: p.action,
            });
        }
    }

    if let Some(anchor_path) = anchor {
        check_anchor(anchor_path, keys.as_mut(), last.as_ref(), &mut report)?;
    }
    report.keys_derived = keys.map(|k| k.steps).unwrap_or(0);
    Ok(report)
}

fn check_anchor(
    path: &Path,
    keys: Option<&mut KeyCursor>,
    last: Option<&Last>,
    report: &mut VerifyReport,
) -> Result<(), AuditError> {
    let at_anchor = |kind| Problem {
        file: path.to_path_buf(),
        line: None,
        seq: None,
        time: None,
        action: None,
        kind,
    };
    let at_last = |kind| match last {
        Some(l) => Problem {
            file: l.file.clone(),
            line: Some(l.line),
            seq: Some(l.seq),
            time: Some(l.time.clone()),
            action: Some(l.action.clone()),
            kind,
        },
        None => at_anchor(kind),
    };
    let anchor = match read_anchor(path) {
        Ok(Some(anchor)) => anchor,
        Ok(None) => {
            report.problems.push(at_anchor(ProblemKind::AnchorMissing));
            return Ok(());
        }
        Err(AuditError::Corrupt { .. }) => {
            report.problems.push(at_anchor(ProblemKind::AnchorBadMac));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let trusted = last.map(|l| l.seq + 1).unwrap_or(0);
    let mac_ok = match keys {
        Some(keys) => keys.at(anchor.next_seq, trusted).is_some_and(|k| {
            crate::secret::ct_eq_str(
                &k.mac_anchor(anchor.next_seq, &anchor.last_hash),
                &anchor.mac,
            )
        }),
        None => true,
    };
    if !mac_ok {
        report.problems.push(at_anchor(ProblemKind::AnchorBadMac));
        return Ok(());
    }
    let (log_next, log_hash, log_prev) = match last {
        Some(l) => (l.seq + 1, l.hash.as_str(), Some(l.prev.as_str())),
        None => (0, GENESIS, None),
    };
    if anchor.next_seq > log_next {
        report.problems.push(at_last(ProblemKind::Truncated {
            anchor_next: anchor.next_seq,
            log_next,
        }));
    } else if anchor.next_seq == log_next {
        if anchor.last_hash != log_hash {
            report
                .problems
                .push(at_last(ProblemKind::AnchorHashMismatch));
        }
    } else if !(anchor.next_seq + 1 == log_next && Some(anchor.last_hash.as_str()) == log_prev) {
        // One line ahead with a matching prev is a crash between the line and the anchor
        // write; the next append repairs it. Anything more is a rolled-back anchor.
        report.problems.push(at_last(ProblemKind::AheadOfAnchor {
            anchor_next: anchor.next_seq,
            log_next,
        }));
    }
    Ok(())
}

/// Reads one line (with its newline), refusing lines longer than [`MAX_LINE`] so a garbage file
/// cannot make verify hold gigabytes.
fn read_line_bounded<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut total = 0;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(total);
        }
        let (used, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        // Past the limit, keep counting but stop storing: the line will not parse anyway.
        if (buf.len() as u64) < MAX_LINE {
            buf.extend_from_slice(&available[..used]);
        }
        reader.consume(used);
        total += used;
        if done {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretBox;

    #[test]
    fn key_cursor_steps_back_through_checkpoints_to_the_same_keys() {
        let root = AuditKey::derive(&SecretBox::new(Box::new([9u8; 32])));
        let mut keys = KeyCursor::new(&root);
        for seq in [5000, 10, 3000, 3001, 1024, 0, 4097] {
            let got = *keys.at(seq, 0).unwrap().expose();
            assert_eq!(&got, root.mac_key_at(seq).expose(), "seq {seq}");
        }
        assert_eq!(keys.checkpoints.len(), 5);
        assert!(keys.at(MAX_SEQ_JUMP + 1, 0).is_none());
    }

    /// Regression: an anchor edited to claim 10^12 lines (with a line claiming a seq just
    /// below) made verify derive that many keys, a day of hashing. The walk is now bounded by
    /// what the files can hold. 5·10^6 keeps the pre-fix run to seconds, so this test fails
    /// instead of hanging; the CLI test uses 10^12.
    #[test]
    fn an_anchor_claiming_millions_of_lines_does_not_make_verify_walk_the_key_chain() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.log");
        let anchor = dir.path().join("audit.anchor");
        let claimed = 5_000_000u64;
        std::fs::write(
            &log,
            format!(
                "{{\"seq\":{},\"time\":\"t\",\"action\":\"x\",\"prev\":\"{GENESIS}\",\"mac\":\"{}\"}}\n",
                claimed - 1,
                "0".repeat(64)
            ),
        )
        .unwrap();
        std::fs::write(
            &anchor,
            format!(
                "{{\"next_seq\":{claimed},\"last_hash\":\"{GENESIS}\",\"mac\":\"{}\"}}",
                "0".repeat(64)
            ),
        )
        .unwrap();
        let root = AuditKey::derive(&SecretBox::new(Box::new([9u8; 32])));
        let report = verify(&[log], Some(&anchor), &root).unwrap();
        assert!(!report.is_ok());
        assert!(
            report.keys_derived <= MAX_SEQ_JUMP + 2,
            "derived {} keys",
            report.keys_derived
        );
    }
}
