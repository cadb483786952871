//! Members of a shared keychain: which machines' public keys the records are encrypted to, and
//! why someone who can write the store but is not a member cannot add one.
//!
//! # Layout in the store ([`Kv`])
//!
//! - `members`: the member list (name, recipient, added when and by whom), MAC'd with the group
//!   key of the generation it names ([`list`]).
//! - `group/<g>`: generation `g` of the group key, age-encrypted to the members of that
//!   generation, with a link from generation `g - 1` ([`group`]).
//!
//! Each record of a shared store carries a MAC under the group key of the list's generation
//! ([`record_auth`]): sealing needs only public keys, the MAC needs a member.
//!
//! And in each machine's own keychain folder: `group.pin`, the generation and key id the machine
//! last trusted, MAC'd under its identity ([`pin`]).
//!
//! # What is checked before anything is sealed ([`Shared::open`])
//!
//! The list's generation's group key must open with this machine's identity, be the key the pin
//! names (same generation) or be reached from it by links (newer generation), and the list's MAC
//! must match under it. A recipient planted by editing the list, a list re-MAC'd under a group
//! key of the planter's own, a group key replaced or rolled back: each is refused (exit 7) before
//! a record is sealed, and [`Shared::problems`] names it for `keychain audit`.
//!
//! # Limits, said plainly
//!
//! A joining machine trusts no group key until `member join` finds in the store exactly what the
//! join code of the member that added it names ([`join`]); from then on its pin also holds the
//! member list's version, so an older list is refused. A machine cannot notice a rollback to a
//! list it never saw.
//! A removed member keeps the group keys of the generations it was in: it can still read what was
//! sealed to it then and forge MACs of those old generations, which a machine already pinned to a
//! newer generation refuses, but one still pinned to an old generation (offline since the removal)
//! could be shown a forged newer generation linked from the old key. Rotate the secrets a removed
//! member could read (`keychain audit` names the accounts).
//!
//! This module must never print (the CLI renders what it returns) nor write a key anywhere.
#![deny(missing_docs)]

pub mod cache;
pub mod group;
pub mod join;
mod keys;
pub mod list;
pub mod pin;
pub mod record_auth;
pub mod sealed;

use std::path::Path;

use crate::error::{Error, Result};
use crate::keystore::Identity;
use crate::store::kv::{Kv, KvExpect};

pub use group::{GroupKey, WrappedGroup};
pub use join::{Accepted, JoinCode};
pub use list::{Member, MemberList};

/// The key of the member list in the store.
pub const LIST_KEY: &str = "members";

/// The key of generation `generation` of the group key in the store.
pub fn group_key_name(generation: u64) -> String {
    format!("group/{generation}")
}

/// The shared state of a keychain as a member sees it once [`Shared::open`] checked it.
pub struct Opened {
    /// The group key of the list's generation, opened with this machine's identity.
    pub key: GroupKey,
    /// The member list, its MAC checked under `key`.
    pub list: MemberList,
    link: Option<String>,
    list_version: u64,
    /// The store's version of the wrapped key; `None` when it came from this machine's copy
    /// ([`cache`]), and `add` reads it then.
    group_version: Option<u64>,
    /// [`MemberList::digest`] of the list as stored.
    list_digest: String,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("list", &self.list)
            .finish_non_exhaustive()
    }
}

/// The members part of a keychain: the store that holds the list and group keys, and the
/// machine's own folder that holds its pin.
pub struct Shared<'a> {
    /// The store's space for the list and the group keys.
    pub kv: &'a dyn Kv,
    /// This machine's keychain folder, which holds its pin.
    pub dir: &'a Path,
}

impl<'a> Shared<'a> {
    /// The members part of the keychain whose space is `kv` and whose folder is `dir`.
    pub fn new(kv: &'a dyn Kv, dir: &'a Path) -> Self {
        Shared { kv, dir }
    }

    /// Whether the store has a member list at all (a keychain made before members existed, or a
    /// local one, has none and seals to `config.json`'s recipients).
    pub fn exists(&self) -> Result<bool> {
        Ok(self.kv.get(LIST_KEY)?.is_some())
    }

