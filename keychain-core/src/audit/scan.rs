//! Finding, importing and removing plain-text secrets in Invantive `settings*.xml` files and in
//! similar `key=value;` connection strings elsewhere.
//!
//! A [`Finding`] holds where a secret is and nothing of its value (not even a part: a
//! password's last characters are often the guessable part), so a scan report can be shown,
//! logged or mailed.
//! Secrets parsed for import go straight into `SecretString`. XML is parsed with `roxmltree`
//! with DTDs refused: no external entity is ever fetched or read, and a "billion laughs" file is
//! rejected at its `<!DOCTYPE` before any expansion (roxmltree also bounds expansion depth and
//! count when DTDs are allowed; we do not allow them). Input files are capped in size and read
//! without blocking (regular files only).
//!
//! For import, every secret is kept with its [`Spot`] (line, key, the bytes that remove it), so
//! that a strip can cut exactly the values the keychain was found to hold and leave the rest.
#![deny(missing_docs)]

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use zeroize::Zeroizing;

use super::connstr;
use crate::fsutil::{mode_of, parent_of, private_options, sync_dir, write_atomic_unique};
use crate::record::SecretField;

/// Keys whose values are secrets inside connection strings (compared case-insensitively).
const SECRET_KEYS: &[&str] = &[
    "password",
    "api-client-secret",
    "api-refresh-token",
    "totp-secret",
];

/// Also flagged in non-settings text files, where the attribute may appear as plain text.
const TEXT_EXTRA_KEYS: &[&str] = &["defaultpassword", "pwd"];

/// Extensions (lower case) scanned as text when recursing into folders.
const TEXT_EXTENSIONS: &[&str] = &["config", "ini", "txt", "xml"];

/// Larger files are refused: settings files are kilobytes, and a bound keeps a scan of a share
/// from reading a stray multi-gigabyte file into memory.
const MAX_FILE: u64 = 16 << 20;

/// More XML nodes than this is not a settings file.
const MAX_NODES: u32 = 1_000_000;

/// Marks backups written by [`strip_secrets`]; such files are scanned too (they hold secrets).
const BACKUP_MARK: &str = ".keychain-backup-";

/// One plain-text secret: where it is, never any of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file the secret is in.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The attribute or connection-string key, as written in the file.
    pub key: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // File names and keys come from the scanned folder: escaped, one finding per line.
        let file = self.file.display().to_string();
        write!(
            f,
            "{}:{}: {}",
            crate::text::escape_value(&file),
            self.line,
            crate::text::escape_value(&self.key)
        )
    }
}

/// One `<database>` of a settings file that carries secrets, ready to become an account.
#[derive(Debug)]
pub struct ImportCandidate {
    /// The settings file it was read from.
    pub file: PathBuf,
    /// Line of the `<database>` (or `<connection>`) element.
    pub line: usize,
    /// Suggested account name: `group-connection-alias`, slugified.
    pub name: String,
    /// The Invantive group's name (`<group name=...>`), if any.
    pub group: Option<String>,
    /// The connection's name (`<connection name=...>`), if any.
    pub connection: Option<String>,
    /// The database's alias (`<database alias=...>`), if any.
    pub alias: Option<String>,
    /// Invantive's data provider (`provider` attribute), e.g. `ExactOnlineAll`.
    pub data_provider: Option<String>,
    /// keychain's provider: `exact-nl`, `exact-be`, ... or `oauth2` for any other `api-url`;
    /// `None` without an `api-url` (ask the user).
    pub provider: Option<crate::providers::ProviderKind>,
    /// The `api-url` as written: the provider's API, from which `provider` was derived.
    pub api_url: Option<String>,
    /// The OAuth2 client id (`api-client-id`).
    pub client_id: Option<String>,
    /// The OAuth2 redirect URI (`api-redirect-url`).
    pub redirect_url: Option<String>,
    /// The user name to log on with.
    pub user: Option<String>,
    /// The password, a secret from the moment it is parsed.
    pub password: Option<SecretString>,
    /// The TOTP seed (`totp-secret`), as written (base32 or a URI).
    pub totp_secret: Option<SecretString>,
    /// The OAuth2 client secret (`api-client-secret`).
    pub client_secret: Option<SecretString>,
    /// A refresh token (`api-refresh-token`); single-use at Exact Online, so one the file
    /// still holds may already be spent.
    pub refresh_token: Option<SecretString>,
    /// Where each secret above was taken from, so that `--strip` can remove exactly the values
    /// found in the keychain afterwards.
    pub spots: Vec<(SecretField, Spot)>,
}

