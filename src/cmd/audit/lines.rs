//! The audit log's lines as data, for the report and `fingerprint`. Reading them is not
//! verifying them (`verify` does that); a line that does not parse is skipped here and reported
//! by `verify`. The log holds no secrets, so nothing read here needs care beyond that.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::trail;

#[derive(Debug, Deserialize)]
pub struct Line {
    #[serde(skip)]
    pub file: PathBuf,
    #[serde(skip)]
    pub line: u64,
    pub seq: u64,
    pub time: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub account: Option<String>,
    pub action: String,
    #[serde(default)]
    pub detail: Option<String>,
    pub outcome: String,
    #[serde(default)]
    pub reason: Option<String>,
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
    let mut lines = Vec::new();
    for file in files {
        let reader = std::fs::File::open(&file)
            .map(std::io::BufReader::new)
            .map_err(|e| Error::io(format!("cannot read {}", file.display()), e))?;
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
