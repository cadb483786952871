//! Joining without trusting the store: the join code, and the pin of the member list.
//!
//! Between `member add` and the new machine's first command, whoever can write the store (the
//! OpenBao operator, any token with the policy) could plant a group key of their own and a list
//! MAC'd under it; a machine that trusted the first group key it opened would then seal every
//! secret to them. So `member add` returns a [`JoinCode`]: the generation, the group key's public
//! id, the list's serial and its digest, as the adding member saw them, hashed into a short
//! text a person carries to the new machine out of band. The new machine pins nothing until
//! `keychain member join CODE` ([`Shared::accept_join`]) finds exactly that state in the store.
//!
//! Once pinned, a machine refuses a member list older than the newest it accepted (a lower
//! serial: the list from before a `member add`, put back with its valid MAC) or another list
//! with the same serial ([`Shared::check_list_pin`]), and moves its pin forward
//! ([`Shared::trust`]) when a member changed the list.
//!
//! What this cannot do: a machine cannot notice a rollback to a list it never saw (one that was
//! changed and put back while it was not running); and the store's operator can always delete.
#![deny(missing_docs)]

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::keystore::Identity;

use super::group::GroupKey;
use super::{LIST_KEY, MemberList, Opened, Shared, pin};

const LABEL: &[u8] = b"keychain join code v1";
const PREFIX: &str = "kcj1";

/// What `member add` saw, for the new machine to check before it trusts anything: printed as
/// `kcj1-GENERATION-SERIAL-DIGEST` (32 hex digits: 128 bits of a hash of the group key's id and
/// the list's digest). It holds no secret; what matters is that it reaches the new machine
/// unchanged, by a channel the store's operator does not control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinCode {
    /// The group key generation of the list.
    pub generation: u64,
    /// The list's serial.
    pub serial: u64,
    digest: String,
}

impl JoinCode {
    fn of(generation: u64, key: &GroupKey, serial: u64, list_digest: &str) -> JoinCode {
        let mut hasher = Sha256::new();
        hasher.update(LABEL);
        hasher.update(generation.to_be_bytes());
        hasher.update(key.id().as_bytes());
        hasher.update(serial.to_be_bytes());
        hasher.update(list_digest.as_bytes());
        JoinCode {
            generation,
            serial,
            digest: crate::encoding::hex(&hasher.finalize()[..16]),
        }
    }

    /// Reads a code as `member add` printed it (surrounding blanks ignored).
    pub fn parse(text: &str) -> Result<JoinCode> {
        let bad = || {
            Error::usage_hint(
                format!("'{}' is not a join code", text.trim().escape_debug()),
                "copy the whole code 'keychain member add' printed on the member that added this machine (kcj1-...)",
            )
        };
        let mut parts = text.trim().split('-');
        if parts.next() != Some(PREFIX) {
            return Err(bad());
        }
        let generation = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let serial = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let digest = parts.next().ok_or_else(bad)?.to_ascii_lowercase();
        if parts.next().is_some()
            || digest.len() != 32
            || !digest.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(bad());
        }
        Ok(JoinCode {
            generation,
            serial,
            digest,
        })
    }
}

impl std::fmt::Display for JoinCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{PREFIX}-{}-{}-{}",
            self.generation, self.serial, self.digest
        )
    }
}

impl Opened {
    /// The join code of this state, for a machine this member just added.
    pub fn join_code(&self) -> JoinCode {
        JoinCode::of(
            self.list.generation,
            &self.key,
            self.list.serial,
            &self.list_digest,
        )
    }

    fn as_pin(&self) -> pin::Pin {
        pin::Pin {
            generation: Some(self.list.generation),
            id: Some(self.key.id()),
            serial: Some(self.list.serial),
            list: Some(self.list_digest.clone()),
        }
    }
}

/// How a join ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Accepted {
    /// The store held what the code names: this machine pinned it.
    Pinned,
    /// This machine had pinned a state before (it joined already); that state was checked.
    AlreadyJoined,
}