/// A settings file as read for import: its text (which holds the secrets, so it is wiped when
/// dropped), the accounts it describes, and every plain-text secret in it.
pub struct SettingsFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its whole text, wiped when dropped; [`Spot::cut`] ranges index into it.
    pub text: Zeroizing<String>,
    /// One per `<database>` that carries secrets.
    pub candidates: Vec<ImportCandidate>,
    /// Every secret of the file (also those no candidate took, such as an overridden
    /// connection-level password or a `<credentials>` password), sorted by position.
    pub spots: Vec<Spot>,
}

/// What can go wrong while scanning or rewriting. Never carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A file or folder could not be read or written.
    #[error("could not {what} {}: {source}", path.display())]
    Io {
        /// What keychain was doing ("read", "list", "rewrite", ...).
        what: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is not well-formed XML.
    #[error("{}:{line}:{column}: not well-formed XML ({message})", file.display())]
    Xml {
        /// The file.
        file: PathBuf,
        /// 1-based line of the fault.
        line: u32,
        /// 1-based column of the fault.
        column: u32,
        /// The parser's message, without its position.
        message: String,
    },
    #[error("{}:{line}: the file has a DTD (<!DOCTYPE ...>), which settings files never have; keychain refuses it because DTD entities can read other files or expand without bound", file.display())]
    /// The file has a DTD; refused before any entity is expanded or fetched.
    Dtd {
        /// The file.
        file: PathBuf,
        /// 1-based line of the `<!DOCTYPE`.
        line: u32,
    },
    #[error("{} is not UTF-8 text", file.display())]
    /// The file is not UTF-8 text.
    NotUtf8 {
        /// The file.
        file: PathBuf,
    },
    #[error("{} is larger than {limit} bytes, too large for a settings file", file.display())]
    /// The file is over the size cap; it was not read.
    TooLarge {
        /// The file.
        file: PathBuf,
        /// The cap, in bytes.
        limit: u64,
    },
    #[error("{} holds no plain-text secret to strip", file.display())]
    /// A strip with no secret to remove.
    NothingToStrip {
        /// The file.
        file: PathBuf,
    },
    #[error("{}:{line}: a connectionString uses an escape keychain cannot map back to the file", file.display())]
    /// A `connectionString` whose escaping keychain cannot map back to bytes of the file, so
    /// it cannot cut a value out of it exactly.
    UnsupportedEscaping {
        /// The file.
        file: PathBuf,
        /// 1-based line of the attribute.
        line: usize,
    },
    #[error("{}: stripping would remove more or less than the values chosen; the file was not changed", file.display())]
    /// The strip, checked before writing, would not remove exactly the values chosen; nothing
    /// was written.
    StripIncomplete {
        /// The file.
        file: PathBuf,
    },
    #[error("{} changed while it was being imported; the file was not stripped", file.display())]
    /// The file changed between the import's read and the strip; it was left as it is.
    ChangedMeanwhile {
        /// The file.
        file: PathBuf,
    },
}

impl ScanError {
    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            ScanError::Io { .. } | ScanError::NothingToStrip { .. } => return None,
            ScanError::Xml { .. } => {
                "fix the file (an Invantive tool can rewrite it) and scan again"
            }
            ScanError::Dtd { .. } => "remove the DTD and scan again",
            ScanError::NotUtf8 { .. } => "save it as UTF-8 and scan again",
            ScanError::TooLarge { .. } => "check that it is the right file",
            ScanError::UnsupportedEscaping { .. } | ScanError::StripIncomplete { .. } => {
                "remove the secrets from the file by hand"
            }
            ScanError::ChangedMeanwhile { .. } => "run the import again",
        })
    }
}

