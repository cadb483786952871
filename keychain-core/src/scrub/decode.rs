//! The decodings a scrubber reads provider text in: HTML character references, percent-escapes
//! and backslash escapes, once and twice, each byte mapped back to where it came from in the
//! original text.

/// The text as decoded once or twice: each byte with the offset in the original text where
/// what it was decoded from starts (offsets rise monotonically).
pub(super) struct View {
    pub(super) bytes: Vec<u8>,
    /// `None`: the original text itself.
    start: Option<Vec<u32>>,
    /// The original text's length.
    len: usize,
}

impl View {
    /// The original byte range `[a, b)` of this view's bytes `a..b`.
    pub(super) fn original(&self, a: usize, b: usize) -> (usize, usize) {
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
pub(super) fn views(t: &[u8]) -> Vec<View> {
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
pub(super) const NAMED: &[(&str, char)] = &[
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
