//! Where a secret hides inside a longer word (base64 of `client_id:secret`), and codes and
//! tokens cut by their shape alone: credential parameters, JWTs, `Bearer`/`Basic` headers.

use base64::Engine;
use zeroize::Zeroizing;

use super::decode::View;
use super::{MIN_BASE64_WORD, MIN_SHAPE_VALUE, Needle, common_run, hide};

/// Decodes every run of base64 (or base64url) characters, at each of the four places a 4-character
/// group may start, and cuts the whole run when a secret is in what it decodes to: a secret may
/// sit at any byte of a longer string (`client_id:secret` in a Basic header), and what
/// surrounds it in the run goes with it.
pub(super) fn mark_base64(view: &View, needles: &[Needle], hidden: &mut [bool]) {
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
pub(super) fn decode_base64(word: &[u8]) -> Vec<u8> {
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
pub(super) fn mark_shapes(view: &View, hidden: &mut [bool]) {
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
