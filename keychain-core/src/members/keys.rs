//! The group keys as a member reaches them: each generation opened with this machine's identity
//! and checked against its pin or by the links from the generation it pinned, the keys a shared
//! audit trail needs, and the refusal of what does not authenticate. The other half of
//! [`Shared`]: `mod.rs` creates, joins, opens and changes the list; this file finds and checks
//! the keys it stands on.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::keystore::Identity;

use super::{
    GroupKey, LIST_KEY, MemberList, Shared, WrappedGroup, cache, group, group_key_name, not_added,
    pin,
};

impl Shared<'_> {
    /// Every generation's group key this machine can open, oldest first, for verifying a
    /// shared audit trail that spans removals. A generation it cannot open is `None`.
    pub fn all_keys(&self, identity: &Identity, current: u64) -> Result<Vec<Option<GroupKey>>> {
        (0..=current)
            .map(
                |generation| match self.kv.get(&group_key_name(generation))? {
                    None => Ok(None),
                    Some(raw) => Ok(WrappedGroup::parse(&raw.bytes)
                        .ok()
                        .and_then(|w| w.open(identity).ok())),
                },
            )
            .collect()
    }

    /// The audit secret of every generation up to the member list's, for the shared trail
    /// ([`crate::audit::SharedLog`]). The group key is checked against the pin as in
    /// [`Shared::open`], the list's MAC is not: a planted recipient stops sealing, not the
    /// audit trail that has to report it.
    pub fn trail_secrets(
        &self,
        identity: &Identity,
    ) -> Result<Vec<Option<secrecy::SecretBox<[u8; 32]>>>> {
        let list_raw = self
            .kv
            .get(LIST_KEY)?
            .ok_or_else(|| self.unauthenticated(LIST_KEY, "the member list is missing".into()))?;
        let generation = MemberList::claimed_generation(&list_raw.bytes)
            .map_err(|e| self.unauthenticated(LIST_KEY, e.to_string()))?;
        let pin = self.load_pin(identity)?;
        let (wrapped, _, key) = self.group_key(identity, &pin, generation)?;
        self.check_chain(identity, &pin, &wrapped, &key)?;
        self.secrets_up_to(identity, generation, &key)
    }

    /// The group key of the member list's generation and that generation, checked against the
    /// pin as in [`Shared::open`] but without the list's MAC (as [`Shared::trail_secrets`]): what
    /// a shared record's MAC is checked against when the list itself does not check, so that
    /// reads and `keychain audit` still tell a member's records from planted ones.
    pub fn current_key(&self, identity: &Identity) -> Result<(GroupKey, u64)> {
        let list_raw = self
            .kv
            .get(LIST_KEY)?
            .ok_or_else(|| self.unauthenticated(LIST_KEY, "the member list is missing".into()))?;
        let generation = MemberList::claimed_generation(&list_raw.bytes)
            .map_err(|e| self.unauthenticated(LIST_KEY, e.to_string()))?;
        let pin = self.load_pin(identity)?;
        let (wrapped, _) = self.wrapped(generation)?;
        let key = self.open_wrapped(identity, &wrapped)?;
        self.check_chain(identity, &pin, &wrapped, &key)?;
        Ok((key, generation))
    }

    /// The audit secrets of generations `0..generation` (those this machine can open) and of
    /// `current`, the key of `generation`, already opened and checked.
    pub fn secrets_up_to(
        &self,
        identity: &Identity,
        generation: u64,
        current: &GroupKey,
    ) -> Result<Vec<Option<secrecy::SecretBox<[u8; 32]>>>> {
        // Generation 0 has no earlier keys: no read (each is a round trip to OpenBao and an
        // age decryption, on every cached `login`).
        let mut secrets: Vec<_> = match generation.checked_sub(1) {
            None => Vec::new(),
            Some(last_earlier) => self
                .all_keys(identity, last_earlier)?
                .into_iter()
                .map(|k| k.map(|k| k.audit_secret()))
                .collect(),
        };
        secrets.truncate(generation as usize);
        secrets.push(Some(current.audit_secret()));
        Ok(secrets)
    }

    /// What `keychain audit` reports about the members: `None` when [`Shared::open`] passes.
    pub fn problem(&self, identity: &Identity) -> Option<String> {
        match self.open(identity) {
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    pub(super) fn wrapped(&self, generation: u64) -> Result<(WrappedGroup, u64)> {
        let name = group_key_name(generation);
        let raw = self.kv.get(&name)?.ok_or_else(|| {
            self.unauthenticated(
                &name,
                format!("the group key of generation {generation} is missing"),
            )
        })?;
        let wrapped = WrappedGroup::parse(&raw.bytes)
            .map_err(|_| self.unauthenticated(&name, "not a wrapped group key".into()))?;
        if wrapped.generation != generation {
            return Err(self.unauthenticated(
                &name,
                format!(
                    "it says generation {} but is stored as {generation}",
                    wrapped.generation
                ),
            ));
        }
        Ok((wrapped, raw.version))
    }

    pub(super) fn open_wrapped(
        &self,
        identity: &Identity,
        wrapped: &WrappedGroup,
    ) -> Result<GroupKey> {
        wrapped.open(identity).map_err(|e| match e {
            group::OpenError::NotAMember => not_added(&identity.to_public().to_string()),
            group::OpenError::Corrupt(reason) => {
                self.unauthenticated(&group_key_name(wrapped.generation), reason.into())
            }
        })
    }

    /// The wrapped key of `generation` and the key in it: from this machine's copy when it is
    /// the pinned one ([`cache`]; no store version then), else read from the store.
    pub(super) fn group_key(
        &self,
        identity: &Identity,
        pin: &pin::Pin,
        generation: u64,
    ) -> Result<(WrappedGroup, Option<u64>, GroupKey)> {
        if let Some((wrapped, key)) = cache::load(self.dir, identity, pin, generation) {
            return Ok((wrapped, None, key));
        }
        let (wrapped, version) = self.wrapped(generation)?;
        let key = self.open_wrapped_pinned(identity, pin, &wrapped)?;
        Ok((wrapped, Some(version), key))
    }

    /// [`Shared::open_wrapped`] for a machine with `pin`: one that joined but was not given its
    /// join code yet trusts nothing, and one whose pinned generation no longer opens for it was
    /// rolled back, not "not added".
    pub(super) fn open_wrapped_pinned(
        &self,
        identity: &Identity,
        pin: &pin::Pin,
        wrapped: &WrappedGroup,
    ) -> Result<GroupKey> {
        let key = match self.open_wrapped(identity, wrapped) {
            Err(Error::NotAMember { recipient }) if pin.generation == Some(wrapped.generation) => {
                return Err(self.rolled_back(format!(
                    "generation {} of the group key, which this machine trusts, is no longer sealed to it ({recipient}): it was rolled back or replaced in the store",
                    wrapped.generation
                )));
            }
            other => other?,
        };
        if pin.generation.is_none() {
            return Err(Error::NotJoined {
                recipient: identity.to_public().to_string(),
            });
        }
        Ok(key)
    }

    /// The pinned generation to `wrapped`: the same key, or a chain of links to it.
    pub(super) fn check_chain(
        &self,
        identity: &Identity,
        pin: &pin::Pin,
        wrapped: &WrappedGroup,
        key: &GroupKey,
    ) -> Result<()> {
        let generation = wrapped.generation;
        let name = group_key_name(generation);
        let Some(pinned) = pin.generation else {
            return Ok(());
        };
        let pinned_id = pin.id.clone().unwrap_or_default();
        if pinned > generation {
            return Err(self.unauthenticated(
                &name,
                format!(
                    "this machine already trusts generation {pinned}, but the store's member list is at generation {generation}: rolled back"
                ),
            ));
        }
        if pinned == generation {
            if !crate::secret::ct_eq_str(&key.id(), &pinned_id) {
                return Err(self.unauthenticated(
                    &name,
                    "the group key was replaced: it is not the one this machine trusts".into(),
                ));
            }
            return Ok(());
        }
        let (first, _) = self.wrapped(pinned)?;
        let mut previous = self.open_wrapped(identity, &first)?;
        if !crate::secret::ct_eq_str(&previous.id(), &pinned_id) {
            return Err(self.unauthenticated(
                &group_key_name(pinned),
                "the group key was replaced: it is not the one this machine trusts".into(),
            ));
        }
        for step in pinned + 1..=generation {
            let (next, _) = if step == generation {
                (wrapped.clone(), 0)
            } else {
                self.wrapped(step)?
            };
            if !next.linked_from(&previous) {
                return Err(self.unauthenticated(
                    &group_key_name(step),
                    format!(
                        "generation {step} of the group key was not made by a holder of generation {}",
                        step - 1
                    ),
                ));
            }
            previous = if step == generation {
                GroupKey::from_opened(key)
            } else {
                self.open_wrapped(identity, &next)?
            };
        }
        Ok(())
    }

    pub(super) fn load_pin(&self, identity: &Identity) -> Result<pin::Pin> {
        pin::load(self.dir, identity).map_err(|e| match e {
            pin::PinError::Missing(path) => Error::Unauthenticated {
                path,
                reason: "this machine's record of the group key it trusts is missing".into(),
                hint: "nothing was written; restore it from a backup, or set this machine up again with 'keychain init --join' and have a member add it".into(),
            },
            pin::PinError::Forged(path) => Error::Unauthenticated {
                path,
                reason: "it was changed by someone who cannot open this machine's key".into(),
                hint: "nothing was written; restore it from a backup, or set this machine up again with 'keychain init --join'".into(),
            },
            pin::PinError::Io(path, e) => Error::io(format!("cannot read {}", path.display()), e),
        })
    }

    pub(super) fn unauthenticated(&self, key: &str, reason: String) -> Error {
        Error::Unauthenticated {
            path: PathBuf::from(self.kv.location(key)),
            reason,
            hint: "nothing was sealed or written; run 'keychain audit' on a member to see the members, and restore the store's member list from a backup or remove what was planted".into(),
        }
    }
}
