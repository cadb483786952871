//! Issue 20, item 6: a `member rm` cut short after the member list changed is finished by
//! running it again (the records left sealed to the removed member are sealed again without it).

use crate::support;

use keychain::keystore::Identity;
use support::*;

fn opens_with(kc: &Kc, name: &str, identity: &Identity) -> bool {
    let bytes = std::fs::read(kc.record(name)).unwrap();
    keychain::record::open(&bytes, name, identity).is_ok()
}

#[test]
fn an_interrupted_member_rm_is_finished_by_running_it_again() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    kc.add_account("beta");
    let gone = Identity::generate();
    kc.ok(&[
        "member",
        "add",
        &gone.to_public().to_string(),
        "--name",
        "gone",
    ]);
    assert!(opens_with(&kc, "beta", &gone));

    // beta cannot be read while the removal runs: the list changes, acme is sealed again,
    // then the removal stops at beta.
    let beta = std::fs::read(kc.record("beta")).unwrap();
    std::fs::write(kc.record("beta"), b"not a record").unwrap();
    let out = kc.run(&["member", "rm", "gone"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("run the same"), "{}", stderr(&out));
    assert!(!opens_with(&kc, "acme", &gone));
    std::fs::write(kc.record("beta"), &beta).unwrap();
    assert!(
        opens_with(&kc, "beta", &gone),
        "still sealed to the removed member"
    );

    // The same command again finishes it.
    let out = kc.run(&["member", "rm", "gone"]);
    assert_exit(&out, 0);
    assert!(!opens_with(&kc, "beta", &gone) && !opens_with(&kc, "acme", &gone));
    kc.ok(&["audit", "verify"]);
    // Once more: nothing left to do, still a success; a name never added is still refused.
    kc.ok(&["member", "rm", "gone"]);
    let out = kc.run(&["member", "rm", "never-added"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("no member named"), "{}", stderr(&out));
}
