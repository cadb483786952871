//! Rewriting a settings file without chosen secrets, checked before it is written, with the
//! original kept beside it.

use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::connstr;
use super::error::{ScanError, io_err};
use super::find::{BACKUP_MARK, file_name};
use super::settings::read_settings;
use super::xml::{Spot, document_secrets, parse_xml, read_text};
use crate::fsutil::{mode_of, parent_of, private_options, sync_dir, write_atomic_unique};

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

pub(super) fn write_backup(path: &Path, contents: &[u8], stamp: i64) -> Result<PathBuf, ScanError> {
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
