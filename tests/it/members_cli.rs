//! `keychain member add|list|rm` on a local keychain (its member list in `<dir>/members/`),
//! through the real binary: records sealed to every member, a planted recipient refused with
//! exit 7 and reported by `audit`, a removed member unable to open new writes.

use crate::support;

use keychain::keystore::Identity;
use support::*;

/// A second machine's identity, as `init --join` would create it there.
fn other_machine() -> (Identity, String) {
    let identity = Identity::generate();
    let recipient = identity.to_public().to_string();
    (identity, recipient)
}

fn opens_with(kc: &Kc, name: &str, identity: &Identity) -> bool {
    let bytes = std::fs::read(kc.record(name)).unwrap();
    keychain::record::open(&bytes, name, identity).is_ok()
}

#[test]
fn member_add_seals_every_record_to_the_new_member_and_lists_it() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.add_account("beta");
    let (etl2, recipient) = other_machine();
    assert!(!opens_with(&kc, "acme", &etl2));

    let out = kc.run(&["member", "add", &recipient, "--name", "etl2"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("sealed 2 records"),
        "{}",
        stderr(&out)
    );
    assert!(opens_with(&kc, "acme", &etl2) && opens_with(&kc, "beta", &etl2));

    let listed: serde_json::Value =
        serde_json::from_str(&kc.ok(&["member", "list", "--json"])).unwrap();
    let members = listed["members"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{listed}");
    assert_eq!(members[1]["name"], "etl2");
    assert_eq!(members[1]["recipient"], recipient.as_str());
    assert!(members[1]["added_by"].as_str().unwrap().contains('@'));

    // Every reseal is in the trail, with the account's new write counter.
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    assert!(log.contains("\"action\":\"member_add\",\"detail\":\"etl2\""));
    assert_eq!(log.matches("\"action\":\"reseal\"").count(), 2);
    kc.ok(&["audit", "verify"]);
}

#[test]
fn a_recipient_planted_in_the_member_list_is_refused_with_exit_7_and_reported() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let (_, etl2) = other_machine();
    kc.ok(&["member", "add", &etl2, "--name", "etl2"]);

    // Someone who can write the keychain folder but cannot open the group key swaps etl2's
    // public key for their own in the list.
    let (mallory, planted) = other_machine();
    let list = kc.dir.join("members/members");
    let text = std::fs::read_to_string(&list).unwrap();
    std::fs::write(&list, text.replace(&etl2, &planted)).unwrap();

    let pw = kc.file("new-pw.txt", "another-password\n");
    let out = kc.run(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("MAC does not match"),
        "{}",
        stderr(&out)
    );
    assert!(!opens_with(&kc, "acme", &mallory));

    let out = kc.run(&["audit", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "members-not-authenticated" && f["severity"] == "critical"),
        "{report}"
    );
}

#[test]
fn after_member_rm_new_writes_do_not_open_with_the_removed_identity_and_audit_names_the_accounts() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.add_account("beta");
    let (gone, recipient) = other_machine();
    kc.ok(&["member", "add", &recipient, "--name", "gone"]);
    assert!(opens_with(&kc, "acme", &gone));

    let out = kc.run(&["member", "rm", "gone"]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("acme, beta"), "{}", stderr(&out));
    assert!(!opens_with(&kc, "acme", &gone) && !opens_with(&kc, "beta", &gone));
    let pw = kc.file("new-pw.txt", "another-password\n");
    kc.ok(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
    assert!(!opens_with(&kc, "acme", &gone));

    // acme's password changed after the removal, its TOTP secret and beta's secrets did not.
    let out = kc.run(&["audit", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let removed: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "member-removed")
        .collect();
    assert_eq!(removed.len(), 1, "{report}");
    let message = removed[0]["message"].as_str().unwrap();
    assert!(
        message.contains("'gone'")
            && message.contains("acme (totp-secret)")
            && message.contains("beta (password, totp-secret)"),
        "{message}"
    );
}
