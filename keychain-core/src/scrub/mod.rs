//! Provider text (an `error_description`, an error in a redirect, a page's field names, a whole
//! page for `--debug-pages`) is shown to people and written to the audit log; a provider may
//! echo back what it was sent. Before any of it is kept, every secret of the account is cut out
//! of it: whole, or its first six characters or more (a "short refresh token prefix"), in any
//! letter case, and in any common encoding a page or an error may carry it in:
//!
//! - HTML character references: numeric (`&#39;`, PHP's `&#039;`, Python's `&#x27;`, any
//!   leading zeros, with or without the `;`) and named (`&apos;`, `&sol;`, `&commat;`, ...);
//! - percent-encoding (upper or lower hex, `+` for a space), also inside quotes;
//! - backslash escapes of JSON and JavaScript strings (`\u0040`, `\x40`, `\/`);
//! - any two of these on top of each other (`&amp;#39;`, `%2540`);
//! - base64 and base64url, padded or not, at any of the three alignments inside a longer
//!   string (a Basic header of `client_id:secret`): the whole base64 word is cut.
//!
//! Codes and tokens are also cut by their shape, known or not: the value of a `code=`,
//! `access_token=`, `refresh_token=`, `id_token=` (and similar) parameter, in a URL, a form, a
//! JSON field or a hidden input; a JWT; the credential of a `Bearer` or `Basic` header.
//!
//! Only prefixes, not any piece: cutting every six-letter run found anywhere in a secret would
//! cut ordinary words out of provider text (a field called `password` when the password is
//! `wrong-password`), and the cut itself would tell the reader what the secret contains.
//!
//! A base module: it imports nothing of keychain. The token calls, the logon engine and the
//! OpenBao client's error texts all go through it. The decodings are in `decode`, the base64
//! words and the shapes of codes and tokens in `shapes`.
#![deny(missing_docs)]

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

mod decode;
mod shapes;
#[cfg(test)]
mod tests;

use decode::{View, views};
#[cfg(test)]
use shapes::decode_base64;
use shapes::{mark_base64, mark_shapes};

/// A secret's first characters, this many or more, are cut out of provider text.
pub const MIN_RUN: usize = 6;
/// Secrets shorter than [`MIN_RUN`] are cut out whole, down to this length (shorter ones
/// cannot be told from ordinary text).
const MIN_WHOLE: usize = 3;
/// Provider text longer than this is cut before scrubbing; nobody reads more in an error.
const MAX_TEXT: usize = 2048;
/// Runs of base64 characters shorter than this are not decoded (six bytes take eight).
const MIN_BASE64_WORD: usize = 8;
/// The value of a code or token parameter is cut when it is at least this long (an HTTP status
/// in `code=400` is not a code).
const MIN_SHAPE_VALUE: usize = 6;

/// The secrets of one account (and of one call: a code, a verifier), to scrub provider text of.
/// `Debug` shows how many, never which.
#[derive(Clone, Default)]
pub struct Scrubber {
    secrets: Vec<SecretString>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrubber({} secrets)", self.secrets.len())
    }
}

/// One secret to look for.
struct Needle {
    bytes: Zeroizing<Vec<u8>>,
    /// How many leading bytes must match.
    min: usize,
}

impl Scrubber {
    /// A scrubber with no secrets: it cuts text to its maximum length and cuts codes and tokens
    /// by their shape.
    pub fn new() -> Self {
        Scrubber::default()
    }

    /// Adds a secret to cut out. Secrets shorter than three characters are ignored: they
    /// cannot be told from ordinary text.
    pub fn add(&mut self, secret: &SecretString) {
        if secret.expose_secret().len() >= MIN_WHOLE {
            self.secrets.push(secret.clone());
        }
    }

