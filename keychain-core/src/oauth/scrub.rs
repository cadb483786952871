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
#![deny(missing_docs)]

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

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

/// The text as decoded once or twice: each byte with the offset in the original text where
/// what it was decoded from starts (offsets rise monotonically).
struct View {
    bytes: Vec<u8>,
    /// `None`: the original text itself.
    start: Option<Vec<u32>>,
    /// The original text's length.
    len: usize,
}

impl View {
    /// The original byte range `[a, b)` of this view's bytes `a..b`.
    fn original(&self, a: usize, b: usize) -> (usize, usize) {
        let Some(start) = &self.start else {
            return (a, b);
        };
        let from = start[a] as usize;
        let last = start[b - 1];
        let to = start[b..]
            .iter()
            .find(|s| **s > last)
            .map_or(self.len, |s| *s as usize);
        (from, to)
    }
}

/// The original text, and its decodings (entities, percent with and without `+` for a space,
/// backslash escapes), each decoded once more for double encodings. Decodings that change
/// nothing are left out.
fn views(t: &[u8]) -> Vec<View> {
    let len = t.len();
    let mut out = vec![View {
        bytes: t.to_vec(),
        start: None,
        len,
    }];
    if !t.iter().any(|b| matches!(b, b'&' | b'%' | b'+' | b'\\')) {
        return out;
    }
    for plus in [true, false] {
        let (bytes, start) = decode(t, plus);
        if bytes == t {
            continue;
        }
        if bytes
            .iter()
            .any(|b| matches!(b, b'&' | b'%' | b'+' | b'\\'))
        {
            let (again, inner) = decode(&bytes, plus);
            if again != bytes {
                let start2 = inner.iter().map(|i| start[*i as usize]).collect();
                out.push(View {
                    bytes: again,
                    start: Some(start2),
                    len,
                });
            }
        }
        out.push(View {
            bytes,
            start: Some(start),
            len,
        });
        if !t.contains(&b'+') {
            break;
        }
    }
    out
}

/// One pass of decoding: HTML character references, percent-escapes, `+` (when `plus`) and
/// backslash escapes; every output byte carries the input offset it came from.
fn decode(t: &[u8], plus: bool) -> (Vec<u8>, Vec<u32>) {
    let mut bytes = Vec::with_capacity(t.len());
    let mut start = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        let decoded = match t[i] {
            b'&' => entity(&t[i..]),
            b'%' => hex_byte(t.get(i + 1..i + 3)).map(|b| (Decoded::Byte(b), 3)),
            b'\\' => backslash(&t[i..]),
            b'+' if plus => Some((Decoded::Byte(b' '), 1)),
            _ => None,
        };
        let (value, used) = decoded.unwrap_or((Decoded::Byte(t[i]), 1));
        let mut buf = [0u8; 4];
        let out: &[u8] = match value {
            Decoded::Byte(b) => {
                buf[0] = b;
                &buf[..1]
            }
            Decoded::Char(c) => c.encode_utf8(&mut buf).as_bytes(),
        };
        for b in out {
            bytes.push(*b);
            start.push(i as u32);
        }
        i += used;
    }
    (bytes, start)
}

enum Decoded {
    Byte(u8),
    Char(char),
}

fn hex_byte(two: Option<&[u8]>) -> Option<u8> {
    let two = two?;
    let text = std::str::from_utf8(two).ok()?;
    if two.len() != 2 || !two.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u8::from_str_radix(text, 16).ok()
}