/// A scan's failure as the keychain's error: a file that cannot be read is an I/O error (its
/// exit code), anything about the content is bad input (exit 2) with the scan's hint.
impl From<ScanError> for crate::error::Error {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Io { what, path, source } => {
                crate::error::Error::io(format!("could not {what} {}", path.display()), source)
            }
            other => match other.hint() {
                Some(hint) => crate::error::Error::usage_hint(other.to_string(), hint),
                None => crate::error::Error::usage(other.to_string()),
            },
        }
    }
}

/// Scans files and folders (recursively: `settings*.xml` and `.config`, `.ini`, `.txt`, `.xml`
/// files, plus keychain's own backups). A file named explicitly is scanned whatever its name.
/// Symbolic links inside folders are not followed, so a link loop cannot hang the scan.
/// Stops at the first malformed settings file, naming it.
pub fn scan_paths(paths: &[PathBuf]) -> Result<Vec<Finding>, ScanError> {
    let mut findings = Vec::new();
    walk(paths, &mut findings, &mut Err)?;
    Ok(findings)
}

/// As [`scan_paths`], but goes on past a file that cannot be read or parsed and returns those
/// errors beside the findings: one malformed or hostile file must not hide the secrets in the
/// files after it.
pub fn scan_paths_all(paths: &[PathBuf]) -> (Vec<Finding>, Vec<ScanError>) {
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    let _ = walk(paths, &mut findings, &mut |e| {
        errors.push(e);
        Ok(())
    });
    (findings, errors)
}

/// What to do with a file or folder that cannot be scanned: `Err` stops the walk.
type OnError<'a> = dyn FnMut(ScanError) -> Result<(), ScanError> + 'a;

fn walk(
    paths: &[PathBuf],
    findings: &mut Vec<Finding>,
    on_error: &mut OnError<'_>,
) -> Result<(), ScanError> {
    for path in paths {
        match fs::metadata(path) {
            Err(e) => on_error(io_err("read", path, e))?,
            Ok(meta) if meta.is_dir() => scan_dir(path, findings, on_error)?,
            Ok(_) => match scan_file(path) {
                Ok(found) => findings.extend(found),
                Err(e) => on_error(e)?,
            },
        }
    }
    Ok(())
}

/// Scans one file: as an Invantive settings file if named `settings*.xml`, else as text.
pub fn scan_file(path: &Path) -> Result<Vec<Finding>, ScanError> {
    let text = read_text(path)?;
    if is_settings_name(path) {
        let doc = parse_xml(path, &text)?;
        settings_findings(path, &doc)
    } else {
        Ok(text_findings(path, &text))
    }
}

fn scan_dir(
    dir: &Path,
    findings: &mut Vec<Finding>,
    on_error: &mut OnError<'_>,
) -> Result<(), ScanError> {
    let entries: Result<Vec<PathBuf>, _> =
        fs::read_dir(dir).and_then(|entries| entries.map(|e| e.map(|e| e.path())).collect());
    let mut entries = match entries {
        Ok(entries) => entries,
        Err(e) => return on_error(io_err("list", dir, e)),
    };
    entries.sort();
    for path in entries {
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) => {
                on_error(io_err("read", &path, e))?;
                continue;
            }
        };
        if meta.is_dir() {
            scan_dir(&path, findings, on_error)?;
        } else if meta.is_file() && wanted_in_folder(&path) {
            match scan_file(&path) {
                Ok(found) => findings.extend(found),
                Err(e) => on_error(e)?,
            }
        }
    }
    Ok(())
}

