//! Provider text (an `error_description`, an error in a redirect, a page's field names) is shown
//! to people and written to the audit log; a provider may echo back what it was sent. Before any
//! of it is kept, every secret of the account is cut out of it: whole, or its first six
//! characters or more (a "short refresh token prefix"), in any letter case.
//!
//! Only prefixes, not any piece: cutting every six-letter run found anywhere in a secret would
//! cut ordinary words out of provider text (a field called `password` when the password is
//! `wrong-password`), and the cut itself would tell the reader what the secret contains.

use secrecy::{ExposeSecret, SecretString};

/// A secret's first characters, this many or more, are cut out of provider text.
pub const MIN_RUN: usize = 6;
/// Secrets shorter than [`MIN_RUN`] are cut out whole, down to this length (shorter ones
/// cannot be told from ordinary text).
const MIN_WHOLE: usize = 3;
/// Provider text longer than this is cut before scrubbing; nobody reads more in an error.
const MAX_TEXT: usize = 2048;

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

impl Scrubber {
    pub fn new() -> Self {
        Scrubber::default()
    }

    pub fn add(&mut self, secret: &SecretString) {
        if secret.expose_secret().len() >= MIN_WHOLE {
            self.secrets.push(secret.clone());
        }
    }

    /// `text` without any secret: every place where a secret starts (in any ASCII letter case)
    /// and runs on for at least [`MIN_RUN`] bytes, or for the whole of a shorter secret, becomes
    /// `[redacted]` as far as the match goes.
    pub fn scrub(&self, text: &str) -> String {
        let text = cut(text, MAX_TEXT);
        let t = text.as_bytes();
        let mut hidden = vec![false; t.len()];
        for secret in &self.secrets {
            let s = secret.expose_secret().as_bytes();
            let min = MIN_RUN.min(s.len());
            for i in 0..t.len() {
                let run = common_run(&t[i..], s);
                if run >= min {
                    hidden[i..i + run].iter_mut().for_each(|h| *h = true);
                }
            }
        }
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