/// `&#39;`, `&#039;`, `&#x27;`, `&#X27`, `&apos;`, `&amp` (the `;` is optional where HTML lets
/// it be).
fn entity(t: &[u8]) -> Option<(Decoded, usize)> {
    if t.get(1) == Some(&b'#') {
        let hex = matches!(t.get(2), Some(b'x' | b'X'));
        let from = if hex { 3 } else { 2 };
        let digits = t[from..]
            .iter()
            .take(8)
            .take_while(|b| {
                if hex {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                }
            })
            .count();
        if digits == 0 {
            return None;
        }
        let text = std::str::from_utf8(&t[from..from + digits]).ok()?;
        let n = u32::from_str_radix(text, if hex { 16 } else { 10 }).ok()?;
        let c = char::from_u32(n)?;
        let end = from + digits;
        let used = if t.get(end) == Some(&b';') {
            end + 1
        } else {
            end
        };
        return Some((Decoded::Char(c), used));
    }
    let name_len = t[1..]
        .iter()
        .take(32)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if name_len == 0 {
        return None;
    }
    let name = std::str::from_utf8(&t[1..1 + name_len]).ok()?;
    let with_semicolon = t.get(1 + name_len) == Some(&b';');
    let c = NAMED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .or_else(|| {
            // Legacy references that HTML reads without a `;` and in capitals.
            ["amp", "lt", "gt", "quot"]
                .into_iter()
                .find(|n| n.eq_ignore_ascii_case(name))
                .and_then(|n| NAMED.iter().find(|(m, _)| *m == n).map(|(_, c)| *c))
        })?;
    let legacy = ["amp", "lt", "gt", "quot"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name));
    if !with_semicolon && !legacy {
        return None;
    }
    Some((Decoded::Char(c), 1 + name_len + usize::from(with_semicolon)))
}

/// Named character references for every ASCII sign and the letters secrets most often hold
/// beyond ASCII; numeric references cover every other character.
const NAMED: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("excl", '!'),
    ("num", '#'),
    ("dollar", '$'),
    ("percnt", '%'),
    ("lpar", '('),
    ("rpar", ')'),
    ("ast", '*'),
    ("midast", '*'),
    ("plus", '+'),
    ("comma", ','),
    ("period", '.'),
    ("sol", '/'),
    ("colon", ':'),
    ("semi", ';'),
    ("equals", '='),
    ("quest", '?'),
    ("commat", '@'),
    ("lsqb", '['),
    ("lbrack", '['),
    ("bsol", '\\'),
    ("rsqb", ']'),
    ("rbrack", ']'),
    ("Hat", '^'),
    ("lowbar", '_'),
    ("UnderBar", '_'),
    ("grave", '`'),
    ("DiacriticalGrave", '`'),
    ("lcub", '{'),
    ("lbrace", '{'),
    ("verbar", '|'),
    ("vert", '|'),
    ("VerticalLine", '|'),
    ("rcub", '}'),
    ("rbrace", '}'),
    ("tilde", '~'),
    ("Tab", '\t'),
    ("NewLine", '\n'),
    ("nbsp", '\u{a0}'),
    ("sect", '§'),
    ("deg", '°'),
    ("euro", '€'),
    ("pound", '£'),
    ("auml", 'ä'),
    ("ouml", 'ö'),
    ("uuml", 'ü'),
    ("Auml", 'Ä'),
    ("Ouml", 'Ö'),
    ("Uuml", 'Ü'),
    ("szlig", 'ß'),
    ("eacute", 'é'),
    ("egrave", 'è'),
    ("agrave", 'à'),
    ("ccedil", 'ç'),
    ("ntilde", 'ñ'),
];

