//! The KV version 2 client: one keep-alive HTTP client per process (built at the first call,
//! and never torn down: see `transport`), a token obtained once and kept no longer than its
//! TTL (an AppRole login's token also across runs, in the kernel keyring: see `session` and
//! `token_cache`), and one typed error per way a call can fail.
//!
//! Every call has a timeout ([`REQUEST_TIMEOUT`]), goes to exactly one address and is sent
//! once (reqwest never retries): a write is a check-and-set, and a conflict is the caller's to
//! decide on. A 403 is looked into with `auth/token/lookup-self`: when the token itself is no
//! longer valid the client logs in again once (AppRole, or a token file re-read) and repeats the
//! call; otherwise the error names the path and the capability the policy lacks.
//!
//! Tokens, role ids and secret ids are `SecretString`s; the header that carries the token is
//! marked sensitive; no error or `Debug` output shows any of them.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use url::Url;

use super::auth::{Auth, Token};
pub use super::error::BaoError;
use super::settings::OpenBaoSettings;

mod session;
mod transport;

use session::kept_token_key;
use transport::{Http, Trust};

/// How long connecting may take: an unreachable server fails fast.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a whole call may take. Short, because a lock holder renews its lease with calls
/// like these and must know in time whether it still holds it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// A KV entry as read: its data (absent when the key does not exist or its current version is
/// deleted or expired) and its current version (0 when the key never existed).
#[derive(Clone)]
pub struct KvEntry {
    /// The entry's fields; may hold a sealed record, so `Debug` shows only their names.
    pub data: Option<Map<String, Value>>,
    /// The current version, for check-and-set writes.
    pub version: u64,
}

impl fmt::Debug for KvEntry {
    // The data may be a sealed record: only its field names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvEntry")
            .field(
                "fields",
                &self.data.as_ref().map(|d| d.keys().collect::<Vec<_>>()),
            )
            .field("version", &self.version)
            .finish()
    }
}

/// A KV v2 client for one server; cheap to clone (the lease renewer holds one).
#[derive(Clone)]
pub struct KvClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: Http,
    base: Url,
    /// The address as given, for messages.
    addr: String,
    auth: Auth,
    token: Mutex<Option<Token>>,
    /// The kernel keyring key that keeps an AppRole login's token across runs; `None` for a
    /// token given from outside (it is not ours to keep).
    kept_as: Option<String>,
}

impl fmt::Debug for KvClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvClient")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

/// A read [`KvClient::start_read`] sent, to be answered by [`KvClient::finish_read`].
pub struct StartedRead(session::StartedCall);

/// A write [`KvClient::start_write`] sent, to be answered by [`KvClient::finish_write`].
pub struct StartedWrite(session::StartedCall);

/// What a call answered: its status and its JSON body (`Null` when empty).
struct Answer {
    status: StatusCode,
    body: Value,
}