/// Whether `keychain import` reads this file: an Invantive settings file (`settings*.xml`),
/// the only kind scanned element by element. A secret found in any other file (a `.config`,
/// `.ini`, `.txt` or plain `.xml`) was found by its text and must be moved by hand.
pub fn importable(path: &Path) -> bool {
    is_settings_name(path)
}

fn is_settings_name(path: &Path) -> bool {
    let name = file_name(path).to_ascii_lowercase();
    name.starts_with("settings") && name.ends_with(".xml")
}

fn wanted_in_folder(path: &Path) -> bool {
    let name = file_name(path).to_ascii_lowercase();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    is_settings_name(path) || TEXT_EXTENSIONS.contains(&ext.as_str()) || name.contains(BACKUP_MARK)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_text(path: &Path) -> Result<String, ScanError> {
    // Non-blocking and regular files only: a FIFO named settings.xml must not hang a scan.
    let bytes = crate::fsutil::read_regular(path, MAX_FILE).map_err(|e| match e.kind() {
        io::ErrorKind::FileTooLarge => ScanError::TooLarge {
            file: path.to_path_buf(),
            limit: MAX_FILE,
        },
        _ => io_err("read", path, e),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        drop(Zeroizing::new(e.into_bytes()));
        ScanError::NotUtf8 {
            file: path.to_path_buf(),
        }
    })
}

fn parse_xml<'a>(path: &Path, text: &'a str) -> Result<roxmltree::Document<'a>, ScanError> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, options).map_err(|e| {
        let pos = e.pos();
        match e {
            roxmltree::Error::DtdDetected => ScanError::Dtd {
                file: path.to_path_buf(),
                line: dtd_line(text),
            },
            other => ScanError::Xml {
                file: path.to_path_buf(),
                line: pos.row,
                column: pos.col,
                message: xml_message(&other),
            },
        }
    })
}

/// roxmltree reports a DTD at 1:1; the line of `<!DOCTYPE` is more use to a person.
fn dtd_line(text: &str) -> u32 {
    text.find("<!DOCTYPE")
        .map(|at| text[..at].matches('\n').count() as u32 + 1)
        .unwrap_or(1)
}

/// The parser's message without its own position suffix (we print the position ourselves).
fn xml_message(e: &roxmltree::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at ") {
        Some(at)
            if text[at + 4..]
                .chars()
                .all(|c| c.is_ascii_digit() || c == ':') =>
        {
            text[..at].to_string()
        }
        _ => text,
    }
}

fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

fn local_is(name: &str, want: &str) -> bool {
    name.eq_ignore_ascii_case(want)
}

/// Where one plain-text secret sits in a settings file: its line, the attribute or connection-
/// string key as written, and the bytes whose removal takes it out (an attribute with the space
/// before it; a pair with one separator). Never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spot {
    /// 1-based line.
    pub line: usize,
    /// The attribute or connection-string key, as written in the file.
    pub key: String,
    /// The byte range of the file's text whose removal takes the secret out.
    pub cut: Range<usize>,
}

/// One secret of one element: where it is and its decoded value.
struct ElementSecret {
    spot: Spot,
    /// `true` for a pair of the `connectionString`, `false` for an attribute of its own.
    in_connection_string: bool,
    value: SecretString,
}

