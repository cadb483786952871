//! The member list and group key over a real folder store ([`LocalKv`]): two or three machines
//! are identities with folders of their own (for their pins) sharing one store folder.

use super::*;
use crate::exit;
use crate::store::kv::LocalKv;

struct Machine {
    identity: Identity,
    dir: tempfile::TempDir,
}

impl Machine {
    fn new() -> Self {
        Machine {
            identity: Identity::generate(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn shared<'a>(&'a self, kv: &'a LocalKv) -> Shared<'a> {
        Shared::new(kv, self.dir.path())
    }

    fn recipient(&self) -> String {
        self.identity.to_public().to_string()
    }

    fn as_member(&self, name: &str) -> Member {
        Member {
            name: name.into(),
            recipient: self.recipient(),
            added_at: 1_700_000_000,
            added_by: "root@etl1".into(),
        }
    }
}

fn store() -> (tempfile::TempDir, LocalKv) {
    let dir = tempfile::tempdir().unwrap();
    let kv = LocalKv::open(dir.path()).unwrap();
    (dir, kv)
}

#[test]
fn a_joined_machine_is_told_to_ask_a_member_then_opens_once_added() {
    let (_d, kv) = store();
    let etl1 = Machine::new();
    let etl2 = Machine::new();
    let opened = etl1
        .shared(&kv)
        .create(&etl1.identity, "etl1", "root@etl1", 1_700_000_000)
        .unwrap();
    etl2.shared(&kv).join(&etl2.identity).unwrap();

    let e = etl2.shared(&kv).open(&etl2.identity).unwrap_err();
    assert_eq!(e.exit_code(), exit::LOCKED);
    let hint = e.hint().unwrap();
    assert!(
        hint.contains(&format!(
            "keychain member add {} --name HOST",
            etl2.recipient()
        )),
        "{hint}"
    );

    let added = etl1
        .shared(&kv)
        .add(&opened, etl2.as_member("etl2"))
        .unwrap();
    // Added, but it trusts nothing before its join code.
    let e = etl2.shared(&kv).open(&etl2.identity).unwrap_err();
    assert!(matches!(e, Error::NotJoined { .. }), "{e}");
    assert_eq!(e.exit_code(), exit::LOCKED);
    assert_eq!(
        etl2.shared(&kv)
            .accept_join(&etl2.identity, &added.join_code())
            .unwrap(),
        Accepted::Pinned
    );
    let seen = etl2.shared(&kv).open(&etl2.identity).unwrap();
    assert_eq!(seen.list.members.len(), 2);
    assert_eq!(seen.key.id(), opened.key.id());
    assert_eq!(
        etl2.shared(&kv)
            .accept_join(&etl2.identity, &added.join_code())
            .unwrap(),
        Accepted::AlreadyJoined
    );
}

#[test]
fn a_group_key_and_list_planted_before_the_first_use_fail_the_join_code() {
    let (_d, kv) = store();
    let etl1 = Machine::new();
    let etl2 = Machine::new();
    let mallory = Machine::new();
    let opened = etl1
        .shared(&kv)
        .create(&etl1.identity, "etl1", "root@etl1", 1_700_000_000)
        .unwrap();
    etl2.shared(&kv).join(&etl2.identity).unwrap();
    let added = etl1
        .shared(&kv)
        .add(&opened, etl2.as_member("etl2"))
        .unwrap();
    let code = added.join_code();

    // Mallory writes a key of her own, wrapped to etl2 and herself, and a list MAC'd under it
    // with the same generation and serial the code names.
    let hers = GroupKey::generate();
    let list = MemberList {
        generation: 0,
        serial: added.list.serial,
        members: vec![etl2.as_member("etl2"), mallory.as_member("etl1")],
    };
    let raw_group = kv.get(&group_key_name(0)).unwrap().unwrap();
    let wrapped = hers.wrap(0, &list.recipients().unwrap(), None).unwrap();
    kv.put(
        &group_key_name(0),
        &wrapped.to_bytes(),
        KvExpect::At(raw_group.version),
    )
    .unwrap();
    let raw_list = kv.get(LIST_KEY).unwrap().unwrap();
    kv.put(LIST_KEY, &list.seal(&hers), KvExpect::At(raw_list.version))
        .unwrap();
    let e = etl2
        .shared(&kv)
        .accept_join(&etl2.identity, &code)
        .unwrap_err();
    assert_eq!(e.exit_code(), exit::INTEGRITY, "{e}");
    assert!(e.to_string().contains("not the ones"), "{e}");
    // And nothing was pinned: the machine still trusts nothing.
    let e = etl2.shared(&kv).open(&etl2.identity).unwrap_err();
    assert!(matches!(e, Error::NotJoined { .. }), "{e}");
    assert!(etl2.shared(&kv).trail_secrets(&etl2.identity).is_err());
}

#[test]
fn a_member_list_rolled_back_within_its_generation_is_refused_by_every_member() {
    let (_d, kv) = store();
    let etl1 = Machine::new();
    let etl2 = Machine::new();
    let etl3 = Machine::new();
    let opened = etl1
        .shared(&kv)
        .create(&etl1.identity, "etl1", "root@etl1", 1_700_000_000)
        .unwrap();
    let with_2 = etl1
        .shared(&kv)
        .add(&opened, etl2.as_member("etl2"))
        .unwrap();
    etl1.shared(&kv).trust(&etl1.identity, &with_2).unwrap();
    etl2.shared(&kv).join(&etl2.identity).unwrap();
    etl2.shared(&kv)
        .accept_join(&etl2.identity, &with_2.join_code())
        .unwrap();
    let before_3 = kv.get(LIST_KEY).unwrap().unwrap().bytes;
    let with_3 = etl1
        .shared(&kv)
        .add(&with_2, etl3.as_member("etl3"))
        .unwrap();
    etl1.shared(&kv).trust(&etl1.identity, &with_3).unwrap();
    etl2.shared(&kv).open(&etl2.identity).unwrap();

    // The list from before 'add etl3' put back: same generation, a valid MAC.
    kv.put(LIST_KEY, &before_3, KvExpect::At(with_3.list_version))
        .unwrap();
    for m in [&etl1, &etl2] {
        let e = m.shared(&kv).open(&m.identity).unwrap_err();
        assert_eq!(e.exit_code(), exit::INTEGRITY, "{e}");
        assert!(e.to_string().contains("rolled back"), "{e}");
    }
}

#[test]
fn a_recipient_planted_in_the_store_is_refused_with_exit_7() {
    let (_d, kv) = store();
    let etl1 = Machine::new();
    let mallory = Machine::new();
    etl1.shared(&kv)
        .create(&etl1.identity, "etl1", "root@etl1", 1_700_000_000)
        .unwrap();

    // Mallory can write the store but holds no group key: she seals a list under a key of her
    // own, and wraps that key to etl1 and herself, keeping generation 0.
    let hers = GroupKey::generate();
    let list = MemberList {
        generation: 0,
        serial: 1,
        members: vec![etl1.as_member("etl1"), mallory.as_member("backup")],
    };
    let raw_list = kv.get(LIST_KEY).unwrap().unwrap();
    kv.put(LIST_KEY, &list.seal(&hers), KvExpect::At(raw_list.version))
        .unwrap();
    let e = etl1.shared(&kv).open(&etl1.identity).unwrap_err();
    assert_eq!(e.exit_code(), exit::INTEGRITY, "{e}");
    assert!(e.to_string().contains("MAC does not match"), "{e}");

    // Then she replaces the group key too, so that the list checks under the key in the store:
    // etl1's pin names another key.
    let raw_group = kv.get(&group_key_name(0)).unwrap().unwrap();
    let wrapped = hers.wrap(0, &list.recipients().unwrap(), None).unwrap();
    kv.put(
        &group_key_name(0),
        &wrapped.to_bytes(),
        KvExpect::At(raw_group.version),
    )
    .unwrap();
    let e = etl1.shared(&kv).open(&etl1.identity).unwrap_err();
    assert_eq!(e.exit_code(), exit::INTEGRITY, "{e}");
    assert!(e.to_string().contains("replaced"), "{e}");
    assert!(etl1.shared(&kv).problem(&etl1.identity).is_some());
}

#[test]
fn a_new_generation_not_linked_from_the_pinned_one_is_refused() {
    let (_d, kv) = store();
    let etl1 = Machine::new();
    let mallory = Machine::new();
    etl1.shared(&kv)
        .create(&etl1.identity, "etl1", "root@etl1", 1_700_000_000)
        .unwrap();
    let hers = GroupKey::generate();
    let list = MemberList {
        generation: 1,
        serial: 2,
        members: vec![etl1.as_member("etl1"), mallory.as_member("backup")],
    };
    let forged_link = GroupKey::generate().link_to(1, &hers.id());
    let wrapped = hers
        .wrap(1, &list.recipients().unwrap(), Some(forged_link))
        .unwrap();
    kv.put(&group_key_name(1), &wrapped.to_bytes(), KvExpect::Absent)
        .unwrap();
    let version = kv.get(LIST_KEY).unwrap().unwrap().version;
    kv.put(LIST_KEY, &list.seal(&hers), KvExpect::At(version))
        .unwrap();
    let e = etl1.shared(&kv).open(&etl1.identity).unwrap_err();
    assert_eq!(e.exit_code(), exit::INTEGRITY, "{e}");
    assert!(e.to_string().contains("not made by a holder"), "{e}");
}

#[test]
fn after_rm_the_removed_member_cannot_open_the_new_group_key_and_the_others_follow() {
    let (_d, kv) = store();
    let etl1 = Machine::new();
    let etl2 = Machine::new();
    let gone = Machine::new();
    let opened = etl1
        .shared(&kv)
        .create(&etl1.identity, "etl1", "root@etl1", 1_700_000_000)
        .unwrap();
    gone.shared(&kv).join(&gone.identity).unwrap();
    etl2.shared(&kv).join(&etl2.identity).unwrap();
    let opened = etl1
        .shared(&kv)
        .add(&opened, etl2.as_member("etl2"))
        .unwrap();
    let opened = etl1
        .shared(&kv)
        .add(&opened, gone.as_member("gone"))
        .unwrap();
    // etl2 pins generation 0 now; gone too.
    for m in [&etl2, &gone] {
        m.shared(&kv)
            .accept_join(&m.identity, &opened.join_code())
            .unwrap();
    }
    etl2.shared(&kv).open(&etl2.identity).unwrap();
    let before = gone.shared(&kv).open(&gone.identity).unwrap();

    let (after, removed) = etl1
        .shared(&kv)
        .remove(&etl1.identity, &opened, "gone")
        .unwrap();
    assert_eq!(removed.name, "gone");
    assert_eq!(after.list.generation, 1);
    assert_ne!(after.key.id(), before.key.id());

    let e = gone.shared(&kv).open(&gone.identity).unwrap_err();
    assert_eq!(e.exit_code(), exit::LOCKED, "{e}");
    // etl2 follows the link from generation 0 to 1.
    let seen = etl2.shared(&kv).open(&etl2.identity).unwrap();
    assert_eq!(seen.key.id(), after.key.id());
    assert_eq!(seen.list.members.len(), 2);

    // A record sealed to the new member set does not open with the removed identity.
    let recipients = seen.list.recipients().unwrap();
    let recipients: Vec<&dyn age::Recipient> = recipients
        .iter()
        .map(|r| r as &dyn age::Recipient)
        .collect();
    let sealed = crate::crypto::encrypt(b"new refresh token", &recipients).unwrap();
    assert!(crate::crypto::decrypt(&sealed, &gone.identity).is_err());
    assert!(crate::crypto::decrypt(&sealed, &etl2.identity).is_ok());
}

#[test]
fn a_member_list_rolled_back_to_an_older_generation_is_refused() {
    let (_d, kv) = store();
    let etl1 = Machine::new();
    let gone = Machine::new();
    let opened = etl1
        .shared(&kv)
        .create(&etl1.identity, "etl1", "root@etl1", 1_700_000_000)
        .unwrap();
    let opened = etl1
        .shared(&kv)
        .add(&opened, gone.as_member("gone"))
        .unwrap();
    let old_list = kv.get(LIST_KEY).unwrap().unwrap().bytes;
    let (after, _) = etl1
        .shared(&kv)
        .remove(&etl1.identity, &opened, "gone")
        .unwrap();
    kv.put(LIST_KEY, &old_list, KvExpect::At(after.list_version))
        .unwrap();
    let e = etl1.shared(&kv).open(&etl1.identity).unwrap_err();
    assert_eq!(e.exit_code(), exit::INTEGRITY, "{e}");
    assert!(e.to_string().contains("rolled back"), "{e}");
}

#[test]
fn a_machine_cannot_remove_itself_nor_add_a_member_twice() {
    let (_d, kv) = store();
    let etl1 = Machine::new();
    let opened = etl1
        .shared(&kv)
        .create(&etl1.identity, "etl1", "root@etl1", 1_700_000_000)
        .unwrap();
    let e = etl1
        .shared(&kv)
        .remove(&etl1.identity, &opened, "etl1")
        .unwrap_err();
    assert_eq!(e.exit_code(), exit::USAGE);
    let e = etl1
        .shared(&kv)
        .add(&opened, etl1.as_member("other-name"))
        .unwrap_err();
    assert_eq!(e.exit_code(), exit::USAGE);
    assert!(e.to_string().contains("already a member"), "{e}");
}
