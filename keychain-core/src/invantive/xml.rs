//! Reading a settings file (regular, capped in size, UTF-8, no DTD) and finding every secret of
//! a settings document with its [`Spot`]: where it is and the bytes whose removal takes it out.

use std::io;
use std::ops::Range;
use std::path::Path;

use secrecy::SecretString;
use zeroize::Zeroizing;

use super::connstr;
use super::error::{ScanError, io_err};

/// Keys whose values are secrets inside connection strings (compared case-insensitively).
pub(super) const SECRET_KEYS: &[&str] = &[
    "password",
    "api-client-secret",
    "api-refresh-token",
    "totp-secret",
];

/// Larger files are refused: settings files are kilobytes, and a bound keeps a scan of a share
/// from reading a stray multi-gigabyte file into memory.
pub(super) const MAX_FILE: u64 = 16 << 20;

/// More XML nodes than this is not a settings file.
pub(super) const MAX_NODES: u32 = 1_000_000;

pub(super) fn read_text(path: &Path) -> Result<String, ScanError> {
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

/// The text of a file read from a stream (`label` names it), capped and checked as
/// [`read_text`] checks a file's.
pub(super) fn text_of(label: &Path, bytes: &[u8]) -> Result<Zeroizing<String>, ScanError> {
    if bytes.len() as u64 > MAX_FILE {
        return Err(ScanError::TooLarge {
            file: label.to_path_buf(),
            limit: MAX_FILE,
        });
    }
    std::str::from_utf8(bytes)
        .map(|t| Zeroizing::new(t.to_string()))
        .map_err(|_| ScanError::NotUtf8 {
            file: label.to_path_buf(),
        })
}

pub(super) fn parse_xml<'a>(
    path: &Path,
    text: &'a str,
) -> Result<roxmltree::Document<'a>, ScanError> {
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
pub(super) fn dtd_line(text: &str) -> u32 {
    text.find("<!DOCTYPE")
        .map(|at| text[..at].matches('\n').count() as u32 + 1)
        .unwrap_or(1)
}

/// The parser's message without its own position suffix (we print the position ourselves).
pub(super) fn xml_message(e: &roxmltree::Error) -> String {
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

pub(super) fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

pub(super) fn local_is(name: &str, want: &str) -> bool {
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
pub(super) struct ElementSecret {
    pub(super) spot: Spot,
    /// `true` for a pair of the `connectionString`, `false` for an attribute of its own.
    pub(super) in_connection_string: bool,
    pub(super) value: SecretString,
}

/// The secrets of one element: its `defaultPassword` and the secret pairs of its
/// `connectionString` (attributes of its own only, never of its children).
pub(super) fn element_secrets(
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
pub(super) fn document_secrets(
    path: &Path,
    doc: &roxmltree::Document<'_>,
) -> Result<Vec<ElementSecret>, ScanError> {
    let mut secrets = Vec::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        secrets.extend(element_secrets(path, doc, node)?);
    }
    Ok(secrets)
}