/// The secrets of one element: its `defaultPassword` and the secret pairs of its
/// `connectionString` (attributes of its own only, never of its children).
fn element_secrets(
    path: &Path,
    doc: &roxmltree::Document<'_>,
    node: roxmltree::Node<'_, '_>,
) -> Result<Vec<ElementSecret>, ScanError> {
    let text = doc.input_text();
    let line_at = |offset: usize| doc.text_pos_at(offset).row as usize;
    let mut secrets = Vec::new();
    for attr in node.attributes() {
        if local_is(attr.name(), "defaultPassword") {
            if attr.value().is_empty() {
                continue;
            }
            // Take the whitespace before the attribute along, so the tag stays tidy.
            let range = attr.range();
            let mut start = range.start;
            while start > 0 && text.as_bytes()[start - 1].is_ascii_whitespace() {
                start -= 1;
            }
            secrets.push(ElementSecret {
                spot: Spot {
                    line: line_at(range.start),
                    key: attr.name().to_string(),
                    cut: start..range.end,
                },
                in_connection_string: false,
                value: SecretString::from(attr.value().to_string()),
            });
        } else if local_is(attr.name(), "connectionString") {
            // Pairs are found in the decoded value and cut from the raw bytes through an
            // offset map, so escapes elsewhere in the attribute stay exactly as written.
            let raw_range = attr.range_value();
            let raw = &text[raw_range.clone()];
            let line = line_at(attr.range().start);
            let unsupported = || ScanError::UnsupportedEscaping {
                file: path.to_path_buf(),
                line,
            };
            let (decoded, map) = connstr::decode_attribute(raw).ok_or_else(unsupported)?;
            if decoded != attr.value() {
                return Err(unsupported());
            }
            let pairs = connstr::parse(&decoded);
            for pair in pairs
                .iter()
                .filter(|p| is_secret_key(p.key) && !p.value.is_empty())
            {
                let raw_start = raw_range.start + map[pair.span.start];
                // One pair's own cut; cuts of neighbouring pairs may overlap and are merged.
                for cut in connstr::removal_spans(&decoded, &[pair]) {
                    secrets.push(ElementSecret {
                        spot: Spot {
                            line: line_at(raw_start),
                            key: pair.key.to_string(),
                            cut: raw_range.start + map[cut.start]..raw_range.start + map[cut.end],
                        },
                        in_connection_string: true,
                        value: SecretString::from(pair.value.clone()),
                    });
                }
            }
        }
    }
    Ok(secrets)
}

/// Every secret of a settings document, in document order.
fn document_secrets(
    path: &Path,
    doc: &roxmltree::Document<'_>,
) -> Result<Vec<ElementSecret>, ScanError> {
    let mut secrets = Vec::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        secrets.extend(element_secrets(path, doc, node)?);
    }
    Ok(secrets)
}

/// The findings of a settings document.
fn settings_findings(
    path: &Path,
    doc: &roxmltree::Document<'_>,
) -> Result<Vec<Finding>, ScanError> {
    Ok(document_secrets(path, doc)?
        .iter()
        .map(|s| finding(path, s.spot.line, &s.spot.key))
        .collect())
}

fn finding(path: &Path, line: usize, key: &str) -> Finding {
    Finding {
        file: path.to_path_buf(),
        line,
        key: key.to_string(),
    }
}

/// Finds `key=value` secrets line by line in any text (connection strings in `.config`, `.ini`,
/// plain `.xml`...). Heuristic by nature: it looks for a known key right before an `=`.
fn text_findings(path: &Path, text: &str) -> Vec<Finding> {
    let decode = path
        .extension()
        .map(|e| {
            let e = e.to_string_lossy().to_ascii_lowercase();
            e == "xml" || e == "config"
        })
        .unwrap_or(false)
        || file_name(path).contains(BACKUP_MARK);
    let mut findings = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bytes = line.as_bytes();
        for (eq, _) in line.match_indices('=') {
            let mut key_end = eq;
            while key_end > 0 && bytes[key_end - 1] == b' ' {
                key_end -= 1;
            }
            let mut key_start = key_end;
            while key_start > 0
                && (bytes[key_start - 1].is_ascii_alphanumeric()
                    || bytes[key_start - 1] == b'-'
                    || bytes[key_start - 1] == b'_')
            {
                key_start -= 1;
            }
            let key = &line[key_start..key_end];
            let known =
                is_secret_key(key) || TEXT_EXTRA_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key));
            if !known {
                continue;
            }
            let Some(value) = text_value(&line[eq + 1..], decode) else {
                continue;
            };
            let value = if decode {
                connstr::unescape_lossy(value)
            } else {
                value.to_string()
            };
            if value.is_empty() || value.chars().all(|c| c == '*') {
                continue;
            }
            findings.push(finding(path, n + 1, key));
        }
    }
    findings
}