    /// Starts the member list of a new shared keychain with this machine as its only member.
    /// `now` is the keychain's clock (Unix seconds), the member's `added_at`.
    pub fn create(
        &self,
        identity: &Identity,
        name: &str,
        added_by: &str,
        now: i64,
    ) -> Result<Opened> {
        let me = Member {
            name: name.to_string(),
            recipient: identity.to_public().to_string(),
            added_at: now,
            added_by: added_by.to_string(),
        };
        let key = GroupKey::generate();
        let list = MemberList {
            generation: 0,
            serial: 1,
            members: vec![me],
        };
        let wrapped = wrap(&key, 0, &list, None)?;
        let group_version =
            self.kv
                .put(&group_key_name(0), &wrapped.to_bytes(), KvExpect::Absent)?;
        let sealed = list.seal(&key);
        let list_version = self.kv.put(LIST_KEY, &sealed, KvExpect::Absent)?;
        let opened = Opened {
            key,
            list,
            link: None,
            list_version,
            group_version: Some(group_version),
            list_digest: digest_of(&sealed),
        };
        self.trust(identity, &opened)?;
        Ok(opened)
    }

    /// Records that this machine joined and trusts no group key yet: it trusts one only when
    /// the join code a member gives it matches the store ([`Shared::accept_join`]).
    pub fn join(&self, identity: &Identity) -> Result<()> {
        pin::save(self.dir, identity, &pin::Pin::none()).map_err(|e| match e {
            pin::PinError::Io(path, e) => Error::io(format!("cannot write {}", path.display()), e),
            pin::PinError::Missing(path) | pin::PinError::Forged(path) => Error::io(
                format!("cannot write {}", path.display()),
                std::io::Error::other("pin"),
            ),
        })
    }

    /// Opens and checks the group key and the member list; see the module documentation.
    pub fn open(&self, identity: &Identity) -> Result<Opened> {
        self.open_if_any(identity)?.ok_or_else(|| {
            Error::usage_hint(
                format!("{} has no member list", self.kv.location(LIST_KEY)),
                "this keychain is not shared; run 'keychain init --store openbao ...' to make a shared one",
            )
        })
    }

    /// [`Shared::open`], or `None` when the store has no member list (one read either way).
    pub fn open_if_any(&self, identity: &Identity) -> Result<Option<Opened>> {
        let Some(list_raw) = self.kv.get(LIST_KEY)? else {
            return Ok(None);
        };
        let generation = MemberList::claimed_generation(&list_raw.bytes)
            .map_err(|e| self.unauthenticated(LIST_KEY, e.to_string()))?;
        let pin = self.load_pin(identity)?;
        let (wrapped, group_version, key) = self.group_key(identity, &pin, generation)?;
        self.check_chain(identity, &pin, &wrapped, &key)?;
        let list = MemberList::open(&list_raw.bytes, &key, generation)
            .map_err(|e| self.unauthenticated(LIST_KEY, e.to_string()))?;
        // An older list than the pinned one is a rollback, even one that drops this machine.
        let list_digest = digest_of(&list_raw.bytes);
        self.check_list_pin(&pin, &list, &list_digest)?;
        let me = identity.to_public().to_string();
        if !list.members.iter().any(|m| m.recipient == me) {
            return Err(not_added(&me));
        }
        let opened = Opened {
            key,
            list,
            link: wrapped.link.clone(),
            list_version: list_raw.version,
            group_version,
            list_digest,
        };
        if Self::moves_pin(&pin, &opened) {
            self.trust(identity, &opened)?;
        }
        if group_version.is_some() {
            cache::save(self.dir, &wrapped);
        }
        Ok(Some(opened))
    }