impl KvClient {
    /// A client for the server in `settings`, authenticating as they say. Reads no secret yet:
    /// the token is obtained at the first call.
    pub fn new(settings: &OpenBaoSettings) -> Result<Self, BaoError> {
        let base = settings.validate().map_err(BaoError::Settings)?;
        let trust = if let Some(ca) = &settings.ca_cert {
            let pem = crate::fsutil::read_regular(ca, 1 << 20).map_err(|e| {
                BaoError::Settings(format!(
                    "cannot read the CA certificate {}: {e}",
                    ca.display()
                ))
            })?;
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| {
                BaoError::Settings(format!(
                    "{} holds no PEM certificate: give the CA's certificate in PEM form",
                    ca.display()
                ))
            })?;
            Trust::OnlyCa(pem)
        } else if base.scheme() == "http" {
            Trust::NoTls
        } else {
            Trust::System
        };
        let http = Http::new(trust);
        let auth = Auth::from_settings(&settings.auth)?;
        let addr = base.as_str().trim_end_matches('/').to_string();
        let kept_as = match &auth {
            Auth::AppRole {
                role_id_file,
                secret_id_file,
            } => kept_token_key(&addr, role_id_file, secret_id_file),
            Auth::Static { .. } => None,
        };
        Ok(KvClient {
            inner: Arc::new(Inner {
                http,
                addr,
                base,
                auth,
                token: Mutex::new(None),
                kept_as,
            }),
        })
    }

    /// The server's address, for messages.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// Reads `MOUNT/data/PATH`: its data and version, or no data (with the version of the
    /// deleted or expired current version, 0 when the key never existed).
    pub fn read(&self, mount: &str, path: &str) -> Result<KvEntry, BaoError> {
        let api = format!("{mount}/data/{path}");
        let answer = self.call(Method::GET, &api, None, "read")?;
        self.entry(&api, answer)
    }

    /// [`Self::read`] sent now and answered at [`Self::finish_read`]: whatever this thread
    /// does meanwhile, another call to the store included, overlaps its round trip.
    pub fn start_read(&self, mount: &str, path: &str) -> Result<StartedRead, BaoError> {
        let api = format!("{mount}/data/{path}");
        Ok(StartedRead(self.start_call(
            Method::GET,
            api,
            None,
            "read",
        )?))
    }

    /// The answer of [`Self::start_read`], as [`Self::read`] gives it.
    pub fn finish_read(&self, started: StartedRead) -> Result<KvEntry, BaoError> {
        let api = started.0.api().to_string();
        let answer = self.finish_call(started.0)?;
        self.entry(&api, answer)
    }

    /// A read's answer as an entry.
    fn entry(&self, api: &str, answer: Answer) -> Result<KvEntry, BaoError> {
        let version = answer
            .body
            .pointer("/data/metadata/version")
            .and_then(Value::as_u64);
        match answer.status {
            StatusCode::OK => {
                let data = match answer.body.pointer("/data/data") {
                    Some(Value::Object(map)) => Some(map.clone()),
                    // A deleted version read with 200 on some servers: data is null.
                    Some(Value::Null) | None => None,
                    Some(_) => return Err(self.bad(api, "data.data is not an object")),
                };
                let version = version.ok_or_else(|| self.bad(api, "no metadata.version"))?;
                Ok(KvEntry { data, version })
            }
            // A deleted (or expired) current version still carries its metadata; a key that
            // never existed carries none.
            StatusCode::NOT_FOUND => Ok(KvEntry {
                data: None,
                version: version.unwrap_or(0),
            }),
            status => Err(self.unexpected(api, status, &answer.body)),
        }
    }

    /// Writes `data` to `MOUNT/data/PATH` if the key's current version is `cas` (0: if the key
    /// does not exist). Returns the new version.
    pub fn write(
        &self,
        mount: &str,
        path: &str,
        data: Map<String, Value>,
        cas: u64,
    ) -> Result<u64, BaoError> {
        let api = format!("{mount}/data/{path}");
        let answer = self.call(
            Method::POST,
            &api,
            Some(&write_body(data, cas)),
            write_capability(cas),
        )?;
        self.written(&api, answer)
    }

    /// [`Self::write`] sent now and answered at [`Self::finish_write`]: whatever this thread
    /// does meanwhile overlaps its round trip (a cached `login` syncs its copy of the trail
    /// while its event is written: issue 20, item 7).
    pub fn start_write(
        &self,
        mount: &str,
        path: &str,
        data: Map<String, Value>,
        cas: u64,
    ) -> Result<StartedWrite, BaoError> {
        let api = format!("{mount}/data/{path}");
        let body = write_body(data, cas);
        Ok(StartedWrite(self.start_call(
            Method::POST,
            api,
            Some(body),
            write_capability(cas),
        )?))
    }

    /// The answer of [`Self::start_write`], as [`Self::write`] gives it.
    pub fn finish_write(&self, started: StartedWrite) -> Result<u64, BaoError> {
        let api = started.0.api().to_string();
        let answer = self.finish_call(started.0)?;
        self.written(&api, answer)
    }

    /// A write's answer: the new version, or a check-and-set conflict.
    fn written(&self, api: &str, answer: Answer) -> Result<u64, BaoError> {
        match answer.status {
            StatusCode::OK => answer
                .body
                .pointer("/data/version")
                .and_then(Value::as_u64)
                .ok_or_else(|| self.bad(api, "no data.version in the answer")),
            StatusCode::BAD_REQUEST
                if errors_mention(&answer.body, "check-and-set parameter did not match") =>
            {
                Err(BaoError::CasConflict {
                    addr: self.addr().to_string(),
                    path: api.to_string(),
                })
            }
            status => Err(self.unexpected(api, status, &answer.body)),
        }
    }

    /// The keys directly under `MOUNT/metadata/PREFIX/` (folders end in `/`), sorted; empty
    /// when there are none.
    pub fn list(&self, mount: &str, prefix: &str) -> Result<Vec<String>, BaoError> {
        let api = format!("{mount}/metadata/{}/", prefix.trim_end_matches('/'));
        let answer = self.call(Method::GET, &format!("{api}?list=true"), None, "list")?;
        match answer.status {
            StatusCode::OK => {
                let mut names = self.strings(&answer.body, "/data/keys", &api)?;
                names.sort();
                Ok(names)
            }
            StatusCode::NOT_FOUND => Ok(Vec::new()),
            status => Err(self.unexpected(&api, status, &answer.body)),
        }
    }

    /// Soft-deletes the given versions of `MOUNT/data/PATH` (and only those: a later version
    /// written by someone else stays).
    pub fn delete_versions(
        &self,
        mount: &str,
        path: &str,
        versions: &[u64],
    ) -> Result<(), BaoError> {
        let api = format!("{mount}/delete/{path}");
        let body = json!({ "versions": versions });
        let answer = self.call(Method::POST, &api, Some(&body), "update")?;
        match answer.status {
            StatusCode::OK | StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => Ok(()),
            status => Err(self.unexpected(&api, status, &answer.body)),
        }
    }

    /// Removes a key with every version and its metadata (`DELETE MOUNT/metadata/PATH`).
    pub fn destroy(&self, mount: &str, path: &str) -> Result<(), BaoError> {
        let api = format!("{mount}/metadata/{path}");
        let answer = self.call(Method::DELETE, &api, None, "delete")?;
        match answer.status {
            StatusCode::OK | StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => Ok(()),
            status => Err(self.unexpected(&api, status, &answer.body)),
        }
    }

    /// Sets a key's `delete_version_after`: each of its versions reads as deleted once that
    /// time has passed on the server's clock (the lease of a lock key).
    pub fn set_delete_version_after(
        &self,
        mount: &str,
        path: &str,
        after: Duration,
    ) -> Result<(), BaoError> {
        let api = format!("{mount}/metadata/{path}");
        let body = json!({ "delete_version_after": format!("{}ms", after.as_millis()) });
        let answer = self.call(Method::POST, &api, Some(&body), "update")?;
        match answer.status {
            StatusCode::OK | StatusCode::NO_CONTENT => Ok(()),
            status => Err(self.unexpected(&api, status, &answer.body)),
        }
    }

    /// A key's own `delete_version_after`, or `None` when the key has no metadata yet (or none
    /// set: `0s`).
    pub fn delete_version_after(
        &self,
        mount: &str,
        path: &str,
    ) -> Result<Option<Duration>, BaoError> {
        let api = format!("{mount}/metadata/{path}");
        let answer = self.call(Method::GET, &api, None, "read")?;
        match answer.status {
            StatusCode::OK => {
                let text = answer
                    .body
                    .pointer("/data/delete_version_after")
                    .and_then(Value::as_str)
                    .unwrap_or("0s");
                let after = go_duration(text)
                    .ok_or_else(|| self.bad(&api, "delete_version_after is not a duration"))?;
                Ok((!after.is_zero()).then_some(after))
            }
            StatusCode::NOT_FOUND => Ok(None),
            status => Err(self.unexpected(&api, status, &answer.body)),
        }
    }

    /// Whether the mount requires check-and-set on every write.
    pub fn cas_required(&self, mount: &str) -> Result<bool, BaoError> {
        let api = format!("{mount}/config");
        let answer = self.call(Method::GET, &api, None, "read")?;
        match answer.status {
            StatusCode::OK => Ok(answer
                .body
                .pointer("/data/cas_required")
                .and_then(Value::as_bool)
                .unwrap_or(false)),
            status => Err(self.unexpected(&api, status, &answer.body)),
        }
    }

    /// Makes the mount require check-and-set on every write (`cas_required`).
    pub fn require_cas(&self, mount: &str) -> Result<(), BaoError> {
        let api = format!("{mount}/config");
        let body = json!({ "cas_required": true });
        let answer = self.call(Method::POST, &api, Some(&body), "update")?;
        match answer.status {
            StatusCode::OK | StatusCode::NO_CONTENT => Ok(()),
            status => Err(self.unexpected(&api, status, &answer.body)),
        }
    }

    fn forbidden(&self, api: &str, capability: &'static str) -> BaoError {
        BaoError::Forbidden {
            addr: self.addr().to_string(),
            path: api.split('?').next().unwrap_or(api).to_string(),
            capability,
        }
    }

    /// The strings of the array at `pointer` in an answer of `api` (anything else in it skipped).
    fn strings(&self, body: &Value, pointer: &str, api: &str) -> Result<Vec<String>, BaoError> {
        let array = body
            .pointer(pointer)
            .and_then(Value::as_array)
            .ok_or_else(|| self.bad(api, &format!("no {pointer} in the answer")))?;
        Ok(array
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect())
    }

    fn bad(&self, api: &str, detail: &str) -> BaoError {
        BaoError::BadAnswer {
            addr: self.addr().to_string(),
            path: api.to_string(),
            detail: detail.to_string(),
        }
    }

    fn unexpected(&self, api: &str, status: StatusCode, body: &Value) -> BaoError {
        let mut detail = format!("HTTP {}", status.as_u16());
        if let Some(first) = body
            .get("errors")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
            .and_then(Value::as_str)
        {
            // Server error texts name paths and reasons, not values; still, it is text from
            // outside: it goes through the scrubber every provider text goes through (the
            // token in use, in any encoding, and anything shaped like a token), on one short line.
            let mut scrubber = crate::scrub::Scrubber::new();
            if let Ok(held) = self.inner.token.lock()
                && let Some(token) = held.as_ref()
            {
                scrubber.add(&token.secret);
            }
            let line: String = first.split_whitespace().collect::<Vec<_>>().join(" ");
            let line = crate::scrub::sanitize(&line, &scrubber);
            detail.push_str(": ");
            detail.push_str(&line.chars().take(200).collect::<String>());
        }
        self.bad(api, &detail)
    }
}

fn errors_mention(body: &Value, needle: &str) -> bool {
    body.get("errors")
        .and_then(Value::as_array)
        .is_some_and(|errors| {
            errors
                .iter()
                .filter_map(Value::as_str)
                .any(|e| e.contains(needle))
        })
}

/// A duration as Go prints it (`30s`, `1m30s`, `1.5s`, `500ms`, `0s`).
fn go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "\u{b5}s" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// A KV v2 write's body: the data, check-and-set at version `cas` (0: the key must not exist).
fn write_body(data: Map<String, Value>, cas: u64) -> Value {
    json!({ "options": { "cas": cas }, "data": data })
}

/// The policy capability a write with `cas` needs: creating a key, or updating one.
fn write_capability(cas: u64) -> &'static str {
    if cas == 0 { "create" } else { "update" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_as_openbao_prints_them() {
        assert_eq!(go_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(go_duration("1h0m0s"), Some(Duration::from_secs(3600)));
        assert_eq!(go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(go_duration("0s"), Some(Duration::ZERO));
        assert_eq!(go_duration("30"), None);
        assert_eq!(go_duration("5x"), None);
    }
}
