//! The settings every HTTP client of keychain shares, and types that keep credentials out of
//! logs. A base module: it imports nothing of keychain, so the OAuth2 calls, the logon engine
//! and the OpenBao client can all build on it.
//!
//! Every network call goes through a client built from [`builder`], so that every call has a
//! timeout, TLS comes from one provider (ring) and no request is silently retried: a retried
//! password or a retried single-use refresh token can lock an account or burn a token chain.
//! Clients that carry an account's credentials add the loopback owner check
//! (`oauth::http::credential_builder`).
#![deny(missing_docs)]

use std::fmt;
use std::time::Duration;

use reqwest::blocking::{Client, ClientBuilder};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// How long a whole request (connect, send, read the answer) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take; an unreachable provider should fail fast.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest token or discovery answer read (a token answer is a few KiB; JWTs rarely pass 16).
pub const MAX_JSON_ANSWER: u64 = 1024 * 1024;
/// Largest logon page read (real ones are well under 1 MiB with inline scripts).
pub const MAX_PAGE: u64 = 8 * 1024 * 1024;

/// Why an answer's body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The answer said, or turned out, to be longer than the cap; what was read is dropped.
    #[error("the answer is larger than {limit} bytes, keychain's limit; it was not read")]
    TooLarge {
        /// The cap that was passed, in bytes.
        limit: u64,
    },
    /// The connection failed while reading; the cause is left out, as its text may carry the
    /// URL.
    #[error("the answer could not be read")]
    Read,
}

/// Reads an answer's body, at most `limit` bytes: a provider (or anything in between) that
/// answers with gigabytes gets a clean error, not a process that grows until the OOM killer
/// comes. The text is zeroized on drop, as it may hold tokens; invalid UTF-8 is replaced.
pub fn read_capped(
    resp: reqwest::blocking::Response,
    limit: u64,
) -> Result<zeroize::Zeroizing<String>, BodyError> {
    use std::io::Read;
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut raw = zeroize::Zeroizing::new(Vec::new());
    resp.take(limit + 1)
        .read_to_end(&mut raw)
        .map_err(|_| BodyError::Read)?;
    if raw.len() as u64 > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(zeroize::Zeroizing::new(
        String::from_utf8_lossy(&raw).into_owned(),
    ))
}

/// [`read_capped`] for reqwest's async client: the same cap, the same errors, and the bytes
/// gathered only in zeroized buffers (a buffer outgrown is zeroized before it is dropped).
pub async fn read_capped_async(
    mut resp: reqwest::Response,
    limit: u64,
) -> Result<zeroize::Zeroizing<String>, BodyError> {
    let announced = resp.content_length();
    if announced.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut raw = zeroize::Zeroizing::new(Vec::with_capacity(
        usize::try_from(announced.unwrap_or(0)).unwrap_or(0),
    ));
    while let Some(chunk) = resp.chunk().await.map_err(|_| BodyError::Read)? {
        if (raw.len() + chunk.len()) as u64 > limit {
            return Err(BodyError::TooLarge { limit });
        }
        if raw.capacity() - raw.len() < chunk.len() {
            // Grow by hand: `Vec` would free the old buffer without zeroizing it.
            let mut bigger = zeroize::Zeroizing::new(Vec::with_capacity(
                (raw.len() + chunk.len()).max(2 * raw.capacity()),
            ));
            bigger.extend_from_slice(&raw);
            raw = bigger;
        }
        raw.extend_from_slice(&chunk);
    }
    Ok(zeroize::Zeroizing::new(
        String::from_utf8_lossy(&raw).into_owned(),
    ))
}

/// The settings of [`builder`] for reqwest's async client (no runtime thread of its own: the
/// caller drives it, see the OpenBao client's `transport`). Keep the two in step.
pub fn async_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .tls_backend_rustls()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .user_agent(concat!("keychain/", env!("CARGO_PKG_VERSION")))
}