/// `\u0040`, `\x40`, `\/`, `\\`, `\"`, `\'`: JSON and JavaScript strings in a page.
fn backslash(t: &[u8]) -> Option<(Decoded, usize)> {
    match t.get(1)? {
        b'u' => {
            let hex = t.get(2..6)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let n = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            Some((Decoded::Char(char::from_u32(n)?), 6))
        }
        b'x' => hex_byte(t.get(2..4)).map(|b| (Decoded::Byte(b), 4)),
        c @ (b'/' | b'\\' | b'"' | b'\'') => Some((Decoded::Byte(*c), 2)),
        _ => None,
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

/// Decodes every run of base64 (or base64url) characters, at each of the four places a 4-character
/// group may start, and cuts the whole run when a secret is in what it decodes to: a secret may
/// sit at any byte of a longer string (`client_id:secret` in a Basic header), and what
/// surrounds it in the run goes with it.
fn mark_base64(view: &View, needles: &[Needle], hidden: &mut [bool]) {
    let t = &view.bytes;
    let mut i = 0;
    while i < t.len() {
        if !is_base64(t[i]) {
            i += 1;
            continue;
        }
        let len = t[i..].iter().take_while(|b| is_base64(**b)).count();
        let pad = t[i + len..].iter().take_while(|b| **b == b'=').count();
        if len >= MIN_BASE64_WORD {
            let word = &t[i..i + len];
            let found = (0..4).any(|skip| {
                let bytes = Zeroizing::new(decode_base64(&word[skip..]));
                needles.iter().any(|n| {
                    let first = n.bytes[0];
                    (0..bytes.len()).any(|j| {
                        bytes[j].eq_ignore_ascii_case(&first)
                            && common_run(&bytes[j..], &n.bytes) >= n.min
                    })
                })
            });
            if found {
                hide(view, i, i + len + pad, hidden);
            }
        }
        i += len + pad;
    }
}

/// Base64 of either alphabet (`+/` or `-_`), without padding, read leniently: a last partial
/// character is dropped.
fn decode_base64(word: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(word.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in word {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            _ => 63,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn hide(view: &View, a: usize, b: usize, hidden: &mut [bool]) {
    if a >= b {
        return;
    }
    let (from, to) = view.original(a, b);
    hidden[from..to].iter_mut().for_each(|h| *h = true);
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Parameters whose values are credentials, wherever they appear.
const SECRET_PARAMETERS: &[&str] = &[
    "code",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "client_secret",
    "client_assertion",
    "assertion",
    "code_verifier",
    "device_code",
    "password",
    "samlresponse",
    "session_token",
    "client_token",
];

/// Cuts codes and tokens by their shape: parameter values, JWTs, `Bearer`/`Basic` credentials.
fn mark_shapes(view: &View, hidden: &mut [bool]) {
    let t = &view.bytes;
    let lower: Vec<u8> = t.iter().map(u8::to_ascii_lowercase).collect();
    for name in SECRET_PARAMETERS {
        let name = name.as_bytes();
        for at in memchr::memmem::find_iter(&lower, name) {
            let end = at + name.len();
            if at > 0 && is_word(lower[at - 1]) || end < t.len() && is_word(lower[end]) {
                continue;
            }
            if let Some((a, b)) = parameter_value(t, at, end) {
                hide(view, a, b, hidden);
            }
        }
    }
    for scheme in ["bearer", "basic"] {
        for at in memchr::memmem::find_iter(&lower, scheme.as_bytes()) {
            let end = at + scheme.len();
            if at > 0 && is_word(lower[at - 1]) {
                continue;
            }
            let spaces = t[end..].iter().take_while(|b| **b == b' ').count();
            if spaces == 0 {
                continue;
            }
            let from = end + spaces;
            let body = t[from..]
                .iter()
                .take_while(|b| is_base64(**b) || matches!(b, b'.' | b'~'))
                .count();
            let pad = t[from + body..].iter().take_while(|b| **b == b'=').count();
            let value = &t[from..from + body + pad];
            let credential = if scheme == "basic" {
                basic_credential(value)
            } else {
                body >= 16 && value.iter().any(|b| !b.is_ascii_alphabetic())
            };
            if credential {
                hide(view, from, from + body + pad, hidden);
            }
        }
    }
    // A JWT: `eyJ` (a base64url `{"`), then at least one more dot-separated part.
    for at in memchr::memmem::find_iter(t, b"eyJ") {
        if at > 0 && (is_base64(t[at - 1]) || t[at - 1] == b'.') {
            continue;
        }
        let run = t[at..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            .count();
        let jwt = &t[at..at + run];
        let first_dot = jwt.iter().position(|b| *b == b'.');
        if first_dot.is_some_and(|d| d >= 10) && run >= 20 {
            hide(view, at, at + run, hidden);
        }
    }
}

/// The value of a credential parameter whose name is at `t[at..end]`: `name=VALUE` (a URL, a
/// form, a meta refresh), `"name": "VALUE"` (JSON), or `name="name" ... value="VALUE"` (a
/// hidden input of a form_post page).
fn parameter_value(t: &[u8], at: usize, end: usize) -> Option<(usize, usize)> {
    let before = &t[..at];
    let attr = before.ends_with(b"name=\"") || before.ends_with(b"name='");
    if attr || before.ends_with(b"name=") {
        let open = before.iter().rposition(|b| *b == b'<')?;
        let close = end + t[end..].iter().take(4096).position(|b| *b == b'>')?;
        let tag = &t[open..close];
        let lower: Vec<u8> = tag.iter().map(u8::to_ascii_lowercase).collect();
        let v = memchr::memmem::find(&lower, b"value=")? + open + 6;
        return quoted_or_bare(t, v, 1);
    }
    let mut p = end;
    let quoted_name = matches!(t.get(p), Some(b'"' | b'\''));
    if quoted_name {
        p += 1;
        p += t[p..]
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        if t.get(p) != Some(&b':') {
            return None;
        }
        p += 1;
        p += t[p..]
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
    } else if t.get(p) == Some(&b'=') {
        p += 1;
    } else {
        return None;
    }
    quoted_or_bare(t, p, MIN_SHAPE_VALUE)
}

/// The value starting at `p`: up to its closing quote when quoted, else up to the first
/// character that ends a parameter; `None` when shorter than `min`.
fn quoted_or_bare(t: &[u8], p: usize, min: usize) -> Option<(usize, usize)> {
    let (from, stop): (usize, &[u8]) = match t.get(p)? {
        b'"' => (p + 1, b"\"<>\r\n"),
        b'\'' => (p + 1, b"'<>\r\n"),
        _ => (p, b"&\"'<> \t\r\n#;,)}]\\"),
    };
    let len = t[from..].iter().take_while(|b| !stop.contains(b)).count();
    (len >= min).then_some((from, from + len))
}

/// Whether a `Basic` header's value is a credential: base64 of `user:password`.
fn basic_credential(value: &[u8]) -> bool {
    if value.len() < 8 {
        return false;
    }
    let trimmed: Vec<u8> = value.iter().copied().filter(|b| *b != b'=').collect();
    [
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ]
    .iter()
    .any(|e| e.decode(&trimmed).is_ok_and(|d| d.contains(&b':')))
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scrubber(secrets: &[&str]) -> Scrubber {
        let mut s = Scrubber::new();
        for v in secrets {
            s.add(&SecretString::from(v.to_string()));
        }
        s
    }

    /// Regression (issue 8, defect 4): an echoed client secret or refresh-token prefix reached
    /// stderr and the audit log.
    #[test]
    fn echoed_secrets_prefixes_and_other_cases_are_cut() {
        let s = scrubber(&["ClientSecret-42xyz", "rt-abcdef0123456789"]);
        assert_eq!(
            s.scrub("bad value ClientSecret-42xyz for you"),
            "bad value [redacted] for you"
        );
        assert_eq!(s.scrub("token rt-abcd… is old"), "token [redacted]… is old");
        assert_eq!(
            s.scrub("CLIENTSECRET-42XYZ and clientsecret"),
            "[redacted] and [redacted]"
        );
        assert_eq!(s.scrub("token RT-AB is fine"), "token RT-AB is fine");
        assert_eq!(s.scrub("nothing here"), "nothing here");
        // A short secret is cut out whole.
        assert_eq!(
            scrubber(&["pin9"]).scrub("your PIN9 was wrong"),
            "your [redacted] was wrong"
        );
    }

    #[test]
    fn multibyte_text_stays_valid() {
        let s = scrubber(&["geheimwörtchen"]);
        assert_eq!(s.scrub("x geheimwörtchen y"), "x [redacted] y");
        assert_eq!(s.scrub("ééé"), "ééé");
    }

    /// Every view of `out` (its markers made harmless): what a reader could decode.
    fn decodings(out: &str) -> Vec<String> {
        let out = out.replace("[redacted]", "\u{0}");
        views(out.as_bytes())
            .into_iter()
            .map(|v| String::from_utf8_lossy(&v.bytes).to_ascii_lowercase())
            .collect()
    }

    /// Issue 25, item 1: the forms PHP, Python and others echo a secret in.
    #[test]
    fn a_secret_in_entities_percent_escapes_and_base64_is_cut() {
        let s = scrubber(&["p@ss'w&rd \"x\"", "ClientSecret-42xyz"]);
        for text in [
            "p@ss&#039;w&amp;rd &quot;x&quot;",
            "p@ss&#x27;w&amp;rd &#X22;x&#34",
            "p&commat;ss&apos;w&amp;rd",
            "p%40ss%27w%26rd+%22x%22",
            "p%40ss%27w%26rd%20",
            "'p%40SS%27W%26RD'",
            "p%2540ss%2527w",
            "p&amp;#64;ss&amp;#39;w",
            "p\\u0040ss\\u0027w\\u0026rd",
            "p\\x40ss\\x27w",
            "ClientSecret&#45;42xyz",
            "Q2xpZW50U2VjcmV0LTQyeHl6",
            "Authorization: Basic Y2xpZW50LWlkOkNsaWVudFNlY3JldC00Mnh5eg==",
            "Authorization: Basic Y2xpZW50LWlkOkNsaWVudFNlY3JldC00Mnh5eg",
            "x=Y2xpZW50OkNsaWVudFNlY3JldC00Mnh5eg%3D%3D",
        ] {
            let out = s.scrub(text);
            for d in decodings(&out) {
                assert!(
                    !d.contains("p@ss'w") && !d.contains("client"),
                    "{text:?} -> {out:?}"
                );
            }
            assert!(out.contains("[redacted]"), "{text:?} -> {out:?}");
        }
    }

    #[test]
    fn codes_and_tokens_are_cut_by_their_shape() {
        let s = Scrubber::new();
        for (text, value) in [
            (
                r#"<a href="https://app.example/cb?code=SplxlOBeZQQYbYS6WxSbIA&amp;state=x">"#,
                "SplxlOBeZQQYbYS6WxSbIA",
            ),
            (
                r#"<meta http-equiv="refresh" content="0;url=https://app/cb?code=AbCdEf123456">"#,
                "AbCdEf123456",
            ),
            (
                r#"<input type="hidden" name="code" value="hiddenCode99">"#,
                "hiddenCode99",
            ),
            (r#"{"access_token": "at-0123456789"}"#, "at-0123456789"),
            ("refresh_token=rt.0123456789", "rt.0123456789"),
            ("cb#id_token=abcdef&x=1", "abcdef"),
            (
                "next=https%3A%2F%2Fa%2Fcb%3Fcode%3DPercentCode42%26x",
                "PercentCode42",
            ),
            (
                "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl here",
                "eyJhbGciOiJIUzI1NiJ9",
            ),
            (
                "Authorization: Bearer 2YotnFZFEjr1zCsicMWpAA",
                "2YotnFZFEjr1zCsicMWpAA",
            ),
            (
                "Authorization: Basic dXNlcjpwYXNzd29yZA==",
                "dXNlcjpwYXNzd29yZA",
            ),
        ] {
            let out = s.scrub_page(text);
            assert!(!out.contains(value), "{text:?} -> {out:?}");
        }
        // Ordinary provider text keeps its words.
        for text in [
            "invalid_grant: the code expired",
            "HTTP status code=400",
            "Basic authentication failed",
            "Bearer realm=\"api\", error=\"invalid_token\"",
            "password is required",
        ] {
            assert_eq!(s.scrub(text), text);
        }
    }

    proptest! {
        /// Whatever the provider wraps around it, in whatever case, no prefix of six or more
        /// characters of a secret survives.
        #[test]
        fn no_prefix_of_a_secret_survives(
            secret in "[A-Za-z0-9_.~-]{6,40}",
            before in "\\PC{0,40}",
            after in "\\PC{0,40}",
            end in 6usize..41,
            upper in any::<bool>(),
        ) {
            let piece = &secret[..end.min(secret.len())];
            let piece = if upper { piece.to_ascii_uppercase() } else { piece.to_string() };
            let text = format!("{before}{piece}{after}");
            // The marker's own letters are not the secret's.
            let out = scrubber(&[&secret]).scrub(&text).replace("[redacted]", "\u{0}");
            let head = secret[..MIN_RUN].to_ascii_lowercase();
            prop_assert!(!out.to_ascii_lowercase().contains(&head));
        }

        /// Issue 25, item 1: a secret written character by character in any mix of HTML
        /// references (numeric, hex, named), percent-escapes (either hex case, `+` for a space)
        /// and JSON escapes, in or out of quotes, leaves no six-character prefix a reader
        /// could decode.
        #[test]
        fn no_prefix_survives_any_entity_or_percent_encoding(
            secret in "[ -~]{6,24}",
            forms in proptest::collection::vec((0u8..7, any::<bool>(), 0usize..3), 24),
            before in "[a-zA-Z0-9 .,:=/-]{0,20}",
            after in "[a-zA-Z0-9 .,:=/-]{0,20}",
            quote in prop::sample::select(vec!["", "\"", "'"]),
        ) {
            let mut encoded = String::new();
            for (c, (form, upper, zeros)) in secret.chars().zip(&forms) {
                let n = c as u32;
                let hex = |s: String| if *upper { s.to_uppercase() } else { s };
                let piece = match form {
                    0 => c.to_string(),
                    1 => format!("&#{}{n};", "0".repeat(*zeros)),
                    2 => format!("&#{}{};", if *upper { "X" } else { "x" }, hex(format!("{n:x}"))),
                    3 => NAMED.iter().find(|(_, v)| *v == c)
                        .map_or_else(|| format!("&#{n};"), |(name, _)| format!("&{name};")),
                    4 => hex(format!("%{n:02x}")),
                    5 if c == ' ' => "+".to_string(),
                    5 => format!("\\u{n:04x}"),
                    _ => hex(format!("%25{n:02x}")),
                };
                encoded.push_str(&piece);
            }
            let text = format!("{before}{quote}{encoded}{quote}{after}");
            let out = scrubber(&[&secret]).scrub_page(&text);
            let head = secret[..MIN_RUN].to_ascii_lowercase();
            for d in decodings(&out) {
                prop_assert!(!d.contains(&head), "{:?} -> {:?}", text, out);
            }
        }

        /// Issue 25, item 1: a secret in base64 or base64url, padded or not, at any alignment
        /// in a longer string (a Basic header of `client_id:secret`): no run of eight or more
        /// characters that encode only the secret's bytes survives.
        #[test]
        fn no_base64_of_a_secret_survives_at_any_alignment(
            secret in "[ -~]{6,30}",
            prefix in "[ -~]{0,12}",
            suffix in "[ -~]{0,6}",
            url_safe in any::<bool>(),
            pad in any::<bool>(),
            basic in any::<bool>(),
        ) {
            use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
            let data = format!("{prefix}{secret}{suffix}");
            let blob = match (url_safe, pad) {
                (false, true) => STANDARD.encode(&data),
                (false, false) => STANDARD_NO_PAD.encode(&data),
                (true, true) => URL_SAFE.encode(&data),
                (true, false) => URL_SAFE_NO_PAD.encode(&data),
            };
            let text = if basic {
                format!("Authorization: Basic {blob}")
            } else {
                format!("echo {blob} here")
            };
            let out = scrubber(&[&secret]).scrub_page(&text);
            // Characters whose six bits all come from the secret's bytes.
            let (p, q) = (prefix.len(), prefix.len() + secret.len());
            let own: Vec<bool> = (0..blob.len())
                .map(|c| (6 * c) / 8 >= p && (6 * c + 5) / 8 < q)
                .collect();
            for start in 0..blob.len().saturating_sub(7) {
                if own[start..start + 8].iter().all(|o| *o) {
                    prop_assert!(!out.contains(&blob[start..start + 8]), "{:?} -> {:?}", text, out);
                }
            }
        }

        /// Issue 25, item 1: codes and tokens nobody told the scrubber about, in a page's link,
        /// meta refresh, hidden input, JSON or fragment, plain or percent-encoded.
        #[test]
        fn codes_and_tokens_are_cut_wherever_a_page_puts_them(
            value in "[A-Za-z0-9_-]{6,40}",
            name in prop::sample::select(vec!["code", "access_token", "refresh_token", "id_token"]),
            context in 0usize..7,
        ) {
            let text = match context {
                0 => format!(r#"<a href="https://app.example/cb?{name}={value}&amp;state=s">go</a>"#),
                1 => format!(r#"<meta http-equiv="refresh" content="0; url=/cb?{name}={value}">"#),
                2 => format!(r#"<input type="hidden" name="{name}" value="{value}"/>"#),
                3 => format!(r#"{{"{name}": "{value}", "x": 1}}"#),
                4 => format!("Location: https://app/cb#{name}={value}&state=s"),
                5 => format!("next=https%3A%2F%2Fapp%2Fcb%3F{name}%3D{value}%26state%3Ds"),
                _ => format!("window.location = 'https:\\/\\/app\\/cb?{name}={value}';"),
            };
            let out = Scrubber::new().scrub_page(&text);
            prop_assert!(!out.contains(&value), "{:?} -> {:?}", text, out);
        }

        /// Ordinary words from inside a secret are left alone: the cut would say what the
        /// secret contains.
        #[test]
        fn pieces_from_inside_a_secret_are_not_cut(word in "[a-z]{6,12}") {
            let secret = format!("xq7-{word}");
            let text = format!("field {word} is required");
            prop_assert_eq!(scrubber(&[&secret]).scrub(&text), text);
        }
    }
}
