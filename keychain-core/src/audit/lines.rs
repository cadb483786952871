//! The one reader of the log's lines as data, for the report, `ack` and `fingerprint` (the
//! format is [`super::format`]'s). Reading them is not verifying them (`verify` does that); a
//! line that does not parse is skipped here and reported by `verify`. The log holds no
//! secrets, so nothing read here needs care beyond that.
#![deny(missing_docs)]

use std::io::BufRead;
use std::path::PathBuf;

use super::AuditError;
pub use super::format::{Line, LineFields};

/// The lines of `files` (oldest first) as they are: for the report and `audit --no-key` on a
/// shared keychain (this machine's copy of the trail, whose events were checked when they were
/// added, without bringing it up to date, which needs the group key).
pub fn read_files(files: Vec<PathBuf>) -> Result<Vec<Line>, AuditError> {
    let mut lines = Vec::new();
    for file in files {
        let reader = match std::fs::File::open(&file) {
            Ok(f) => std::io::BufReader::new(f),
            // A machine that has not seen any event of a shared trail yet has no copy.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(AuditError::File {
                    context: format!("cannot read {}", file.display()),
                    source: e,
                });
            }
        };
        for (i, text) in reader.lines().enumerate() {
            let Ok(text) = text else { break };
            if let Some(line) = Line::decode(text.as_bytes(), &file, i as u64 + 1) {
                lines.push(line);
            }
        }
    }
    Ok(lines)
}