    /// `text` (its first 2 KiB) without any secret: every place where a secret starts (in any
    /// ASCII letter case, in any encoding the module names) and runs on for at least
    /// [`MIN_RUN`] bytes, or for the whole of a shorter secret, becomes `[redacted]` as far as
    /// the match goes; so does every code or token found by its shape.
    pub fn scrub(&self, text: &str) -> String {
        self.scrub_page(cut(text, MAX_TEXT))
    }

    /// [`Self::scrub`] for a whole page (`--debug-pages`): nothing is cut off.
    pub fn scrub_page(&self, text: &str) -> String {
        let t = text.as_bytes();
        let needles = self.needles();
        let mut hidden = vec![false; t.len()];
        for view in views(t) {
            for needle in &needles {
                mark_needle(&view, needle, &mut hidden);
            }
            mark_base64(&view, &needles, &mut hidden);
            mark_shapes(&view, &mut hidden);
        }
        render(text, &hidden)
    }

    fn needles(&self) -> Vec<Needle> {
        let mut needles = Vec::new();
        for secret in &self.secrets {
            let s = secret.expose_secret().as_bytes();
            needles.push(Needle {
                bytes: Zeroizing::new(s.to_vec()),
                min: MIN_RUN.min(s.len()),
            });
        }
        needles
    }
}

/// Marks every place in `view` where `needle` matches for at least its minimum.
fn mark_needle(view: &View, needle: &Needle, hidden: &mut [bool]) {
    let t = &view.bytes;
    let n = &needle.bytes[..];
    let Some(first) = n.first() else {
        return;
    };
    for i in 0..t.len() {
        if !t[i].eq_ignore_ascii_case(first) {
            continue;
        }
        let run = common_run(&t[i..], n);
        if run >= needle.min {
            hide(view, i, i + run, hidden);
        }
    }
}

fn hide(view: &View, a: usize, b: usize, hidden: &mut [bool]) {
    if a >= b {
        return;
    }
    let (from, to) = view.original(a, b);
    hidden[from..to].iter_mut().for_each(|h| *h = true);
}

/// `text` with every hidden character replaced, runs of them by one `[redacted]`.
fn render(text: &str, hidden: &[bool]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for (i, c) in text.char_indices() {
        // A character is hidden when any of its bytes is.
        if hidden[i..i + c.len_utf8()].iter().any(|h| *h) {
            if !in_run {
                out.push_str("[redacted]");
                in_run = true;
            }
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out
}

/// Provider text is kept for the user, but every secret of the account (and of this call) is
/// cut out of it first (see [`Scrubber`]), then any long run of token characters, then
/// control characters (a provider's text must not move a terminal's cursor).
pub fn sanitize(text: &str, scrubber: &Scrubber) -> String {
    let out = scrubber.scrub(text);
    let out: String = out
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let out: Vec<String> = out
        .split(' ')
        .map(|word| {
            let tokenish = word.len() >= 24
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.~+/=!%".contains(c));
            if tokenish {
                "[redacted]".to_string()
            } else {
                word.to_string()
            }
        })
        .collect();
    let mut out = out.join(" ");
    if out.len() > 300 {
        let mut cut = 300;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// Every decoding a reader could make of `text` (lowercased; markers made harmless), for tests
/// that check nothing of a secret is left in any of them.
#[cfg(test)]
pub(crate) fn decodings(text: &str) -> Vec<String> {
    let text = text.replace("[redacted]", "\u{0}");
    let mut out: Vec<String> = views(text.as_bytes())
        .into_iter()
        .map(|v| String::from_utf8_lossy(&v.bytes).to_ascii_lowercase())
        .collect();
    // And every base64 word, decoded at each of its four alignments.
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || "+/-_".contains(c))) {
        for skip in 0..4.min(word.len()) {
            let bytes = decode_base64(&word.as_bytes()[skip..]);
            out.push(String::from_utf8_lossy(&bytes).to_ascii_lowercase());
        }
    }
    out
}

/// How many leading bytes `a` and `b` share, ignoring ASCII letter case.
fn common_run(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .take_while(|(x, y)| x.eq_ignore_ascii_case(y))
        .count()
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