    /// Adds a member: the group key of the current generation is wrapped again to the new set,
    /// then the list is MAC'd and written (both check-and-set). The caller then seals every
    /// record again to the new set.
    pub fn add(&self, opened: &Opened, member: Member) -> Result<Opened> {
        let recipient = crate::config::parse_recipient(&member.recipient)?;
        let recipient = recipient.to_string();
        if let Some(existing) = opened
            .list
            .members
            .iter()
            .find(|m| m.name == member.name || m.recipient == recipient)
        {
            return Err(Error::usage_hint(
                format!(
                    "'{}' ({}) is already a member",
                    existing.name, existing.recipient
                ),
                "'keychain member list' shows the members; give another --name",
            ));
        }
        let mut list = opened.list.clone();
        list.serial += 1;
        list.members.push(Member {
            recipient,
            ..member
        });
        let generation = list.generation;
        let wrapped = wrap(&opened.key, generation, &list, opened.link.clone())?;
        // The key first: a crash in between leaves a machine that can open the key but is not
        // in the list yet (refused as not added), never a list naming someone who cannot open it.
        let group_version = match opened.group_version {
            Some(version) => version,
            None => self.wrapped(generation)?.1,
        };
        let group_version = self.kv.put(
            &group_key_name(generation),
            &wrapped.to_bytes(),
            KvExpect::At(group_version),
        )?;
        let sealed = list.seal(&opened.key);
        let list_version = self
            .kv
            .put(LIST_KEY, &sealed, KvExpect::At(opened.list_version))?;
        // The caller pins the new list ([`Shared::trust`]) before it tells anyone.
        Ok(Opened {
            key: GroupKey::from_opened(&opened.key),
            list,
            link: opened.link.clone(),
            list_version,
            group_version: Some(group_version),
            list_digest: digest_of(&sealed),
        })
    }

    /// Removes a member: a new generation of the group key (the removed one may keep the old),
    /// linked from the one before, wrapped to the others; then the list of the new generation.
    /// Returns the new state and the removed member. The caller then seals every record again.
    pub fn remove(
        &self,
        identity: &Identity,
        opened: &Opened,
        name: &str,
    ) -> Result<(Opened, Member)> {
        let removed = opened
            .list
            .members
            .iter()
            .find(|m| m.name == name)
            .cloned()
            .ok_or_else(|| {
                Error::usage_hint(
                    format!("no member named '{name}'"),
                    "'keychain member list' shows the members",
                )
            })?;
        if removed.recipient == identity.to_public().to_string() {
            return Err(Error::usage_hint(
                format!("'{name}' is this machine"),
                "run 'keychain member rm' on another member: a machine cannot take its own key away",
            ));
        }
        let mut list = opened.list.clone();
        list.serial += 1;
        list.members.retain(|m| m.name != name);
        // A generation left behind by an interrupted removal is skipped, never reused: it may
        // have been wrapped to the member removed now.
        let mut generation = list.generation + 1;
        while self.kv.get(&group_key_name(generation))?.is_some() {
            generation += 1;
        }
        let previous = if generation == list.generation + 1 {
            GroupKey::from_opened(&opened.key)
        } else {
            let (wrapped, _) = self.wrapped(generation - 1)?;
            self.open_wrapped(identity, &wrapped)?
        };
        let key = GroupKey::generate();
        let link = previous.link_to(generation, &key.id());
        list.generation = generation;
        let wrapped = wrap(&key, generation, &list, Some(link.clone()))?;
        let group_version = self.kv.put(
            &group_key_name(generation),
            &wrapped.to_bytes(),
            KvExpect::Absent,
        )?;
        let sealed = list.seal(&key);
        let list_version = self
            .kv
            .put(LIST_KEY, &sealed, KvExpect::At(opened.list_version))?;
        let opened = Opened {
            key,
            list,
            link: Some(link),
            list_version,
            group_version: Some(group_version),
            list_digest: digest_of(&sealed),
        };
        self.trust(identity, &opened)?;
        Ok((opened, removed))
    }
}

/// [`MemberList::digest`] of a list this process sealed or whose MAC it checked.
fn digest_of(sealed: &[u8]) -> String {
    MemberList::digest(sealed).expect("a list that was sealed or checked parses")
}

/// The message of a machine that joined but is not (or no longer) a member.
fn not_added(recipient: &str) -> Error {
    Error::NotAMember {
        recipient: recipient.to_string(),
    }
}

fn wrap(
    key: &GroupKey,
    generation: u64,
    list: &MemberList,
    link: Option<String>,
) -> Result<WrappedGroup> {
    let recipients = list.recipients().map_err(Error::usage)?;
    key.wrap(generation, &recipients, link)
        .map_err(|e| Error::usage(format!("cannot encrypt the group key: {e}")))
}

#[cfg(test)]
mod tests;
