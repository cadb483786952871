//! PlaintextSecret plain-text secrets in files and folders: Invantive settings files element by
//! element, any other text line by line (a heuristic: a known key right before an `=`).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use super::connstr;
use super::error::{ScanError, io_err};
use super::xml::{document_secrets, is_secret_key, parse_xml, read_text};

/// Also flagged in non-settings text files, where the attribute may appear as plain text.
pub(super) const TEXT_EXTRA_KEYS: &[&str] = &["defaultpassword", "pwd"];

/// Extensions (lower case) scanned as text when recursing into folders.
pub(super) const TEXT_EXTENSIONS: &[&str] = &["config", "ini", "txt", "xml"];

/// Marks backups written by [`super::strip_secrets`]; such files are scanned too (they hold secrets).
pub(super) const BACKUP_MARK: &str = ".keychain-backup-";

/// One plain-text secret: where it is, never any of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaintextSecret {
    /// The file the secret is in.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The attribute or connection-string key, as written in the file.
    pub key: String,
}

impl fmt::Display for PlaintextSecret {
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

/// Scans files and folders (recursively: `settings*.xml` and `.config`, `.ini`, `.txt`, `.xml`
/// files, plus keychain's own backups). A file named explicitly is scanned whatever its name.
/// Symbolic links inside folders are not followed, so a link loop cannot hang the scan.
/// Stops at the first malformed settings file, naming it.
pub fn scan_paths(paths: &[PathBuf]) -> Result<Vec<PlaintextSecret>, ScanError> {
    let mut findings = Vec::new();
    walk(paths, &mut findings, &mut Err)?;
    Ok(findings)
}

/// As [`scan_paths`], but goes on past a file that cannot be read or parsed and returns those
/// errors beside the findings: one malformed or hostile file must not hide the secrets in the
/// files after it.
pub fn scan_paths_all(paths: &[PathBuf]) -> (Vec<PlaintextSecret>, Vec<ScanError>) {
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    let _ = walk(paths, &mut findings, &mut |e| {
        errors.push(e);
        Ok(())
    });
    (findings, errors)
}

/// What to do with a file or folder that cannot be scanned: `Err` stops the walk.
pub(super) type OnError<'a> = dyn FnMut(ScanError) -> Result<(), ScanError> + 'a;

pub(super) fn walk(
    paths: &[PathBuf],
    findings: &mut Vec<PlaintextSecret>,
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
pub fn scan_file(path: &Path) -> Result<Vec<PlaintextSecret>, ScanError> {
    let text = read_text(path)?;
    if is_settings_name(path) {
        let doc = parse_xml(path, &text)?;
        settings_findings(path, &doc)
    } else {
        Ok(text_findings(path, &text))
    }
}

/// Scans text read from a stream (`label` names it): as a settings file when it is XML (it
/// starts with `<`), else as text.
pub fn scan_bytes(label: &Path, bytes: &[u8]) -> Result<Vec<PlaintextSecret>, ScanError> {
    let text = super::xml::text_of(label, bytes)?;
    if text.trim_start().starts_with('<') {
        let doc = parse_xml(label, &text)?;
        settings_findings(label, &doc)
    } else {
        Ok(text_findings(label, &text))
    }
}

pub(super) fn scan_dir(
    dir: &Path,
    findings: &mut Vec<PlaintextSecret>,
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
    is_settings_name(path) && !is_strip_backup(path)
}

/// Whether `path` is a backup that `import --strip` kept (`NAME.keychain-backup-STAMP`): its
/// secrets were moved into the keychain, so the advice is to delete it, not to import it.
pub fn is_strip_backup(path: &Path) -> bool {
    file_name(path).contains(BACKUP_MARK)
}

pub(super) fn is_settings_name(path: &Path) -> bool {
    let name = file_name(path).to_ascii_lowercase();
    name.starts_with("settings") && name.ends_with(".xml")
}

pub(super) fn wanted_in_folder(path: &Path) -> bool {
    let name = file_name(path).to_ascii_lowercase();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    is_settings_name(path) || TEXT_EXTENSIONS.contains(&ext.as_str()) || name.contains(BACKUP_MARK)
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The findings of a settings document.
pub(super) fn settings_findings(
    path: &Path,
    doc: &roxmltree::Document<'_>,
) -> Result<Vec<PlaintextSecret>, ScanError> {
    Ok(document_secrets(path, doc)?
        .iter()
        .map(|s| finding(path, s.spot.line, &s.spot.key))
        .collect())
}

pub(super) fn finding(path: &Path, line: usize, key: &str) -> PlaintextSecret {
    PlaintextSecret {
        file: path.to_path_buf(),
        line,
        key: key.to_string(),
    }
}

/// Finds `key=value` secrets line by line in any text (connection strings in `.config`, `.ini`,
/// plain `.xml`...). Heuristic by nature: it looks for a known key right before an `=`.
pub(super) fn text_findings(path: &Path, text: &str) -> Vec<PlaintextSecret> {
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
pub(super) fn text_value(rest: &str, xml: bool) -> Option<&str> {
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
pub(super) fn entity_len(text: &str) -> Option<usize> {
    let semi = text.find(';').filter(|&i| i > 1 && i < 12)?;
    text[1..semi]
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '#')
        .then_some(semi + 1)
}
