//! What [`verify`](super::verify) found, as data: the report of one run and each problem,
//! named by position (file, line number, seq, time, action), never by a line's other content.

use std::fmt;
use std::path::PathBuf;

/// The outcome of [`verify`]: what was checked and every problem found, in file order.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// How many files were read.
    pub files: usize,
    /// How many lines they held.
    pub lines: u64,
    /// The seq of the first readable line, if any.
    pub first_seq: Option<u64>,
    /// The seq of the last readable line, if any.
    pub last_seq: Option<u64>,
    /// False when no anchor was given: a truncated tail cannot then be detected.
    pub anchor_checked: bool,
    /// False for [`verify_chain`]: order, hash chain and anchor were checked, MACs were not.
    pub macs_checked: bool,
    /// How many MAC keys were derived: bounded by what the log holds, whatever a line or the
    /// anchor claims.
    pub keys_derived: u64,
    /// Every problem found, in file order; empty for an intact log.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// No problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            write!(
                f,
                "audit log intact: {} in {}",
                crate::text::count(self.lines as usize, "line", "lines"),
                crate::text::count(self.files, "file", "files")
            )?;
            if !self.anchor_checked {
                write!(f, " (no anchor given: a truncated tail would not show)")?;
            }
            return Ok(());
        }
        writeln!(
            f,
            "audit log damaged: {}",
            crate::text::count(self.problems.len(), "problem", "problems")
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// One problem and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The log file (or the anchor) the problem is in.
    pub file: PathBuf,
    /// 1-based line number in `file`; `None` for the anchor itself.
    pub line: Option<u64>,
    /// The line's seq, when it could be read.
    pub seq: Option<u64>,
    /// The line's time as written, when it could be read.
    pub time: Option<String>,
    /// The line's action name, when it could be read (never its detail).
    pub action: Option<String>,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// What is wrong with a line, the order of lines, or the anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// Not an audit record at all (edited beyond parsing, or garbage inserted).
    Unreadable,
    /// The last line has no newline: a torn write or a cut file.
    PartialLine,
    /// The MAC does not match: the line was edited, or forged without the key.
    BadMac,
    /// The first line given is not seq 0: earlier lines or files are missing.
    MissingStart {
        /// The seq the given lines start at.
        first_seq: u64,
    },
    /// Lines are missing before this one.
    Gap {
        /// The seq that should have come.
        expected: u64,
        /// The seq that came.
        found: u64,
    },
    /// This seq came already: lines were reordered, duplicated or replayed.
    OutOfOrder {
        /// The seq that should have come.
        expected: u64,
        /// The seq that came.
        found: u64,
    },
    /// `prev` is not the hash of the line before.
    BrokenChain,
    /// No anchor: the log's end cannot be checked.
    AnchorMissing,
    /// The anchor file was edited or forged.
    AnchorBadMac,
    /// The log ends before the anchor says it does: tail truncated or log rolled back.
    Truncated {
        /// How many lines the anchor records (the seq the next line gets).
        anchor_next: u64,
        /// How many lines the log holds.
        log_next: u64,
    },
    /// The last line is not the one the anchor recorded: it was replaced or rolled back.
    AnchorHashMismatch,
    /// The log has lines the anchor does not know: the anchor was rolled back.
    AheadOfAnchor {
        /// How many lines the anchor records (the seq the next line gets).
        anchor_next: u64,
        /// How many lines the log holds.
        log_next: u64,
    },
    /// A shared event is not the one this machine saw (and kept a copy of) earlier.
    NotAsSeen,
    /// A shared event is MAC'd under a group key generation this machine cannot open.
    NoKey {
        /// The group key generation named by the event.
        generation: u64,
    },
    /// A shared event is MAC'd under a group key generation older than one the trail already
    /// holds before it: a generation `member rm` retired, used by whoever still holds it (the
    /// removed member).
    RetiredGeneration {
        /// The group key generation named by the event.
        generation: u64,
        /// The newer generation an earlier event carries.
        newer: u64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        let mut at = Vec::new();
        if let Some(seq) = self.seq {
            at.push(format!("seq {seq}"));
        }
        if let Some(time) = &self.time {
            at.push(time.clone());
        }
        if let Some(action) = &self.action {
            at.push(action.clone());
        }
        if !at.is_empty() {
            write!(f, " ({})", at.join(", "))?;
        }
        let what = match &self.kind {
            ProblemKind::Unreadable => "not a valid audit record: edited or inserted".to_string(),
            ProblemKind::PartialLine => "ends without a newline: torn write or cut file".into(),
            ProblemKind::BadMac => "MAC does not match: the line was edited or forged".into(),
            ProblemKind::MissingStart { first_seq } => {
                format!(
                    "log starts at seq {first_seq}, not 0: pass all rotated files, oldest first"
                )
            }
            ProblemKind::Gap { expected, found } => {
                format!("seq {found} where {expected} was expected: lines deleted or moved")
            }
            ProblemKind::OutOfOrder { expected, found } => {
                format!("seq {found} where {expected} was expected: lines reordered or duplicated")
            }
            ProblemKind::BrokenChain => {
                "does not chain to the line before: a line was replaced".into()
            }
            ProblemKind::AnchorMissing => "anchor missing: the log's end cannot be checked".into(),
            ProblemKind::AnchorBadMac => "anchor MAC does not match: the anchor was edited".into(),
            ProblemKind::Truncated {
                anchor_next,
                log_next,
            } => format!(
                "log ends after {} but the anchor records {anchor_next}: \
                 the tail was truncated or the log rolled back to an older copy",
                crate::text::count(*log_next as usize, "line", "lines")
            ),
            ProblemKind::AnchorHashMismatch => {
                "last line is not the one the anchor recorded: replaced or rolled back".into()
            }
            ProblemKind::AheadOfAnchor {
                anchor_next,
                log_next,
            } => format!(
                "log has {} but the anchor records only {anchor_next}: \
                 the anchor was rolled back",
                crate::text::count(*log_next as usize, "line", "lines")
            ),
            ProblemKind::NotAsSeen => {
                "is not the event this machine saw there before: replaced or rolled back".into()
            }
            ProblemKind::NoKey { generation } => format!(
                "MAC'd under group key generation {generation}, which this machine cannot open: not checked"
            ),
            ProblemKind::RetiredGeneration { generation, newer } => format!(
                "MAC'd under group key generation {generation}, retired before it (an earlier event is at generation {newer}): appended by a removed member, or someone holding a retired key"
            ),
        };
        write!(f, ": {what}")
    }
}
