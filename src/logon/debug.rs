//! Debug pages: each page the engine sees, written to a folder so a person can see why a logon
//! went wrong. Everything written passes through `redact` first; cookie values and the URL's
//! parameter values are never written at all.

use std::fs;
use std::path::{Path, PathBuf};

use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::LogonError;
use crate::oauth::http::redact_url;

pub struct DebugPages {
    dir: PathBuf,
    seq: u32,
}

/// One exchange, as it will be written.
pub struct Seen<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    pub sent_fields: &'a [String],
    pub status: u16,
    pub headers: &'a HeaderMap,
    pub body: &'a str,
}

impl DebugPages {
    pub fn new(dir: &Path) -> Result<Self, LogonError> {
        fs::create_dir_all(dir).map_err(|e| LogonError::DebugPages {
            dir: dir.to_path_buf(),
            reason: e.kind().to_string(),
        })?;
        Ok(DebugPages {
            dir: dir.to_path_buf(),
            seq: 0,
        })
    }

    pub fn write(&mut self, seen: &Seen<'_>, secrets: &[SecretString]) -> Result<(), LogonError> {
        self.seq += 1;
        let slug: String = seen
            .url
            .path()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(60)
            .collect();
        let file = self
            .dir
            .join(format!("{:02}-{}{}.html", self.seq, seen.method, slug));
        let mut out = format!(
            "<!-- keychain debug page {}\n{} {}\nsent fields: {}\nHTTP {}\n",
            self.seq,
            seen.method,
            redact_url(seen.url),
            seen.sent_fields.join(", "),
            seen.status
        );
        for (name, value) in seen.headers {
            let value = value.to_str().unwrap_or("[not text]");
            let shown = match name.as_str() {
                "set-cookie" => redact_cookie(value),
                "location" => Url::parse(value)
                    .or_else(|_| seen.url.join(value))
                    .map(|u| redact_url(&u))
                    .unwrap_or_else(|_| "[unparsable]".into()),
                _ => value.to_string(),
            };
            out.push_str(&format!("{name}: {}\n", redact(&shown, secrets)));
        }
        out.push_str("-->\n");
        out.push_str(&redact(seen.body, secrets));
        // Pages may still say more about an account than a person wants others to read (0600);
        // the folder is the user's choice, so never open a fixed name a neighbour could plant.
        crate::fsutil::write_atomic_unique(&file, out.as_bytes(), crate::fsutil::FILE_MODE).map_err(
            |e| LogonError::DebugPages {
                dir: self.dir.clone(),
                reason: e.kind().to_string(),
            },
        )
    }
}

/// `name=[redacted]; Path=/; HttpOnly`: the attributes help, the value is a session.
fn redact_cookie(value: &str) -> String {
    let mut parts = value.splitn(2, ';');
    let pair = parts.next().unwrap_or("");
    let name = pair.split('=').next().unwrap_or("").trim();
    match parts.next() {
        Some(attrs) => format!("{name}=[redacted];{attrs}"),
        None => format!("{name}=[redacted]"),
    }
}

/// Replaces every known secret, also in its URL-encoded and HTML-escaped forms.
pub fn redact(text: &str, secrets: &[SecretString]) -> String {
    let mut out = text.to_string();
    let mut variants: Vec<String> = Vec::new();
    for secret in secrets {
        let s = secret.expose_secret();
        if s.is_empty() {
            continue;
        }
        variants.push(s.to_string());
        variants.push(url::form_urlencoded::byte_serialize(s.as_bytes()).collect());
        variants.push(
            url::form_urlencoded::byte_serialize(s.as_bytes())
                .collect::<String>()
                .replace('+', "%20"),
        );
        variants.push(
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&#39;"),
        );
    }
    // Longest first, so a secret that contains another is replaced whole.
    variants.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for v in variants {
        out = out.replace(&v, "[redacted]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secret_in_all_its_forms() {
        let secrets = [SecretString::from("p@ss w&rd".to_string())];
        let text = "a p@ss w&rd b p%40ss+w%26rd c p%40ss%20w%26rd d p@ss w&amp;rd";
        assert_eq!(
            redact(text, &secrets),
            "a [redacted] b [redacted] c [redacted] d [redacted]"
        );
        assert_eq!(redact_cookie("sid=abc; Path=/"), "sid=[redacted]; Path=/");
    }
}
