//! Text for people: counts with their noun in the right number, and the one function that
//! escapes control characters before anything from a record, a file or a server reaches a
//! terminal. Pure functions: the CLI decides where the text goes.
#![deny(missing_docs)]

use std::borrow::Cow;
use std::fmt::Write as _;

/// A count with its noun in the right number: `count(1, "line", "lines")` is "1 line", never
/// "1 lines" or "1 line(s)".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A duration for people, in words, its two largest units: "1 day 1 hour", "25 minutes",
/// "8 hours", "30 seconds" (never humantime's "1day 1h"). Every duration keychain prints is
/// said by this function, so they all read alike.
pub fn duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return "less than a second".into();
    }
    let units = [
        (secs / 86_400, "day", "days"),
        (secs % 86_400 / 3_600, "hour", "hours"),
        (secs % 3_600 / 60, "minute", "minutes"),
        (secs % 60, "second", "seconds"),
    ];
    let first = units.iter().position(|(n, _, _)| *n > 0).unwrap_or(3);
    units[first..]
        .iter()
        .take(2)
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| count(*n as usize, one, many))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Escapes control characters for a terminal, keeping line breaks: the filter every human write
/// passes through.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_controls(text, true)
}

/// Escapes control characters including line breaks: for one value placed on a line (a table
/// cell, a field of `show`), so a value cannot start a line that looks like another row.
pub fn escape_value(text: &str) -> Cow<'_, str> {
    escape_controls(text, false)
}

/// The one escaping function. Escapes C0 controls (ESC, CR, BEL, ...), DEL, C1 controls
/// (U+0080..U+009F, which some terminals obey like ESC sequences), and the Unicode bidi
/// controls and line separators that reorder or break what a person reads.
fn escape_controls(text: &str, keep_newline: bool) -> Cow<'_, str> {
    let needs = |c: char| needs_escape(c) && !(keep_newline && c == '\n');
    if !text.chars().any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !needs(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'               // Arabic letter mark
            | '\u{200e}' | '\u{200f}' // left-to-right and right-to-left marks
            | '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{202a}'..='\u{202e}' // embeddings and overrides
            | '\u{2066}'..='\u{2069}' // isolates
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_as_words_with_their_two_largest_units() {
        use std::time::Duration;
        let said = |s: u64| super::duration(Duration::from_secs(s));
        assert_eq!(said(90_000), "1 day 1 hour");
        assert_eq!(said(86_400), "1 day");
        assert_eq!(said(2 * 86_400 + 59), "2 days");
        assert_eq!(said(8 * 3_600), "8 hours");
        assert_eq!(said(3_660), "1 hour 1 minute");
        assert_eq!(said(61), "1 minute 1 second");
        assert_eq!(said(1), "1 second");
        assert_eq!(
            super::duration(Duration::from_millis(300)),
            "less than a second"
        );
    }

    use super::*;

    #[test]
    fn escapes_c0_c1_del_and_bidi_controls() {
        assert_eq!(
            escape("a\x1b[31mb\rc\x07d\u{9b}e\x7ff"),
            "a\\x1b[31mb\\x0dc\\x07d\\x9be\\x7ff"
        );
        assert_eq!(escape("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(escape("x\u{2066}y\u{2069}"), "x\\u{2066}y\\u{2069}");
    }

    #[test]
    fn human_text_keeps_its_line_breaks_but_a_value_does_not() {
        assert_eq!(escape("one\ntwo\n"), "one\ntwo\n");
        assert_eq!(escape_value("one\ntwo\t"), "one\\x0atwo\\x09");
    }

    proptest::proptest! {
        #[test]
        fn no_escaped_text_holds_a_control_character(text in proptest::prelude::any::<String>()) {
            let value = escape_value(&text);
            proptest::prop_assert!(!value.chars().any(needs_escape));
            let human = escape(&text);
            proptest::prop_assert!(!human.chars().any(|c| needs_escape(c) && c != '\n'));
            // Human text keeps exactly its own line breaks.
            proptest::prop_assert_eq!(human.matches('\n').count(), text.matches('\n').count());
            // Text with nothing to escape is left as it is.
            if !text.chars().any(needs_escape) {
                proptest::prop_assert_eq!(value.as_ref(), text.as_str());
            }
        }
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "Bob Müller — 日本 <dwho@example.com>";
        assert!(matches!(escape_value(text), Cow::Borrowed(t) if t == text));
    }
}
