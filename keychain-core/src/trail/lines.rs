//! The audit log's lines as data: the one reader of the log format that the report, `ack` and
//! `fingerprint` share (the writer is [`crate::audit::Event`]). Reading them is not verifying
//! them (`verify` does that); a line that does not parse is skipped here and reported by
//! `verify`. The log holds no secrets, so nothing read here needs care beyond that.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::trail;

/// One line of the audit log, as written by [`crate::audit::Event`] and the log's chain fields.
#[derive(Debug, Deserialize)]
pub struct Line {
    /// The file the line was read from (the log or a rotated copy).
    #[serde(skip)]
    pub file: PathBuf,
    /// The line's number in that file, from 1.
    #[serde(skip)]
    pub line: u64,
    /// Position in the whole trail, continued across rotations.
    pub seq: u64,
    /// When it happened, RFC 3339 UTC as written.
    pub time: String,
    /// OS user that ran the command.
    #[serde(default)]
    pub user: String,
    /// Host name of the machine it ran on.
    #[serde(default)]
    pub host: String,
    /// The account the event is about; `None` for the keychain as a whole.
    #[serde(default)]
    pub account: Option<String>,
    /// The action's name ([`crate::audit::Action::name`]).
    pub action: String,
    /// The action's detail: a field name, a FINDING-ID, a member's name, ...
    #[serde(default)]
    pub detail: Option<String>,
    /// How it ended: `ok` or a failure outcome.
    pub outcome: String,
    /// Why it failed, short and without secrets.
    #[serde(default)]
    pub reason: Option<String>,
    /// HMAC fingerprints of values, by field name.
    #[serde(default)]
    pub fingerprints: BTreeMap<String, String>,
}

impl Line {
    /// Unix seconds of the line's time, when it parses.
    pub fn unix(&self) -> Option<i64> {
        humantime::parse_rfc3339(&self.time)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
    }
}

impl Line {
    /// The line as the activity analysis reads it; `None` when its time does not parse.
    pub fn trail_event(&self) -> Option<crate::activity::TrailEvent> {
        Some(crate::activity::TrailEvent {
            seq: self.seq,
            time: self.unix()?,
            user: self.user.clone(),
            host: self.host.clone(),
            account: self.account.clone(),
            action: self.action.clone(),
            detail: self.detail.clone(),
            ok: self.outcome == "ok",
        })
    }
}

/// Every parseable line of the log, rotated files first.
pub fn read(kc: &Keychain) -> Result<Vec<Line>> {
    // A shared keychain's trail: this machine's copy, brought up to date first.
    let files = kc.trail()?.files().map_err(trail::audit_error)?;
    read_files(files)
}

/// The lines of `files` as they are (for `audit --no-key` on a shared keychain: this machine's
/// copy of the trail, whose events were checked when they were added, without bringing it up to
/// date, which needs the group key).
pub fn read_files(files: Vec<std::path::PathBuf>) -> Result<Vec<Line>> {
    let mut lines = Vec::new();
    for file in files {
        let reader = match std::fs::File::open(&file) {
            Ok(f) => std::io::BufReader::new(f),
            // A machine that has not seen any event of a shared trail yet has no copy.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(format!("cannot read {}", file.display()), e)),
        };
        for (i, text) in reader.lines().enumerate() {
            let Ok(text) = text else { break };
            if let Ok(mut line) = serde_json::from_str::<Line>(&text) {
                line.file = file.clone();
                line.line = i as u64 + 1;
                lines.push(line);
            }
        }
    }
    Ok(lines)
}
