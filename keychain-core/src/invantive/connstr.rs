//! `key=value;` connection strings and XML attribute escapes, with byte spans, so that secrets
//! can be reported by position and cut out without touching the bytes around them.

use std::ops::Range;

/// One `key=value` pair. `span` runs from the key to just past its `;` (if any).
#[derive(Debug)]
pub(crate) struct Pair<'a> {
    pub key: &'a str,
    pub value: String,
    pub span: Range<usize>,
}

/// Splits a connection string into pairs. Values may be quoted with `"` or `'` (a doubled quote
/// inside stands for one) so that they can hold `;`. Tokens without `=` are skipped.
pub(crate) fn parse(s: &str) -> Vec<Pair<'_>> {
    let bytes = s.as_bytes();
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i] == b';' || bytes[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b';' {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] == b';' {
            continue; // a bare token, not a pair
        }
        let key = s[start..i].trim();
        i += 1;
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        let mut value = String::new();
        if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
            let quote = bytes[i];
            i += 1;
            let mut from = i;
            loop {
                match bytes[i..].iter().position(|&b| b == quote) {
                    None => {
                        value.push_str(&s[from..]);
                        i = bytes.len();
                        break;
                    }
                    Some(at) => {
                        let q = i + at;
                        value.push_str(&s[from..q]);
                        if bytes.get(q + 1) == Some(&quote) {
                            value.push(quote as char);
                            i = q + 2;
                            from = i;
                        } else {
                            i = q + 1;
                            break;
                        }
                    }
                }
            }
            // Anything between the closing quote and the `;` is dropped, like most drivers do.
            while i < bytes.len() && bytes[i] != b';' {
                i += 1;
            }
        } else {
            let from = i;
            while i < bytes.len() && bytes[i] != b';' {
                i += 1;
            }
            value.push_str(s[from..i].trim());
        }
        if i < bytes.len() {
            i += 1; // the `;`
        }
        pairs.push(Pair {
            key,
            value,
            span: start..i,
        });
    }
    pairs
}

/// Spans to delete so that `pairs[which]` disappear and the rest stays a valid connection
/// string: a removed last pair without its own `;` takes the `;` before it along.
pub(crate) fn removal_spans(s: &str, pairs: &[&Pair<'_>]) -> Vec<Range<usize>> {
    let bytes = s.as_bytes();
    let mut spans: Vec<Range<usize>> = pairs
        .iter()
        .map(|p| {
            let mut span = p.span.clone();
            let ends_with_separator = span.end > span.start && bytes[span.end - 1] == b';';
            if !ends_with_separator {
                let mut j = span.start;
                while j > 0 && bytes[j - 1].is_ascii_whitespace() {
                    j -= 1;
                }
                if j > 0 && bytes[j - 1] == b';' {
                    span.start = j - 1;
                }
            }
            span
        })
        .collect();
    spans.sort_by_key(|r| r.start);
    merge(spans)
}

pub(crate) fn merge(spans: Vec<Range<usize>>) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for span in spans {
        match out.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => out.push(span),
        }
    }
    out
}

/// An XML attribute value decoded the way an XML parser does (entities, character references,
/// whitespace normalisation), with `map[i]` = offset in `raw` of the byte that produced decoded
/// byte `i`, and `map[len]` = `raw.len()`. `None` for an undecodable reference.
pub(crate) fn decode_attribute(raw: &str) -> Option<(String, Vec<usize>)> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut map = Vec::with_capacity(raw.len() + 1);
    let mut i = 0;
    let push = |out: &mut String, map: &mut Vec<usize>, c: char, at: usize| {
        for _ in 0..c.len_utf8() {
            map.push(at);
        }
        out.push(c);
    };
    while i < bytes.len() {
        match bytes[i] {
            b'&' => {
                let end = i + bytes[i..].iter().position(|&b| b == b';')?;
                let name = &raw[i + 1..end];
                let c = match name {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => {
                        let code = if let Some(hex) = name.strip_prefix("#x") {
                            u32::from_str_radix(hex, 16).ok()?
                        } else {
                            name.strip_prefix('#')?.parse().ok()?
                        };
                        char::from_u32(code)?
                    }
                };
                push(&mut out, &mut map, c, i);
                i = end + 1;
            }
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                push(&mut out, &mut map, ' ', i);
                i += 2;
            }
            b'\t' | b'\n' | b'\r' => {
                push(&mut out, &mut map, ' ', i);
                i += 1;
            }
            _ => {
                let c = raw[i..].chars().next()?;
                push(&mut out, &mut map, c, i);
                i += c.len_utf8();
            }
        }
    }
    map.push(raw.len());
    Some((out, map))
}

/// Decodes XML entities in a value found in plain text, only to judge it (an empty value or a
/// `****` placeholder is no secret); leaves unknown ones as they are.
pub(crate) fn unescape_lossy(text: &str) -> String {
    decode_attribute(text)
        .map(|(s, _)| s)
        .unwrap_or_else(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(s: &str) -> Vec<(String, String)> {
        parse(s)
            .into_iter()
            .map(|p| (p.key.to_string(), p.value))
            .collect()
    }

    #[test]
    fn parses_plain_and_quoted_values() {
        assert_eq!(
            kv(r#"a=1; password="x;y""z" ;b = two;bare;c='q'"#),
            vec![
                ("a".into(), "1".into()),
                ("password".into(), "x;y\"z".into()),
                ("b".into(), "two".into()),
                ("c".into(), "q".into())
            ]
        );
    }

    #[test]
    fn removal_keeps_the_rest_valid() {
        let cut = |s: &str, key: &str| {
            let pairs = parse(s);
            let chosen: Vec<&Pair<'_>> = pairs.iter().filter(|p| p.key == key).collect();
            let mut out = s.to_string();
            for span in removal_spans(s, &chosen).into_iter().rev() {
                out.replace_range(span, "");
            }
            out
        };
        assert_eq!(cut("a=1;p=2;b=3", "p"), "a=1;b=3");
        assert_eq!(cut("a=1;p=2", "p"), "a=1");
        assert_eq!(cut("a=1;p=2;", "p"), "a=1;");
        assert_eq!(cut("p=2;a=1", "p"), "a=1");
        assert_eq!(cut("p=2", "p"), "");
    }

    #[test]
    fn decodes_entities_with_a_map_back_to_raw() {
        let (s, map) = decode_attribute("a&amp;b&#x27;c&#34;d\te").unwrap();
        assert_eq!(s, "a&b'c\"d e");
        assert_eq!(map[1], 1); // '&' from "&amp;"
        assert_eq!(map[2], 6); // 'b'
        assert_eq!(*map.last().unwrap(), "a&amp;b&#x27;c&#34;d\te".len());
        assert!(decode_attribute("broken &amp").is_none());
    }
}
