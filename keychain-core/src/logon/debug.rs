//! Debug pages: each page the engine sees, written to a folder so a person can see why a logon
//! went wrong. Everything written passes through `redact` first; cookie values and the URL's
//! parameter values are never written at all.
#![deny(missing_docs)]

use std::fs;
use std::path::{Path, PathBuf};

use reqwest::header::HeaderMap;

use url::Url;

use super::LogonError;
use crate::http::redact_url;
use crate::scrub::Scrubber;

pub struct DebugPages {
    dir: PathBuf,
    /// Time and process id: file names of two runs never meet (files are created, never
    /// opened if they exist).
    run: String,
    seq: u32,
}

/// An existing debug folder must be a real folder (not a link), owned by us, and writable by
/// nobody else.
#[cfg(unix)]
fn check_private_dir(meta: &fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    if !meta.is_dir() {
        return Err("it exists and is not a folder (a symbolic link is not followed)".into());
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err("the folder belongs to another user; give a folder of your own".into());
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "the folder is writable by group or others (mode {:o}); use a private folder (chmod 700)",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_dir(meta: &fs::Metadata) -> Result<(), String> {
    if meta.is_dir() {
        Ok(())
    } else {
        Err("it exists and is not a folder".into())
    }
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
    /// Opens `dir` for debug pages: created with mode 0700 when missing; refused when it exists
    /// but is not a folder of this user's that only this user can write to (anyone who can
    /// write there could swap a page for a link, or read what the next logon writes).
    /// `now` (Unix seconds) names this run's pages.
    pub fn new(dir: &Path, now: i64) -> Result<Self, LogonError> {
        let fail = |reason: String| LogonError::DebugPages {
            dir: dir.to_path_buf(),
            reason,
        };
        match fs::symlink_metadata(dir) {
            Ok(meta) => check_private_dir(&meta).map_err(fail)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::fsutil::ensure_private_dir(dir).map_err(|e| fail(e.kind().to_string()))?
            }
            Err(e) => return Err(fail(e.kind().to_string())),
        }
        Ok(DebugPages {
            dir: dir.to_path_buf(),
            run: format!("{now}-{}", std::process::id()),
            seq: 0,
        })
    }

    /// Writes one exchange; every header and the body pass through `scrubber` (the account's
    /// secrets and this logon's, in every encoding, and codes and tokens by their shape).
    pub fn write(&mut self, seen: &Seen<'_>, scrubber: &Scrubber) -> Result<(), LogonError> {
        self.seq += 1;
        let slug: String = seen
            .url
            .path()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(60)
            .collect();
        let file = self.dir.join(format!(
            "{}-{:02}-{}{}.html",
            self.run, self.seq, seen.method, slug
        ));
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
            out.push_str(&format!("{name}: {}\n", scrubber.scrub_page(&shown)));
        }
        out.push_str("-->\n");
        out.push_str(&scrubber.scrub_page(seen.body));
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

/// Replaces every known secret, in every encoding the scrubber knows, and every code or token
/// by its shape (see [`Scrubber`]); the whole text is kept.
#[cfg(test)]
fn redact(text: &str, secrets: &[secrecy::SecretString]) -> String {
    let mut scrubber = Scrubber::new();
    for secret in secrets {
        scrubber.add(secret);
    }
    scrubber.scrub_page(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn debug_folder_is_created_private_and_shared_ones_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let fresh = tmp.path().join("pages");
        DebugPages::new(&fresh, 0).unwrap();
        let mode = fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);

        let shared = tmp.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        let err = DebugPages::new(&shared, 0)
            .err()
            .expect("a world-writable folder is refused");
        assert!(
            err.to_string().contains("writable by group or others"),
            "{err}"
        );

        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        assert!(DebugPages::new(&link, 0).is_err(), "a link is not followed");
    }

    /// Issue 25, item 1: a page that echoes the password as PHP and Python escape it, the
    /// client secret percent-encoded in quotes and in a Basic header of `client_id:secret`, and
    /// carries an authorization code nobody told keychain about in a link, a meta refresh and
    /// a `Refresh` header: the page written holds none of them.
    #[test]
    fn a_debug_page_holds_no_secret_in_any_encoding_nor_a_code() {
        use base64::Engine;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pages");
        let mut pages = DebugPages::new(&dir, 0).unwrap();
        let password = "pa'ss<w0rd>";
        let secret = "cs-Se cret/42+x";
        let mut scrubber = Scrubber::new();
        scrubber.add(&secrecy::SecretString::from(password.to_string()));
        scrubber.add(&secrecy::SecretString::from(secret.to_string()));
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("my-client:{secret}"));
        let mut headers = HeaderMap::new();
        headers.insert(
            "www-authenticate",
            format!("Basic {basic}").parse().unwrap(),
        );
        headers.insert(
            "refresh",
            "0; url=https://app.example/cb?code=HeaderCode123456"
                .parse()
                .unwrap(),
        );
        let body = format!(
            r#"<p>php pa&#039;ss&lt;w0rd&gt; python pa&#x27;ss&lt;w0rd&gt;</p>
<p>"cs-Se%20cret%2F42%2Bx" and 'cs-Se+cret%2f42%2bx'</p>
<p>echo {basic}</p>
<a href="https://app.example/cb?code=LinkCode987654&amp;state=s">continue</a>
<meta http-equiv="refresh" content="0;url=https://app.example/cb?code=MetaCode13579">"#
        );
        let url = Url::parse("http://127.0.0.1:1/login").unwrap();
        pages
            .write(
                &Seen {
                    method: "POST",
                    url: &url,
                    sent_fields: &[],
                    status: 200,
                    headers: &headers,
                    body: &body,
                },
                &scrubber,
            )
            .unwrap();
        let entries: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(entries.len(), 1);
        let written = fs::read_to_string(entries[0].as_ref().unwrap().path()).unwrap();
        for leak in [
            "pa&#039;ss",
            "pa&#x27;ss",
            "cs-Se%20cret",
            "cs-Se+cret",
            &basic[..12],
            "HeaderCode123456",
            "LinkCode987654",
            "MetaCode13579",
        ] {
            assert!(!written.contains(leak), "{leak} in {written}");
        }
        assert!(written.contains("continue"), "{written}");
    }

    #[test]
    fn redacts_secret_in_all_its_forms() {
        let secrets = [secrecy::SecretString::from("p@ss w&rd".to_string())];
        let text = "a p@ss w&rd b p%40ss+w%26rd c p%40ss%20w%26rd d p@ss w&amp;rd";
        assert_eq!(
            redact(text, &secrets),
            "a [redacted] b [redacted] c [redacted] d [redacted]"
        );
        assert_eq!(redact_cookie("sid=abc; Path=/"), "sid=[redacted]; Path=/");
    }
}
