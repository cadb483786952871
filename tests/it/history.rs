//! The replay check at a long history (issue 19 item 2): `totp`, `show` and `login` compare a
//! record's write counter with the counter index (`audit.index`) and the log lines after it,
//! not the log back to the account's last write. These tests pin that the check is as strict at
//! 200,000 lines as on a new keychain, and that the index cannot be turned against it: forged,
//! rolled back, deleted, copied from another keychain, or made stale by an edited or cut log.
//! Not timed (see `benches/history.sh` for the cost). Real binary, real files.

use crate::support;

use std::time::{Duration, UNIX_EPOCH};

use keychain::audit::{Action, Event, Stamp};
use support::*;

const REPLAY: &str = "older copy put back (a replay)";

/// Appends `n` lines about other accounts (what a year of cron jobs leaves), through the library
/// in one batch: chained and MAC'd like any other, so `audit verify` passes.
fn history(kc: &Kc, n: usize) {
    let stamp = Stamp {
        time: UNIX_EPOCH + Duration::from_secs(1_793_577_600),
        user: "cron".into(),
        host: "srv".into(),
    };
    let events: Vec<Event> = (0..n)
        .map(|i| Event::new("login", Action::LoginCache).account(format!("acct-{}", i % 11)))
        .collect();
    keychain::audit::log_of(&kc.dir, &keychain::clock::system())
        .append_stamped(events.iter().map(|e| (e, &stamp)))
        .unwrap();
}

fn set_password(kc: &Kc, value: &str) {
    let pw = kc.file("new-pw.txt", &format!("{value}\n"));
    kc.ok(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
}

/// Every reading command refuses the record as a replay, and shows nothing of it.
fn refused_as_replay(kc: &Kc, what: &str) {
    for args in [
        &["show", "acme", "--reveal", "password"][..],
        &["totp", "acme"],
        &["login", "acme"],
        &["show", "acme"],
    ] {
        let out = kc.run(args);
        assert_exit(&out, 7);
        assert!(
            stderr(&out).contains(REPLAY),
            "{what}: {args:?}: {}",
            stderr(&out)
        );
        assert!(!contains(&out.stdout, CANARY_PASSWORD), "{what}: {args:?}");
    }
}

#[test]
fn at_200_000_lines_a_replayed_record_is_refused_and_an_edited_log_or_index_cannot_hide_it() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let old = std::fs::read(kc.record("acme")).unwrap();
    set_password(&kc, "pw-canary-newer");
    let current = std::fs::read(kc.record("acme")).unwrap();
    history(&kc, 200_000);
    let log = kc.dir.join("audit.log");
    let index = kc.dir.join("audit.index");

    // The record's last write is 200,000 lines back: still found (the first read builds the
    // index from the first line, authenticated).
    std::fs::write(kc.record("acme"), &old).unwrap();
    refused_as_replay(&kc, "200,000 lines");
    assert!(index.exists());
    // The current record is no replay.
    std::fs::write(kc.record("acme"), &current).unwrap();
    kc.ok(&["totp", "acme"]);

    // The logged counter of the `set` edited down in the log (without the key the lines' MACs
    // no longer check; a scan of the log alone took the edited value and let the old record
    // through).
    let text = std::fs::read_to_string(&log).unwrap();
    let of_the_set = |l: &str| l.contains("\"account\":\"acme\"") && l.contains("\"counter\":2");
    let set_line = text.lines().position(of_the_set).expect("the set's line");
    let edited: String = text
        .lines()
        .map(|l| {
            let l = if of_the_set(l) {
                l.replace("\"counter\":2", "\"counter\":0")
            } else {
                l.to_string()
            };
            l + "\n"
        })
        .collect();
    std::fs::write(&log, &edited).unwrap();
    std::fs::write(kc.record("acme"), &old).unwrap();
    refused_as_replay(&kc, "a logged counter edited down");
    std::fs::write(&log, &text).unwrap();

    // The index edited (acme's counter lowered): refused as not authentic, and left as it is.
    let good = std::fs::read_to_string(&index).unwrap();
    let forged = good.replace("\"acme\":2", "\"acme\":1");
    assert_ne!(forged, good, "{good}");
    std::fs::write(&index, &forged).unwrap();
    let out = kc.run(&["totp", "acme"]);
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("does not authenticate"),
        "{}",
        stderr(&out)
    );
    assert!(!contains(&out.stdout, CANARY_PASSWORD));
    assert_eq!(std::fs::read_to_string(&index).unwrap(), forged);
    std::fs::write(&index, &good).unwrap();

    // The log cut back to before the `set` (the anchor left as it was): the reveal stops at
    // the log's check against its anchor, as before the index (fail closed).
    let cut: String = text
        .lines()
        .take(set_line)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&log, cut).unwrap();
    for args in [
        &["show", "acme", "--reveal", "password"][..],
        &["totp", "acme"],
    ] {
        let out = kc.run(args);
        assert_exit(&out, 7);
        assert!(!contains(&out.stdout, CANARY_PASSWORD), "{args:?}");
    }
    std::fs::write(&log, &text).unwrap();
    std::fs::write(kc.record("acme"), &current).unwrap();
    assert_eq!(
        kc.ok(&["show", "acme", "--reveal", "password"]).trim(),
        "pw-canary-newer"
    );
}

#[test]
fn an_older_deleted_or_foreign_index_never_lets_a_replay_through() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let old = std::fs::read(kc.record("acme")).unwrap();
    // An index that knows only the first write (built by this read).
    kc.ok(&["show", "acme"]);
    let index = kc.dir.join("audit.index");
    let first_index = std::fs::read(&index).unwrap();
    set_password(&kc, "pw-canary-newer");
    history(&kc, 2_000);
    kc.ok(&["totp", "acme"]);
    assert_ne!(std::fs::read(&index).unwrap(), first_index, "it moved on");

    std::fs::write(kc.record("acme"), &old).unwrap();
    // Rolled back: the lines after it (the `set` among them) are read again.
    std::fs::write(&index, &first_index).unwrap();
    refused_as_replay(&kc, "an older index put back");
    // Deleted: rebuilt from the log, authenticated.
    std::fs::remove_file(&index).unwrap();
    refused_as_replay(&kc, "the index deleted");
    assert!(index.exists(), "rebuilt");
    // Another keychain's (MAC'd under its own key): refused, not used, not overwritten.
    let other = Kc::with_file_store();
    other.add_account("acme");
    other.ok(&["show", "acme"]);
    let foreign = std::fs::read(other.dir.join("audit.index")).unwrap();
    std::fs::write(&index, &foreign).unwrap();
    let out = kc.run(&["show", "acme", "--reveal", "password"]);
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("does not authenticate"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&index).unwrap(), foreign);
    // Garbage in its place: a clear error, never silently re-created.
    std::fs::write(&index, "{}").unwrap();
    let out = kc.run(&["totp", "acme"]);
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("audit.index is not in the expected format"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&index).unwrap(), "{}");
}

/// A rotation moves the index's line into `audit.log.1`: found there, and the check holds.
#[test]
fn after_a_rotation_the_index_is_found_in_the_rotated_file() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let old = std::fs::read(kc.record("acme")).unwrap();
    set_password(&kc, "pw-canary-newer");
    history(&kc, 500);
    kc.ok(&["totp", "acme"]);
    kc.ok(&["audit", "rotate"]);
    std::fs::write(kc.record("acme"), &old).unwrap();
    refused_as_replay(&kc, "after a rotation");
    kc.ok(&["audit", "verify"]);
}
