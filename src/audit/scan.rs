//! Finding, importing and removing plain-text secrets in Invantive `settings*.xml` files and in
//! similar `key=value;` connection strings elsewhere.
//!
//! A [`Finding`] holds where a secret is and nothing of its value (not even a part: a
//! password's last characters are often the guessable part), so a scan report can be shown,
//! logged or mailed.
//! Secrets parsed for import go straight into `SecretString`. XML is parsed with `roxmltree`
//! with DTDs refused: no external entity is ever fetched or read, and a "billion laughs" file is
//! rejected at its `<!DOCTYPE` before any expansion (roxmltree also bounds expansion depth and
//! count when DTDs are allowed; we do not allow them). Input files are capped in size.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::connstr::{self, Pair};
use crate::fsutil::{mode_of, parent_of, private_options, sync_dir, write_atomic_unique};

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
            crate::output::escape_value(&file),
            self.line,
            crate::output::escape_value(&self.key)
        )
    }
}

/// One `<database>` of a settings file that carries secrets, ready to become an account.
#[derive(Debug)]
pub struct ImportCandidate {
    pub file: PathBuf,
    /// Line of the `<database>` (or `<connection>`) element.
    pub line: usize,
    /// Suggested account name: `group-connection-alias`, slugified.
    pub name: String,
    pub group: Option<String>,
    pub connection: Option<String>,
    pub alias: Option<String>,
    /// Invantive's data provider (`provider` attribute), e.g. `ExactOnlineAll`.
    pub data_provider: Option<String>,
    /// keychain's provider: `exact-nl`, `exact-be`, ... or `oauth2` for any other `api-url`;
    /// `None` without an `api-url` (ask the user).
    pub provider: Option<String>,
    pub api_url: Option<String>,
    pub client_id: Option<String>,
    pub redirect_url: Option<String>,
    pub user: Option<String>,
    pub password: Option<SecretString>,
    pub totp_secret: Option<SecretString>,
    pub client_secret: Option<SecretString>,
    pub refresh_token: Option<SecretString>,
}

/// What can go wrong while scanning or rewriting. Never carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("could not {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}:{line}:{column}: not well-formed XML ({message}); fix the file (an Invantive tool can rewrite it) and scan again", file.display())]
    Xml {
        file: PathBuf,
        line: u32,
        column: u32,
        message: String,
    },
    #[error("{}:{line}: the file has a DTD (<!DOCTYPE ...>), which settings files never have; keychain refuses it because DTD entities can read other files or expand without bound; remove the DTD", file.display())]
    Dtd { file: PathBuf, line: u32 },
    #[error("{} is not UTF-8 text; save it as UTF-8 and scan again", file.display())]
    NotUtf8 { file: PathBuf },
    #[error("{} is larger than {limit} bytes, too large for a settings file; check that it is the right file", file.display())]
    TooLarge { file: PathBuf, limit: u64 },
    #[error("{} holds no plain-text secret to strip", file.display())]
    NothingToStrip { file: PathBuf },
    #[error("{}:{line}: a connectionString uses an escape keychain cannot map back to the file; remove its secrets by hand", file.display())]
    UnsupportedEscaping { file: PathBuf, line: usize },
    #[error("{}: stripping would leave secrets behind; the file was not changed; remove them by hand", file.display())]
    StripIncomplete { file: PathBuf },
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
        Ok(settings_findings(path, &doc)?.0)
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
    let len = fs::metadata(path)
        .map_err(|e| io_err("read", path, e))?
        .len();
    if len > MAX_FILE {
        return Err(ScanError::TooLarge {
            file: path.to_path_buf(),
            limit: MAX_FILE,
        });
    }
    let bytes = fs::read(path).map_err(|e| io_err("read", path, e))?;
    String::from_utf8(bytes).map_err(|_| ScanError::NotUtf8 {
        file: path.to_path_buf(),
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

/// The secrets of a settings document, and the byte ranges (sorted, merged) that remove them.
fn settings_findings(
    path: &Path,
    doc: &roxmltree::Document<'_>,
) -> Result<(Vec<Finding>, Vec<Range<usize>>), ScanError> {
    let text = doc.input_text();
    let line_at = |offset: usize| doc.text_pos_at(offset).row as usize;
    let mut findings = Vec::new();
    let mut cuts = Vec::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
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
                findings.push(finding(path, line_at(range.start), attr.name()));
                cuts.push(start..range.end);
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
                let secret: Vec<&Pair<'_>> = pairs
                    .iter()
                    .filter(|p| is_secret_key(p.key) && !p.value.is_empty())
                    .collect();
                for p in &secret {
                    let raw_start = raw_range.start + map[p.span.start];
                    findings.push(finding(path, line_at(raw_start), p.key));
                }
                for cut in connstr::removal_spans(&decoded, &secret) {
                    cuts.push(raw_range.start + map[cut.start]..raw_range.start + map[cut.end]);
                }
            }
        }
    }
    cuts.sort_by_key(|r| r.start);
    Ok((findings, connstr::merge(cuts)))
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
/// a secret (its own or its connection's `defaultPassword`).
pub fn parse_settings(path: &Path) -> Result<Vec<ImportCandidate>, ScanError> {
    let text = read_text(path)?;
    let doc = parse_xml(path, &text)?;
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
        for db in sources {
            let pairs_text = db
                .and_then(|d| attr(d, "connectionString"))
                .unwrap_or_default();
            let pairs = connstr::parse(&pairs_text);
            let get = |key: &str| {
                pairs
                    .iter()
                    .rev()
                    .find(|p| p.key.eq_ignore_ascii_case(key) && !p.value.is_empty())
                    .map(|p| p.value.clone())
            };
            let password = get("password").or_else(|| attr(conn, "defaultPassword"));
            let totp_secret = get("totp-secret");
            let client_secret = get("api-client-secret");
            let refresh_token = get("api-refresh-token");
            if password.is_none()
                && totp_secret.is_none()
                && client_secret.is_none()
                && refresh_token.is_none()
            {
                continue;
            }
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
                provider: api_url.as_deref().map(provider_for),
                api_url,
                client_id: get("api-client-id"),
                redirect_url: get("api-redirect-url"),
                user: attr(conn, "defaultUserLogonCode"),
                password: password.map(SecretString::from),
                totp_secret: totp_secret.map(SecretString::from),
                client_secret: client_secret.map(SecretString::from),
                refresh_token: refresh_token.map(SecretString::from),
            });
        }
    }
    Ok(candidates)
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

