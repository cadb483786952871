//! Issue 20, item 7: the fast path of a cached `login` on a shared keychain (one request: the
//! `login` event written right after this machine's copy of the trail, the token from its
//! authenticated copy of the record) is taken only where it cannot change the outcome. Each test
//! makes it refuse or fall back: a token another machine refreshed, a record the operator
//! rolled back in the store, a removed member. Against a real OpenBao; never skipped.

use crate::openbao_attacks::{Team, kv_of, operator_puts, record_raw, team, trail_end};
use crate::support::{self, Kc, assert_exit, stderr};

/// `acme`'s access token set to `token`, valid for 10 minutes (a logged write, as a refresh).
pub(crate) fn set_token(kc: &Kc, token: &str) {
    let now = support::unix_now() as i64;
    kc.edit_account("acme", |account| {
        account.set_secret(
            keychain::record::SecretField::AccessToken,
            Some(token.to_string().into()),
            now,
        );
        account.header.access_token_expires = Some(now + 600);
    });
}

pub(crate) fn login(kc: &Kc) -> String {
    kc.ok(&["login", "acme"]).trim().to_string()
}

/// Both machines served `token` and their copies are current.
fn both_serve(t: &Team, token: &str) {
    for kc in [&t.etl1, &t.etl2] {
        assert_eq!(login(kc), token);
        assert_eq!(login(kc), token);
    }
}

#[test]
fn a_token_another_machine_refreshed_is_served_after_the_fast_path_falls_back() {
    let t = team();
    set_token(&t.etl1, "at-first");
    both_serve(&t, "at-first");
    set_token(&t.etl1, "at-refreshed");
    // etl2's copy of the trail ends before the refresh: its write there is refused.
    assert_eq!(login(&t.etl2), "at-refreshed");
    assert_eq!(login(&t.etl2), "at-refreshed");
    for kc in [&t.etl1, &t.etl2] {
        kc.ok(&["audit", "verify"]);
    }
}

/// etl2's copy of the trail is brought up to date by a command on another account, so the
/// position after it is free, but its copy of `acme`'s record is older than the write the
/// trail logged: the counter check sends it to the normal path, never the old token out.
#[test]
fn a_local_record_copy_older_than_the_trail_copy_is_not_served() {
    let t = team();
    t.etl1.add_account("other");
    set_token(&t.etl1, "at-first");
    both_serve(&t, "at-first");
    set_token(&t.etl1, "at-refreshed");
    t.etl2.ok(&["show", "other", "--reveal", "password"]);
    assert_eq!(login(&t.etl2), "at-refreshed");
    t.etl2.ok(&["audit", "verify"]);
}

/// The operator puts back the previous version of the record (a member wrote it: its MAC
/// checks; its counter is behind the trail's). The fast path does not read the store: it still
/// serves the authentic copy, and the normal path still refuses the rolled-back record, on this
/// machine and on one whose copy is behind.
#[test]
fn a_record_the_operator_rolled_back_is_not_used_by_the_fast_path_and_refused_by_the_normal() {
    let t = team();
    set_token(&t.etl1, "at-old");
    both_serve(&t, "at-old");
    set_token(&t.etl1, "at-current");
    assert_eq!(login(&t.etl1), "at-current");
    let (_, current) = record_raw(&t, "acme", None);
    let (previous, _) = record_raw(&t, "acme", Some(current - 1));
    operator_puts(&t, "acme", &previous);

    assert_eq!(login(&t.etl1), "at-current");
    let out = t.etl1.run(&["show", "acme", "--reveal", "password"]);
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("older copy put back"),
        "{}",
        stderr(&out)
    );
    let out = t.etl2.run(&["login", "acme"]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("at-old"),
        "the rolled-back token was served"
    );
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("older copy put back"),
        "{}",
        stderr(&out)
    );
}

/// A removed member's fast-path write: `member rm` wrote at the position its copy ends at, so
/// its write is refused and the normal path refuses it. If the operator deletes the removal's
/// events so that its write lands, it is under the retired generation: every member refuses it.
#[test]
fn a_removed_members_fast_path_write_is_refused() {
    let t = team();
    set_token(&t.etl1, "at-before-rm");
    both_serve(&t, "at-before-rm");
    let kv = kv_of(&t.etl1);
    let cut = trail_end(&*kv);
    t.etl1.ok(&["member", "rm", "etl2"]);
    let end = trail_end(&*kv);
    assert!(end > cut);

    let out = t.etl2.run(&["login", "acme"]);
    assert!(!out.status.success(), "a removed member logged in");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        trail_end(&*kv),
        end,
        "the removed member wrote to the trail"
    );

    // The operator cuts the trail back to where etl2's copy ends: etl2's event lands there,
    // under generation 0 (it serves only the token its own copy held).
    for seq in cut..end {
        t.bao.bao(&[
            "kv",
            "metadata",
            "delete",
            &format!("-mount={}", t.mount),
            &format!("team/etl/audit/{seq}"),
        ]);
    }
    let _ = t.etl2.run(&["login", "acme"]);
    assert_eq!(trail_end(&*kv), cut + 1, "etl2's event did not land");
    let out = t.etl1.run(&["audit", "verify"]);
    assert_exit(&out, 7);
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("replaced or rolled back"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A member's next command that syncs finds the removal's events gone and refuses.
    let out = t.etl1.run(&["show", "acme", "--reveal", "password"]);
    assert_exit(&out, 7);
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The operator deletes the trail's last event, one this machine saw (its copy ends with it).
/// Every cached login of this machine refuses from then on, printing no token.
/// The fast path reads the witness beside its write and reveals nothing before the witness
/// passed: the normal path then refuses, saying the store no longer holds an event this machine
/// saw. (Before the witness was restored, the fast path wrote its event after the hole and
/// served the token: this machine never noticed.) Its first try's event may stand after the
/// hole, recorded and never revealed (as after a crash before the print), and it is not in
/// this machine's copy: the second try finds that position taken and writes nothing more.
#[test]
fn a_trail_tail_the_operator_deleted_is_refused_by_the_next_cached_login() {
    let t = team();
    set_token(&t.etl1, "at-cached");
    both_serve(&t, "at-cached");
    let kv = kv_of(&t.etl1);
    let end = trail_end(&*kv);
    t.bao.bao(&[
        "kv",
        "metadata",
        "delete",
        &format!("-mount={}", t.mount),
        &format!("team/etl/audit/{}", end - 1),
    ]);
    // etl2 logged last: the deleted event is the last one its copy holds.
    for _ in 0..2 {
        let out = t.etl2.run(&["login", "acme"]);
        assert_exit(&out, 7);
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr(&out).contains("no longer holds an event this machine saw"),
            "{}",
            stderr(&out)
        );
    }
    assert!(
        kv.get(&format!("audit/{}", end + 1)).unwrap().is_none(),
        "a login wrote more than one event after the hole"
    );
    // What this machine's copy ends with is still the deleted event: nothing of the refused
    // logins was taken in as if the trail were whole.
    let copy = std::fs::read_to_string(t.etl2.dir.join("shared-audit.log")).unwrap();
    let last: serde_json::Value = serde_json::from_str(copy.lines().last().unwrap()).unwrap();
    assert_eq!(last["seq"].as_u64(), Some(end - 1), "{last}");
}