/// The settings every keychain client shares; the logon engine adds its own cookie jar.
pub fn builder() -> ClientBuilder {
    // reqwest is built without a TLS provider so that exactly one (ring) is compiled in; install
    // it once per process. A second install fails harmlessly, which is why the result is ignored.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .tls_backend_rustls()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        // Redirects are followed by the logon engine itself, so it can stop at the redirect URI
        // (where nothing listens) and see every page; a token endpoint never redirects.
        .redirect(reqwest::redirect::Policy::none())
        // Exactly one attempt per call: a password or a single-use token must never go twice.
        .retry(reqwest::retry::never())
        .user_agent(concat!("keychain/", env!("CARGO_PKG_VERSION")))
}

/// A URL that may carry credentials in its query or fragment (an authorization code, a token,
/// a state). `Display` and `Debug` show scheme, host, path and the parameter NAMES only.
#[derive(Clone, PartialEq, Eq)]
pub struct RedactedUrl(Url);

impl RedactedUrl {
    /// Wraps `url`; from here on only [`Self::expose_url`] shows its query and fragment.
    pub fn new(url: Url) -> Self {
        RedactedUrl(url)
    }

    /// The full URL, for the one place that must send it.
    pub fn expose_url(&self) -> &Url {
        &self.0
    }

    /// The path alone: safe in errors ("which page"), never carries a value.
    pub fn path(&self) -> &str {
        self.0.path()
    }
}

impl fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedactedUrl({self})")
    }
}

/// `scheme://host:port/path?name=***#name=***`: what a person needs to recognise a URL.
pub fn redact_url(url: &Url) -> String {
    let mut out = format!("{}://", url.scheme());
    out.push_str(url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(url.path());
    let names = |s: &str| {
        url::form_urlencoded::parse(s.as_bytes())
            .map(|(k, _)| format!("{k}=***"))
            .collect::<Vec<_>>()
            .join("&")
    };
    if let Some(q) = url.query() {
        out.push('?');
        out.push_str(&names(q));
    }
    if let Some(f) = url.fragment() {
        out.push('#');
        out.push_str(&names(f));
    }
    out
}

/// A form body whose values may be secrets. `Debug` lists the field names only.
#[derive(Clone, Default)]
pub struct SecretForm(Vec<(String, SecretString)>);

impl SecretForm {
    /// An empty body.
    pub fn new() -> Self {
        SecretForm(Vec::new())
    }

    /// Appends a field whose value may be a secret (a password, a code, a token). Fields keep
    /// their order, and a name may repeat, as in an HTML form.
    pub fn push(&mut self, name: impl Into<String>, value: SecretString) {
        self.0.push((name.into(), value));
    }

    /// A value that is not secret (grant type, client id, a hidden field of a form).
    pub fn push_plain(&mut self, name: impl Into<String>, value: &str) {
        self.push(name, SecretString::from(value.to_string()));
    }

    /// The field names in order: what an error or a debug page may show of the body.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|(k, _)| k.clone()).collect()
    }

    /// Whether a field called `name` is in the body.
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// The `application/x-www-form-urlencoded` body, for the one place that sends it. The
    /// string is handed straight to the request and dropped with it.
    pub fn encode(&self) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            ser.append_pair(k, v.expose_secret());
        }
        ser.finish()
    }
}

impl fmt::Debug for SecretForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_url_shows_names_not_values() {
        let url =
            Url::parse("http://127.0.0.1:8765/callback?code=s3cr3t&state=x#access_token=zzval")
                .unwrap();
        let shown = format!(
            "{} {:?}",
            RedactedUrl::new(url.clone()),
            RedactedUrl::new(url)
        );
        assert!(shown.contains("/callback?code=***&state=***#access_token=***"));
        assert!(!shown.contains("s3cr3t") && !shown.contains("zzval"));
    }

    #[test]
    fn secret_form_debug_lists_names_only() {
        let mut form = SecretForm::new();
        form.push("password", SecretString::from("hunter2".to_string()));
        assert_eq!(format!("{form:?}"), "[\"password\"]");
        assert_eq!(form.encode(), "password=hunter2");
    }
}
