//! The audit log's line and anchor format, in one place: every writer of a line (the file
//! log, the shared trail) encodes it here, and every reader (append's tail check, `verify`, the
//! counter scan and its index, the report, `ack`, `fingerprint`, the offline copy) decodes it
//! here. Changing a byte of what is written here breaks the verification of every old log.
//!
//! **A line** is the JSON of [`Record`] (fields in declaration order, empty ones left out)
//! with `,"mac":"<64 hex>"}` put in place of its closing brace: the MAC covers the bytes before
//! it, the line as it was before the MAC was added. Decoding splits the MAC off by position
//! ([`parse_line`]), never by re-serialising, so any edit (even of whitespace) shows.
//!
//! **The anchor file** (`audit.anchor`) holds the anchor (lines so far, hash of the last, its
//! MAC) and the current MAC key, one JSON object, one line ([`checkpoint_text`]).
#![deny(missing_docs)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::event::{Action, Event, Origin, Outcome, clean, clean_ref};
use super::key::{MacKey, hex, line_hash, unhex32};

/// `prev` of the very first line.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A line longer than this is not ours: refuse rather than read a huge file backwards.
pub(crate) const MAX_LINE: u64 = 1 << 20;

/// Length of the `,"mac":"<64 hex>"}` that ends every line.
const MAC_SUFFIX_LEN: usize = 8 + 64 + 2;

/// One line as written, minus `mac` (it is appended after the MAC is computed over these bytes).
#[derive(Serialize)]
pub(crate) struct Record<'a> {
    pub seq: u64,
    pub time: String,
    pub user: std::borrow::Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    pub host: std::borrow::Cow<'a, str>,
    pub pid: u32,
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(flatten)]
    pub action: Action,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fingerprints: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<u64>,
    /// The group key generation whose key MACs the line: only in a shared trail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    pub prev: &'a str,
}

impl<'a> Record<'a> {
    pub(crate) fn new(
        event: &Event,
        origin: &'a Origin,
        time: std::time::SystemTime,
        seq: u64,
        prev: &'a str,
        generation: Option<u64>,
    ) -> Self {
        Record {
            seq,
            time: humantime::format_rfc3339_millis(time).to_string(),
            user: clean_ref(&origin.user),
            uid: origin.uid,
            host: clean_ref(&origin.host),
            pid: origin.pid,
            command: clean(&event.command),
            account: event.account.as_deref().map(clean),
            action: event.action.sanitised(),
            outcome: match &event.outcome {
                Outcome::Ok => Outcome::Ok,
                Outcome::Error(r) => Outcome::Error(clean(r)),
            },
            fingerprints: event
                .fingerprints
                .iter()
                .map(|(k, v)| (clean(k), clean(v)))
                .collect(),
            counter: event.counter,
            generation,
            prev,
        }
    }
}

/// Encodes one line: `record` as JSON, MAC'd by `mac` over those bytes, the MAC put last.
/// Returns the line without its newline and the hash the next line chains to (`prev`).
pub(crate) fn encode_line(
    record: &Record<'_>,
    mac: impl FnOnce(&[u8]) -> String,
) -> serde_json::Result<(Vec<u8>, String)> {
    let mut line = serde_json::to_vec(record)?;
    let mac = mac(&line);
    line.pop(); // the closing brace; the mac goes last so verify can cut it off exactly
    line.extend_from_slice(format!(",\"mac\":\"{mac}\"}}").as_bytes());
    let hash = line_hash(&line);
    Ok((line, hash))
}

#[derive(Deserialize)]
struct CounterView {
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    counter: Option<u64>,
}

/// The account and write counter a line records, if it carries both. Cheap for the lines
/// without a counter (most of them): those are not parsed.
pub(crate) fn counter_of(line: &[u8]) -> Option<(String, u64)> {
    memchr::memmem::find(line, b"\"counter\":")?;
    match serde_json::from_slice::<CounterView>(line).ok()? {
        CounterView {
            account: Some(account),
            counter: Some(counter),
        } => Some((account, counter)),
        _ => None,
    }
}

#[derive(Deserialize)]
struct GenerationView {
    #[serde(default)]
    generation: Option<u64>,
}

/// The group key generation a shared trail's line (its unsigned bytes) was MAC'd under.
pub(crate) fn generation_of(unsigned: &[u8]) -> Option<u64> {
    serde_json::from_slice::<GenerationView>(unsigned)
        .ok()
        .and_then(|v| v.generation)
}
/// A line split into what verification needs. `unsigned` is the exact byte string the MAC
/// covers: the line with its trailing `,"mac":"..."` removed.
pub(crate) struct ParsedLine {
    pub seq: u64,
    pub time: String,
    pub action: String,
    pub prev: String,
    pub mac: String,
    pub unsigned: Vec<u8>,
}

#[derive(Deserialize)]
struct LineView {
    seq: u64,
    time: String,
    action: String,
    prev: String,
}

/// Splits off the MAC by position, not by re-serialising, so the MAC covers the bytes as they
/// are on disk and any edit, even of whitespace, shows.
pub(crate) fn parse_line(line: &[u8]) -> Result<ParsedLine, ()> {
    if line.len() < MAC_SUFFIX_LEN + 2 {
        return Err(());
    }
    let (body, suffix) = line.split_at(line.len() - MAC_SUFFIX_LEN);
    let mac = suffix
        .strip_prefix(b",\"mac\":\"")
        .and_then(|s| s.strip_suffix(b"\"}"))
        .ok_or(())?;
    if !mac.iter().all(|b| b.is_ascii_hexdigit()) {
        return Err(());
    }
    let mut unsigned = body.to_vec();
    unsigned.push(b'}');
    let view: LineView = serde_json::from_slice(&unsigned).map_err(|_| ())?;
    Ok(ParsedLine {
        seq: view.seq,
        time: view.time,
        action: view.action,
        prev: view.prev,
        mac: String::from_utf8_lossy(mac).into_owned(),
        unsigned,
    })
}