/// The value after `=`: quoted, or up to `;`, a quote, `<` or the end of the line. In XML-ish
/// files an entity such as `&amp;` is one character (its `;` ends nothing) and `&quot;` quotes.
fn text_value(rest: &str, xml: bool) -> Option<&str> {
    let rest = rest.trim_start_matches(' ');
    let first = rest.chars().next()?;
    if first == '"' || first == '\'' {
        let inner = &rest[1..];
        return Some(&inner[..inner.find(first).unwrap_or(inner.len())]);
    }
    if xml && let Some(inner) = rest.strip_prefix("&quot;") {
        return Some(&inner[..inner.find("&quot;").unwrap_or(inner.len())]);
    }
    let bytes = rest.as_bytes();
    let mut end = 0;
    while end < bytes.len() {
        match bytes[end] {
            b';' | b'"' | b'\'' | b'<' => break,
            b'&' if xml => match entity_len(&rest[end..]) {
                Some(len) => end += len,
                None => end += 1,
            },
            _ => end += 1,
        }
    }
    Some(rest[..end].trim_end())
}

/// Length of an entity reference (`&amp;`, `&#x27;`) at the start of `text`.
fn entity_len(text: &str) -> Option<usize> {
    let semi = text.find(';').filter(|&i| i > 1 && i < 12)?;
    text[1..semi]
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '#')
        .then_some(semi + 1)
}

/// Reads an Invantive settings file into import candidates: one per `<database>` that carries
/// a secret (its own or its connection's).
pub fn parse_settings(path: &Path) -> Result<Vec<ImportCandidate>, ScanError> {
    Ok(read_settings(path)?.candidates)
}

/// Which attribute or connection-string key holds each secret field (compared
/// case-insensitively). Invantive allows `defaultUserLogonCode` and `defaultPassword` on both
/// `<connection>` and `<database>`; its documented "background provider" setup for Exact
/// Online puts them on `<database>`, beside the `connectionString`.
const FIELD_KEYS: &[(SecretField, &str, bool)] = &[
    // (field, key, true = a connection-string pair; false = an attribute)
    (SecretField::Password, "password", true),
    (SecretField::Password, "defaultPassword", false),
    (SecretField::TotpSecret, "totp-secret", true),
    (SecretField::ClientSecret, "api-client-secret", true),
    (SecretField::RefreshToken, "api-refresh-token", true),
];

