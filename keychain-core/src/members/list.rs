//! The member list: who the records are encrypted to, MAC'd with the group key.
//!
//! The list is public (names and age public keys), but only a member can change it: its MAC is
//! keyed from the group key of the generation it names. Someone who can write to the store but
//! is not a member can neither compute a new MAC nor open a group key to compute one with.
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};

use super::group::GroupKey;

/// One machine of a shared keychain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// A short name for people (the host name by default).
    pub name: String,
    /// The machine's age public key (`age1...`).
    pub recipient: String,
    /// Unix seconds.
    pub added_at: i64,
    /// `user@host` of the member who added it.
    pub added_by: String,
}

/// The signed content of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    format: u32,
    generation: u64,
    /// Raised by one at every change of the list (0 in lists written before it existed): what
    /// a machine pins to refuse an older list of the same generation ([`super::pin`]).
    #[serde(default)]
    serial: u64,
    members: Vec<Member>,
}

/// The list as stored: its body and the MAC over the body's exact bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    /// The body as the JSON text that was MAC'd, so the MAC covers the bytes as stored.
    body: String,
    mac: String,
}

/// A member list whose MAC checked out under the group key of its generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberList {
    /// The group key generation whose key MACs the list.
    pub generation: u64,
    /// The list's version: one more at every `member add` or `rm`, under the MAC.
    pub serial: u64,
    /// Every member: name, public key, when and by whom it was added.
    pub members: Vec<Member>,
}

/// Why a stored list is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ListError {
    /// Not a member list as keychain writes it.
    Corrupt,
    /// Its generation is not the one the group key opened is for.
    WrongGeneration {
        /// The generation the list names.
        list: u64,
        /// The generation of the newest group key.
        key: u64,
    },
    /// The MAC does not match: changed by someone who does not hold the group key.
    BadMac,
}

impl std::fmt::Display for ListError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListError::Corrupt => f.write_str("the member list is not in keychain's format"),
            ListError::WrongGeneration { list, key } => write!(
                f,
                "the member list names group key generation {list}, but the newest group key is generation {key}"
            ),
            ListError::BadMac => f.write_str(
                "the member list's MAC does not match: it was changed by someone who cannot open the group key (a planted recipient?)",
            ),
        }
    }
}

impl MemberList {
    /// The bytes to store, MAC'd under `key` (the group key of `self.generation`).
    pub fn seal(&self, key: &GroupKey) -> Vec<u8> {
        let body = serde_json::to_string(&Body {
            format: 1,
            generation: self.generation,
            serial: self.serial,
            members: self.members.clone(),
        })
        .expect("a member list serialises");
        let mac = key.mac_list(self.generation, body.as_bytes());
        serde_json::to_vec_pretty(&Stored { body, mac }).expect("a member list serialises")
    }

    /// The generation a stored list claims, before it is checked (to know which key to use).
    pub fn claimed_generation(bytes: &[u8]) -> Result<u64, ListError> {
        Ok(parse(bytes)?.1.generation)
    }

    /// The generation and serial a stored list claims, before it is checked.
    pub fn claimed_version(bytes: &[u8]) -> Result<(u64, u64), ListError> {
        let body = parse(bytes)?.1;
        Ok((body.generation, body.serial))
    }

    /// A public digest of a stored list's MAC'd body (hex SHA-256): what a machine pins and a
    /// join code names, so that two lists with the same serial are never taken for one.
    pub fn digest(bytes: &[u8]) -> Result<String, ListError> {
        use sha2::Digest;
        let (stored, _) = parse(bytes)?;
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"keychain member list digest v1");
        hasher.update(stored.body.as_bytes());
        Ok(crate::encoding::hex(&hasher.finalize()))
    }

    /// Checks a stored list under `key`, the group key of generation `generation`.
    pub fn open(bytes: &[u8], key: &GroupKey, generation: u64) -> Result<MemberList, ListError> {
        let (stored, body) = parse(bytes)?;
        if body.generation != generation {
            return Err(ListError::WrongGeneration {
                list: body.generation,
                key: generation,
            });
        }
        let expected = key.mac_list(generation, stored.body.as_bytes());
        if !crate::secret::ct_eq_str(&stored.mac, &expected) {
            return Err(ListError::BadMac);
        }
        Ok(MemberList {
            generation,
            serial: body.serial,
            members: body.members,
        })
    }

    /// The members' public keys, every one of which must parse.
    pub fn recipients(&self) -> Result<Vec<age::x25519::Recipient>, String> {
        self.members
            .iter()
            .map(|m| {
                m.recipient
                    .trim()
                    .parse()
                    .map_err(|_| format!("member '{}' has no valid age public key", m.name))
            })
            .collect()
    }

    /// The member with this name or this public key.
    pub fn find(&self, name_or_recipient: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.name == name_or_recipient || m.recipient == name_or_recipient)
    }
}

fn parse(bytes: &[u8]) -> Result<(Stored, Body), ListError> {
    let stored: Stored = serde_json::from_slice(bytes).map_err(|_| ListError::Corrupt)?;
    let body: Body = serde_json::from_str(&stored.body).map_err(|_| ListError::Corrupt)?;
    if body.format != 1 {
        return Err(ListError::Corrupt);
    }
    Ok((stored, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str) -> Member {
        Member {
            name: name.into(),
            recipient: age::x25519::Identity::generate().to_public().to_string(),
            added_at: 1_700_000_000,
            added_by: "root@etl1".into(),
        }
    }

    #[test]
    fn a_recipient_planted_without_the_group_key_is_refused() {
        let key = GroupKey::generate();
        let list = MemberList {
            generation: 0,
            serial: 1,
            members: vec![member("etl1")],
        };
        let sealed = list.seal(&key);
        assert_eq!(MemberList::open(&sealed, &key, 0).unwrap(), list);

        // Edited in place: the body changes, the MAC cannot follow.
        let mut stored: Stored = serde_json::from_slice(&sealed).unwrap();
        let mut body: Body = serde_json::from_str(&stored.body).unwrap();
        body.members.push(member("mallory"));
        stored.body = serde_json::to_string(&body).unwrap();
        let planted = serde_json::to_vec(&stored).unwrap();
        assert_eq!(
            MemberList::open(&planted, &key, 0).unwrap_err(),
            ListError::BadMac
        );

        // Re-MAC'd under a key of the planter's own: still refused under the real key.
        let forged = MemberList {
            generation: 0,
            serial: 1,
            members: body.members,
        }
        .seal(&GroupKey::generate());
        assert_eq!(
            MemberList::open(&forged, &key, 0).unwrap_err(),
            ListError::BadMac
        );
    }

    #[test]
    fn a_list_of_an_older_generation_is_not_taken_for_the_current_one() {
        let key = GroupKey::generate();
        let old = MemberList {
            generation: 0,
            serial: 1,
            members: vec![member("etl1"), member("gone")],
        }
        .seal(&key);
        assert_eq!(
            MemberList::open(&old, &key, 1).unwrap_err(),
            ListError::WrongGeneration { list: 0, key: 1 }
        );
    }
}