/// The anchor file: how many lines the log has had and the hash of the last one, MAC'd under
/// `k_{next_seq}`, so that a holder of only later keys cannot forge an earlier anchor.
#[derive(Serialize, Deserialize)]
pub(crate) struct Anchor {
    pub next_seq: u64,
    pub last_hash: String,
    pub mac: String,
}

pub(crate) struct State {
    pub next_seq: u64,
    pub key: MacKey,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    next_seq: u64,
    key: String,
}

/// The bytes of `audit.anchor`: the anchor MAC'd under `key`, and `key` itself.
pub(crate) fn checkpoint_text(next_seq: u64, last_hash: &str, key: &MacKey) -> Zeroizing<Vec<u8>> {
    let mut checkpoint = Checkpoint {
        next_seq,
        last_hash: last_hash.to_string(),
        mac: key.mac_anchor(next_seq, last_hash),
        key: hex(key.expose()),
    };
    let mut text =
        Zeroizing::new(serde_json::to_vec(&checkpoint).expect("a checkpoint always serialises"));
    text.push(b'\n');
    zeroize::Zeroize::zeroize(&mut checkpoint.key);
    text
}

/// What `audit.anchor` holds: the anchor's fields and the current key.
#[derive(Serialize)]
struct Checkpoint {
    next_seq: u64,
    last_hash: String,
    mac: String,
    key: String,
}

/// The anchor's public fields (the key in the same file is ignored here).
pub(crate) fn parse_anchor(text: &[u8]) -> Result<Anchor, ()> {
    serde_json::from_slice(text).map_err(|_| ())
}

/// The key state kept in the anchor file: the next seq and the current MAC key.
pub(crate) fn parse_state(text: &[u8]) -> Result<State, ()> {
    let file: StateFile = serde_json::from_slice(text).map_err(|_| ())?;
    let key_hex = Zeroizing::new(file.key);
    let mut bytes = unhex32(&key_hex).ok_or(())?;
    let key = MacKey::from_bytes(bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    Ok(State {
        next_seq: file.next_seq,
        key,
    })
}

/// Every field of a line a reader may want, each optional but `seq`: what [`Line`] is
/// decoded from, and what the offline copy reads (it copies whatever a line says).
#[derive(Debug, Deserialize)]
pub struct LineFields {
    /// Position in the whole trail, continued across rotations.
    pub seq: u64,
    /// When it happened, RFC 3339 UTC as written.
    pub time: Option<String>,
    /// OS user that ran the command.
    pub user: Option<String>,
    /// Host name of the machine it ran on.
    pub host: Option<String>,
    /// The command as a person would name it.
    pub command: Option<String>,
    /// The account the event is about.
    pub account: Option<String>,
    /// The action's name ([`Action::name`]).
    pub action: Option<String>,
    /// The action's detail.
    pub detail: Option<String>,
    /// How it ended: `ok` or a failure outcome.
    pub outcome: Option<String>,
    /// Why it failed.
    pub reason: Option<String>,
    /// HMAC fingerprints of values, by field name.
    #[serde(default)]
    pub fingerprints: BTreeMap<String, String>,
}

impl LineFields {
    /// The fields of one line (with or without its newline); `None` when it is not JSON with a
    /// `seq` (or a field of the wrong type).
    pub fn decode(line: &[u8]) -> Option<LineFields> {
        serde_json::from_slice(line).ok()
    }
}

/// One line of the audit log as the report, `ack` and `fingerprint` read it: a line without a
/// time, action or outcome is not one of keychain's and is left to `verify` to report.
#[derive(Debug)]
pub struct Line {
    /// The file the line was read from (the log or a rotated copy).
    pub file: std::path::PathBuf,
    /// The line's number in that file, from 1.
    pub line: u64,
    /// Position in the whole trail, continued across rotations.
    pub seq: u64,
    /// When it happened, RFC 3339 UTC as written.
    pub time: String,
    /// OS user that ran the command.
    pub user: String,
    /// Host name of the machine it ran on.
    pub host: String,
    /// The account the event is about; `None` for the keychain as a whole.
    pub account: Option<String>,
    /// The action's name ([`Action::name`]).
    pub action: String,
    /// The action's detail: a field name, a FINDING-ID, a member's name, ...
    pub detail: Option<String>,
    /// How it ended: `ok` or a failure outcome.
    pub outcome: String,
    /// Why it failed, short and without secrets.
    pub reason: Option<String>,
    /// HMAC fingerprints of values, by field name.
    pub fingerprints: BTreeMap<String, String>,
}

impl Line {
    /// Decodes one line of `file` (line number `line`, from 1); `None` when it is not one.
    pub fn decode(text: &[u8], file: &std::path::Path, line: u64) -> Option<Line> {
        let f = LineFields::decode(text)?;
        Some(Line {
            file: file.to_path_buf(),
            line,
            seq: f.seq,
            time: f.time?,
            user: f.user.unwrap_or_default(),
            host: f.host.unwrap_or_default(),
            account: f.account,
            action: f.action?,
            detail: f.detail,
            outcome: f.outcome?,
            reason: f.reason,
            fingerprints: f.fingerprints,
        })
    }

    /// Unix seconds of the line's time, when it parses.
    pub fn unix(&self) -> Option<i64> {
        humantime::parse_rfc3339(&self.time)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
    }
}