/// Reads a settings file for import. For each `<database>` (or a `<connection>` without any),
/// every value is looked up on the `<database>` first and on its `<connection>` second, the
/// `<database>` winning: the logon code (`defaultUserLogonCode`), the password (a `password`
/// pair, then `defaultPassword`), the connection-string pairs (`api-url`, `api-client-id`,
/// `api-redirect-url`, `totp-secret`, `api-client-secret`, `api-refresh-token`). Within one
/// connection string the last pair of a key wins, as in a driver.
pub fn read_settings(path: &Path) -> Result<SettingsFile, ScanError> {
    let text = Zeroizing::new(read_text(path)?);
    let doc = parse_xml(path, &text)?;
    let mut spots: Vec<Spot> = document_secrets(path, &doc)?
        .into_iter()
        .map(|s| s.spot)
        .collect();
    spots.sort_by_key(|s| (s.cut.start, s.cut.end));
    let mut candidates: Vec<ImportCandidate> = Vec::new();
    for conn in doc
        .descendants()
        .filter(|n| n.is_element() && local_is(n.tag_name().name(), "connection"))
    {
        let group = conn
            .ancestors()
            .find(|n| n.is_element() && local_is(n.tag_name().name(), "group"))
            .and_then(|g| attr(g, "name"));
        let databases: Vec<_> = conn
            .descendants()
            .filter(|n| n.is_element() && local_is(n.tag_name().name(), "database"))
            .collect();
        // A connection with a password but no <database> still yields one candidate.
        let sources: Vec<Option<roxmltree::Node<'_, '_>>> = if databases.is_empty() {
            vec![None]
        } else {
            databases.into_iter().map(Some).collect()
        };
        let conn_secrets = element_secrets(path, &doc, conn)?;
        let conn_pairs_text = attr(conn, "connectionString").unwrap_or_default();
        let conn_pairs = connstr::parse(&conn_pairs_text);
        for db in sources {
            let db_secrets = match db {
                Some(d) => element_secrets(path, &doc, d)?,
                None => Vec::new(),
            };
            let db_pairs_text = db
                .and_then(|d| attr(d, "connectionString"))
                .unwrap_or_default();
            let db_pairs = connstr::parse(&db_pairs_text);
            // A plain (non-secret) connection-string value, the <database>'s winning.
            let get = |key: &str| {
                [&db_pairs, &conn_pairs].into_iter().find_map(|pairs| {
                    pairs
                        .iter()
                        .rev()
                        .find(|p| p.key.eq_ignore_ascii_case(key) && !p.value.is_empty())
                        .map(|p| p.value.clone())
                })
            };
            // A secret, with the spot it came from.
            let secret = |field: SecretField| -> Option<(&ElementSecret, SecretField)> {
                [&db_secrets, &conn_secrets]
                    .into_iter()
                    .find_map(|secrets| {
                        FIELD_KEYS.iter().filter(|(f, _, _)| *f == field).find_map(
                            |(_, key, in_cs)| {
                                secrets.iter().rev().find(|s| {
                                    s.in_connection_string == *in_cs
                                        && s.spot.key.eq_ignore_ascii_case(key)
                                })
                            },
                        )
                    })
                    .map(|s| (s, field))
            };
            let found: Vec<(&ElementSecret, SecretField)> = [
                SecretField::Password,
                SecretField::TotpSecret,
                SecretField::ClientSecret,
                SecretField::RefreshToken,
            ]
            .into_iter()
            .filter_map(secret)
            .collect();
            if found.is_empty() {
                continue;
            }
            let value = |field: SecretField| {
                found
                    .iter()
                    .find(|(_, f)| *f == field)
                    .map(|(s, _)| s.value.clone())
            };
            let connection = attr(conn, "name");
            let alias = db.and_then(|d| attr(d, "alias"));
            let api_url = get("api-url");
            let base = slugify(&[
                group.as_deref().unwrap_or(""),
                connection.as_deref().unwrap_or(""),
                alias.as_deref().unwrap_or(""),
            ]);
            let base = if base.is_empty() {
                "imported".to_string()
            } else {
                base
            };
            let name = unique_name(&base, &candidates);
            let node = db.unwrap_or(conn);
            candidates.push(ImportCandidate {
                file: path.to_path_buf(),
                line: doc.text_pos_at(node.range().start).row as usize,
                name,
                group: group.clone(),
                connection,
                alias,
                data_provider: db.and_then(|d| attr(d, "provider")),
                provider: api_url.as_deref().map(crate::providers::for_api_url),
                api_url,
                client_id: get("api-client-id"),
                redirect_url: get("api-redirect-url"),
                user: db
                    .and_then(|d| attr(d, "defaultUserLogonCode"))
                    .or_else(|| attr(conn, "defaultUserLogonCode")),
                password: value(SecretField::Password),
                totp_secret: value(SecretField::TotpSecret),
                client_secret: value(SecretField::ClientSecret),
                refresh_token: value(SecretField::RefreshToken),
                spots: found
                    .iter()
                    .map(|(s, field)| (*field, s.spot.clone()))
                    .collect(),
            });
        }
    }
    Ok(SettingsFile {
        path: path.to_path_buf(),
        candidates,
        spots,
        text,
    })
}

fn attr(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    node.attributes()
        .find(|a| local_is(a.name(), name))
        .map(|a| a.value().to_string())
        .filter(|v| !v.is_empty())
}