/// keychain's provider for an `api-url`: `exact-nl`, `exact-be`, `exact-de`, `exact-uk`,
/// `exact-us`, `exact-es`, `exact-fr` for Exact Online's https sites, else `oauth2`.
pub fn provider_for(api_url: &str) -> String {
    const EXACT: &[(&str, &str)] = &[
        ("exactonline.nl", "exact-nl"),
        ("exactonline.be", "exact-be"),
        ("exactonline.de", "exact-de"),
        ("exactonline.co.uk", "exact-uk"),
        ("exactonline.com", "exact-us"),
        ("exactonline.es", "exact-es"),
        ("exactonline.fr", "exact-fr"),
    ];
    let Ok(url) = url::Url::parse(api_url.trim()) else {
        return "oauth2".to_string();
    };
    if url.scheme() != "https" {
        return "oauth2".to_string();
    }
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    EXACT
        .iter()
        .find(|(domain, _)| host == *domain || host.ends_with(&format!(".{domain}")))
        .map(|(_, id)| id.to_string())
        .unwrap_or_else(|| "oauth2".to_string())
}

/// Rewrites a settings file without its plain-text secrets (`defaultPassword` attributes and the
/// secret pairs of `connectionString`s), leaving every other byte as it was. The original is
/// kept beside it as `<name>.keychain-backup-<unix time>` (mode 0600: it still holds the
/// secrets; delete it once the import is checked), then the file is replaced atomically with
/// its own permissions. Returns the backup's path.
pub fn strip_secrets(path: &Path) -> Result<PathBuf, ScanError> {
    let text = read_text(path)?;
    let doc = parse_xml(path, &text)?;
    let (_, cuts) = settings_findings(path, &doc)?;
    if cuts.is_empty() {
        return Err(ScanError::NothingToStrip {
            file: path.to_path_buf(),
        });
    }
    let mut stripped = String::with_capacity(text.len());
    let mut at = 0;
    for cut in &cuts {
        stripped.push_str(&text[at..cut.start]);
        at = cut.end;
    }
    stripped.push_str(&text[at..]);

    // Never write a file that still has secrets or no longer parses.
    let check = parse_xml(path, &stripped)?;
    if !settings_findings(path, &check)?.0.is_empty() {
        return Err(ScanError::StripIncomplete {
            file: path.to_path_buf(),
        });
    }

    let backup = write_backup(path, text.as_bytes())?;
    let mode = mode_of(path).map_err(|e| io_err("read the permissions of", path, e))?;
    write_atomic_unique(path, stripped.as_bytes(), mode).map_err(|e| io_err("rewrite", path, e))?;
    Ok(backup)
}

fn write_backup(path: &Path, contents: &[u8]) -> Result<PathBuf, ScanError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
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
