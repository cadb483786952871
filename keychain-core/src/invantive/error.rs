//! What can go wrong while scanning or rewriting a settings file: this module's own error
//! (the top-level error turns it into the keychain's).

use std::io;
use std::path::{Path, PathBuf};

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
    fn advice(&self) -> Option<&'static str> {
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

pub(super) fn io_err(what: &'static str, path: &Path, source: io::Error) -> ScanError {
    ScanError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

impl crate::exit::Failure for ScanError {
    /// A file that cannot be read is an I/O failure; anything about its content is bad input.
    fn class(&self) -> crate::exit::Class {
        match self {
            ScanError::Io { .. } => crate::exit::Class::Io,
            _ => crate::exit::Class::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        self.advice().map(str::to_string)
    }
}