fn unique_name(base: &str, taken: &[ImportCandidate]) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while taken.iter().any(|c| c.name == name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// Lower-case ASCII letters and digits joined by single dashes: `Exact Online NL` → `exact-online-nl`.
pub fn slugify(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        for c in part.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Rewrites a settings file without any of its plain-text secrets (see [`strip_spots`]).
pub fn strip_secrets(path: &Path, now: i64) -> Result<PathBuf, ScanError> {
    let file = read_settings(path)?;
    let cuts: Vec<Spot> = file.spots.clone();
    strip_spots(path, &file.text, &cuts, now)
}

/// Rewrites a settings file without the secrets at `spots` (found by [`read_settings`] in
/// `original`), leaving every other byte as it was; other secrets stay. The file must still be
/// exactly `original`, or nothing is written. The result must parse and hold exactly
/// `spots.len()` secrets fewer. The original is kept beside it as
/// `<name>.keychain-backup-<now>` (`now` in Unix seconds; mode 0600: it still holds the secrets; delete it once
/// the import is checked), then the file is replaced atomically with its own permissions.
/// `path` is the file itself, not a symbolic link to it (the rename would replace the link):
/// resolve links first. Returns the backup's path.
pub fn strip_spots(
    path: &Path,
    original: &str,
    spots: &[Spot],
    now: i64,
) -> Result<PathBuf, ScanError> {
    let text = Zeroizing::new(read_text(path)?);
    if text.as_str() != original {
        return Err(ScanError::ChangedMeanwhile {
            file: path.to_path_buf(),
        });
    }
    let mut unique: Vec<&Spot> = spots.iter().collect();
    unique.sort_by_key(|s| (s.cut.start, s.cut.end));
    unique.dedup();
    if unique.is_empty() {
        return Err(ScanError::NothingToStrip {
            file: path.to_path_buf(),
        });
    }
    let before = document_secrets(path, &parse_xml(path, &text)?)?.len();
    let mut cuts: Vec<Range<usize>> = unique.iter().map(|s| s.cut.clone()).collect();
    cuts.sort_by_key(|r| r.start);
    let cuts = connstr::merge(cuts);
    let mut stripped = Zeroizing::new(String::with_capacity(text.len()));
    let mut at = 0;
    for cut in &cuts {
        stripped.push_str(&text[at..cut.start]);
        at = cut.end;
    }
    stripped.push_str(&text[at..]);

    // Never write a file that no longer parses or lost more (or fewer) secrets than chosen.
    let after = document_secrets(path, &parse_xml(path, &stripped)?)?.len();
    if after + unique.len() != before {
        return Err(ScanError::StripIncomplete {
            file: path.to_path_buf(),
        });
    }

    let backup = write_backup(path, text.as_bytes(), now)?;
    let mode = mode_of(path).map_err(|e| io_err("read the permissions of", path, e))?;
    write_atomic_unique(path, stripped.as_bytes(), mode).map_err(|e| io_err("rewrite", path, e))?;
    Ok(backup)
}

fn write_backup(path: &Path, contents: &[u8], stamp: i64) -> Result<PathBuf, ScanError> {
    let name = file_name(path);
    for n in 0..100 {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let backup = path.with_file_name(format!("{name}{BACKUP_MARK}{stamp}{suffix}"));
        match private_options().write(true).create_new(true).open(&backup) {
            Ok(mut file) => {
                file.write_all(contents)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| io_err("write the backup", &backup, e))?;
                sync_dir(&parent_of(path)).map_err(|e| io_err("sync", &backup, e))?;
                return Ok(backup);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err("create the backup", &backup, e)),
        }
    }
    Err(io_err(
        "create the backup for",
        path,
        io::Error::new(io::ErrorKind::AlreadyExists, "too many backups"),
    ))
}

fn io_err(what: &'static str, path: &Path, source: io::Error) -> ScanError {
    ScanError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "scan_props.rs"]
mod props;
