//! [`Kv`] on OpenBao KV v2, for a shared keychain's member list, group keys and audit trail:
//! key `K` at `MOUNT/data/PREFIX/K`, its bytes base64 in the field `value`, every write a
//! check-and-set (`cas: 0` to create).
#![deny(missing_docs)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

use super::client::{BaoError, KvClient, KvEntry};
use super::settings::OpenBaoSettings;
use crate::store::kv::{Kv, KvError, KvExpect, PendingGet, PendingPut, Versioned, check_key};

const VALUE_FIELD: &str = "value";

/// A keychain's shared space on OpenBao: the keys beside `PREFIX/records` and `PREFIX/locks`.
pub struct BaoKv {
    client: KvClient,
    settings: OpenBaoSettings,
}

impl BaoKv {
    /// The shared space of the keychain in `settings`, through `client` (the record store's,
    /// so its token serves both).
    pub fn new(client: KvClient, settings: &OpenBaoSettings) -> Self {
        BaoKv {
            client,
            settings: settings.clone(),
        }
    }

    fn path(&self, key: &str) -> Result<String, KvError> {
        check_key(key)?;
        Ok(format!("{}/{key}", self.settings.path))
    }
}

impl BaoKv {
    /// A KV entry as the bytes this space keeps under `key` (base64 in its `value` field).
    fn versioned(&self, key: &str, entry: KvEntry) -> Result<Option<Versioned>, KvError> {
        let Some(data) = entry.data else {
            return Ok(None);
        };
        let corrupt = |reason: &str| KvError::Corrupt {
            location: self.location(key),
            reason: reason.into(),
        };
        let text = data
            .get(VALUE_FIELD)
            .and_then(Value::as_str)
            .ok_or_else(|| corrupt("its KV data has no 'value' field"))?;
        let bytes = B64
            .decode(text)
            .map_err(|_| corrupt("its 'value' field is not base64"))?;
        Ok(Some(Versioned {
            bytes,
            version: entry.version,
        }))
    }

    /// A write's answer as [`Kv::put`] gives it: a check-and-set conflict is its own error.
    fn put_answer(&self, key: &str, written: Result<u64, BaoError>) -> Result<u64, KvError> {
        match written {
            Ok(version) => Ok(version),
            Err(BaoError::CasConflict { .. }) => Err(KvError::Conflict {
                location: self.location(key),
            }),
            Err(e) => Err(backend(e)),
        }
    }
}

fn backend(e: BaoError) -> KvError {
    KvError::Bao(e)
}

/// The KV data this space keeps `bytes` as: base64 in its `value` field.
fn value_data(bytes: &[u8]) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert(VALUE_FIELD.into(), Value::String(B64.encode(bytes)));
    data
}

/// KV v2's check-and-set version for `expect` (0: the key must not exist).
fn cas(expect: KvExpect) -> u64 {
    match expect {
        KvExpect::Absent => 0,
        KvExpect::At(version) => version,
    }
}

impl Kv for BaoKv {
    fn get(&self, key: &str) -> Result<Option<Versioned>, KvError> {
        let entry = self
            .client
            .read(&self.settings.mount, &self.path(key)?)
            .map_err(backend)?;
        self.versioned(key, entry)
    }

    /// The read is sent now ([`KvClient::start_read`]); the function waits for its answer and
    /// checks it as [`Kv::get`] does.
    fn get_started(&self, key: &str) -> PendingGet<'_> {
        let started = self
            .path(key)
            .and_then(|path| {
                self.client
                    .start_read(&self.settings.mount, &path)
                    .map_err(backend)
            })
            .map(|started| (key.to_string(), started));
        Box::new(move || {
            let (key, started) = started?;
            let entry = self.client.finish_read(started).map_err(backend)?;
            self.versioned(&key, entry)
        })
    }

    fn put(&self, key: &str, bytes: &[u8], expect: KvExpect) -> Result<u64, KvError> {
        let written = self.client.write(
            &self.settings.mount,
            &self.path(key)?,
            value_data(bytes),
            cas(expect),
        );
        self.put_answer(key, written)
    }

    /// The write is sent now ([`KvClient::start_write`]); the function waits for its answer
    /// and reads it as [`Kv::put`] does.
    fn put_started(&self, key: &str, bytes: &[u8], expect: KvExpect) -> PendingPut<'_> {
        let started = self.path(key).and_then(|path| {
            self.client
                .start_write(&self.settings.mount, &path, value_data(bytes), cas(expect))
                .map_err(backend)
        });
        let key = key.to_string();
        Box::new(move || {
            let written = self.client.finish_write(started?);
            self.put_answer(&key, written)
        })
    }

    fn location(&self, key: &str) -> String {
        format!(
            "openbao://{}/{}/{}/{key}",
            self.settings.host(),
            self.settings.mount,
            self.settings.path
        )
    }
}