impl Shared<'_> {
    /// The first use of a machine that joined: trusts the group key and member list only if
    /// they are exactly what `code` names, then pins them. The store is read, nothing written.
    pub fn accept_join(&self, identity: &Identity, code: &JoinCode) -> Result<Accepted> {
        if self.load_pin(identity)?.generation.is_some() {
            self.open(identity)?;
            return Ok(Accepted::AlreadyJoined);
        }
        let list_raw = self
            .kv
            .get(LIST_KEY)?
            .ok_or_else(|| self.unauthenticated(LIST_KEY, "the store has no member list".into()))?;
        let (generation, serial) = MemberList::claimed_version(&list_raw.bytes)
            .map_err(|e| self.unauthenticated(LIST_KEY, e.to_string()))?;
        if (generation, serial) != (code.generation, code.serial) {
            return Err(self.code_mismatch(code, generation, serial));
        }
        let (wrapped, _) = self.wrapped(generation)?;
        let key = self.open_wrapped(identity, &wrapped)?;
        let list = MemberList::open(&list_raw.bytes, &key, generation)
            .map_err(|e| self.unauthenticated(LIST_KEY, e.to_string()))?;
        let digest = MemberList::digest(&list_raw.bytes)
            .map_err(|e| self.unauthenticated(LIST_KEY, e.to_string()))?;
        let found = JoinCode::of(generation, &key, serial, &digest);
        if !crate::secret::ct_eq_str(&found.digest, &code.digest) {
            return Err(self.unauthenticated(
                LIST_KEY,
                "the group key and member list the store serves are not the ones the member who added this machine saw (planted by someone who can write the store?); nothing was trusted".into(),
            ));
        }
        let me = identity.to_public().to_string();
        if !list.members.iter().any(|m| m.recipient == me) {
            return Err(super::not_added(&me));
        }
        let opened = Opened {
            key,
            list,
            link: wrapped.link,
            list_version: list_raw.version,
            group_version: None,
            list_digest: digest,
        };
        self.trust(identity, &opened)?;
        Ok(Accepted::Pinned)
    }

    /// Moves this machine's pin forward to `opened` (checked by [`Shared::open`], or written by
    /// this machine): from then on an older list is refused.
    pub fn trust(&self, identity: &Identity, opened: &Opened) -> Result<()> {
        pin::save_newer(self.dir, identity, &opened.as_pin()).map_err(pin_write_error)
    }

    /// Whether `opened` moves the pin `pin` (so that [`Shared::trust`] needs to write).
    pub(super) fn moves_pin(pin: &pin::Pin, opened: &Opened) -> bool {
        *pin != opened.as_pin()
    }

    /// Refuses a list older than (or other than, at the same serial) the newest this machine
    /// accepted. Pins written before lists had a serial check nothing here.
    pub(super) fn check_list_pin(
        &self,
        pin: &pin::Pin,
        list: &MemberList,
        digest: &str,
    ) -> Result<()> {
        let Some(pinned) = pin.serial else {
            return Ok(());
        };
        if list.serial < pinned {
            return Err(self.rolled_back(format!(
                "the store serves version {} of the member list, older than version {pinned} this machine already accepted: it was rolled back (to before a 'member add' or 'member rm'?)",
                list.serial
            )));
        }
        if list.serial == pinned
            && !pin
                .list
                .as_deref()
                .is_some_and(|p| crate::secret::ct_eq_str(p, digest))
        {
            return Err(self.rolled_back(format!(
                "the store serves another member list with the same version {pinned} as the one this machine accepted: replaced"
            )));
        }
        Ok(())
    }

    pub(super) fn rolled_back(&self, reason: String) -> Error {
        Error::Unauthenticated {
            path: std::path::PathBuf::from(self.kv.location(LIST_KEY)),
            reason,
            hint: "nothing was sealed or written; put the newest member list back in the store (KV keeps earlier versions) and find out who replaced it; 'keychain member list' on another member and 'keychain audit' show the member changes".into(),
        }
    }

    fn code_mismatch(&self, code: &JoinCode, generation: u64, serial: u64) -> Error {
        let reason = format!(
            "the join code names generation {} and member list version {}, the store serves generation {generation} and version {serial}",
            code.generation, code.serial
        );
        if (generation, serial) < (code.generation, code.serial) {
            return self.rolled_back(format!(
                "{reason}: an older list than the member who added this machine wrote; nothing was trusted"
            ));
        }
        Error::Unauthenticated {
            path: std::path::PathBuf::from(self.kv.location(LIST_KEY)),
            reason: format!("{reason}: the members changed after the code was made; nothing was trusted"),
            hint: "ask a member for the current code: running 'keychain member add RECIPIENT --name NAME' again for this machine prints it (and changes nothing else)".into(),
        }
    }
}

fn pin_write_error(e: pin::PinError) -> Error {
    match e {
        pin::PinError::Io(path, e) => Error::io(format!("cannot write {}", path.display()), e),
        pin::PinError::Missing(path) => Error::io(
            format!("cannot write {}", path.display()),
            std::io::Error::other("the pin is missing"),
        ),
        pin::PinError::Forged(path) => Error::Unauthenticated {
            path,
            reason: "it was changed by someone who cannot open this machine's key".into(),
            hint: "nothing was written; restore it from a backup, or set this machine up again with 'keychain init --join'".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_back_and_anything_else_is_a_usage_error() {
        let code = JoinCode::of(2, &GroupKey::generate(), 7, "ab");
        let text = code.to_string();
        assert!(text.starts_with("kcj1-2-7-"), "{text}");
        assert_eq!(JoinCode::parse(&format!(" {text}\n")).unwrap(), code);
        for bad in [
            "",
            "kcj1-2-7",
            "kcj2-2-7-00000000000000000000000000000000",
            "kcj1-x-7-00000000000000000000000000000000",
            "kcj1-2-7-0000",
            "kcj1-2-7-0000000000000000000000000000000g",
            "kcj1-2-7-00000000000000000000000000000000-1",
        ] {
            let e = JoinCode::parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), crate::exit::USAGE, "{bad}");
        }
    }

    #[test]
    fn another_key_or_list_gives_another_code() {
        let key = GroupKey::generate();
        let code = JoinCode::of(0, &key, 1, "ab");
        assert_ne!(code, JoinCode::of(0, &GroupKey::generate(), 1, "ab"));
        assert_ne!(code, JoinCode::of(0, &key, 1, "ac"));
        assert_eq!(code, JoinCode::of(0, &GroupKey::from_opened(&key), 1, "ab"));
    }
}
