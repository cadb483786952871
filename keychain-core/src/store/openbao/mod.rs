//! A record store shared by several machines: OpenBao (or HashiCorp Vault) KV version 2.
//!
//! - [`client`]: the HTTP client for KV v2 (read with version, check-and-set write, list,
//!   delete a version, key and mount configuration); `auth`: where its token comes from
//!   (`BAO_TOKEN`/`VAULT_TOKEN`, a token file, or AppRole); `error`: [`BaoError`], one variant
//!   per way a call fails, with its exit code; `token_cache`: an AppRole login's token kept
//!   in the kernel keyring across runs until its TTL runs out.
//! - [`settings`]: where the store is (address, mount, prefix, CA) and how to log in, as kept
//!   in `config.json`: paths of files only, never a secret.
//!
//! - [`store`]: the [`RecordStore`](crate::store::RecordStore) on KV v2; [`lease`]: the lock
//!   across machines; [`setup`]: what `init` checks and sets on the server.
//!
//! OpenBao sees only sealed records (the same bytes a local file holds) and lock keys; it never
//! holds a key that opens a record.
//!
//! A machine's policy for a keychain at `MOUNT`/`PREFIX` needs (the lock's lease is a per-key
//! `delete_version_after`, hence `update` on metadata; a release deletes one version through
//! `delete/`):
//!
//! ```hcl
//! path "MOUNT/data/PREFIX/*"     { capabilities = ["create", "read", "update", "delete"] }
//! path "MOUNT/metadata/PREFIX/*" { capabilities = ["create", "read", "update", "list", "delete"] }
//! path "MOUNT/delete/PREFIX/*"   { capabilities = ["update"] }
//! path "MOUNT/config"            { capabilities = ["read"] }   # init: is cas_required on?
//! ```

mod auth;
pub mod client;
mod error;
pub mod kv;
pub mod lease;
pub mod settings;
pub mod setup;
pub mod store;
#[cfg(target_os = "linux")]
mod token_cache;

pub use client::{BaoError, KvClient, KvEntry};
pub use settings::{AuthSettings, OpenBaoSettings};
pub use store::OpenBaoStore;
