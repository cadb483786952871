//! The counter index against what an attacker who can write the keychain folder does to it
//! and to the log: every case must leave the replay check at least as strict as a read of the
//! whole log, and none may make a lookup read the whole log again once the index is built.

use std::fs;
use std::path::Path;

use secrecy::SecretBox;

use super::*;

fn key() -> AuditKey {
    AuditKey::derive(&SecretBox::new(Box::new([42u8; 32])))
}

fn other_key() -> AuditKey {
    AuditKey::derive(&SecretBox::new(Box::new([7u8; 32])))
}

fn fresh() -> (tempfile::TempDir, AuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(dir.path().join("audit.log"));
    log.init(&key()).unwrap();
    (dir, log)
}

fn write(log: &AuditLog, account: &str, counter: u64) {
    log.append(
        &Event::new("set", Action::Set("password".into()))
            .account(account)
            .counter(counter),
    )
    .unwrap();
}

/// `n` events without a counter (what `totp` and cached logins log), in one batch.
fn reads(log: &AuditLog, n: usize) {
    let stamp = Stamp {
        time: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_793_577_600),
        user: "cron".into(),
        host: "srv".into(),
    };
    let events: Vec<Event> = (0..n)
        .map(|i| Event::new("login", Action::LoginCache).account(format!("acct-{}", i % 7)))
        .collect();
    log.append_stamped(events.iter().map(|e| (e, &stamp)))
        .unwrap();
}

fn counters(log: &AuditLog) -> Result<Counters, AuditError> {
    log.counter_snapshot()?.counters(&key())
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(path, text).unwrap();
}

/// The answer the whole log gives, read backwards as before the index existed.
fn scanned(log: &AuditLog, account: &str) -> Option<u64> {
    log.last_counter(account).unwrap()
}

#[test]
fn the_index_answers_like_the_whole_log_and_reads_only_what_came_after_it() {
    let (_dir, log) = fresh();
    write(&log, "acme", 1);
    write(&log, "beta", 4);
    reads(&log, 3000);
    write(&log, "acme", 2);
    reads(&log, 2000);

    // First lookup: no index yet; it is built from the first line, authenticated.
    let first = counters(&log).unwrap();
    assert!(!first.from_index && first.intact);
    assert_eq!(first.lines_read, 5003);
    assert!(log.index_path().exists());
    for account in ["acme", "beta", "acct-1", "nobody"] {
        assert_eq!(first.get(account), scanned(&log, account), "{account}");
    }

    // Then: only the lines after the index, however long the log.
    reads(&log, 10);
    let next = counters(&log).unwrap();
    assert!(next.from_index && next.intact);
    assert_eq!(next.lines_read, 10);
    assert_eq!(next.get("acme"), Some(2));
    write(&log, "acme", 3);
    assert_eq!(counters(&log).unwrap().get("acme"), Some(3));
    assert_eq!(scanned(&log, "acme"), Some(3));

    // The index moves forward once a reader went STRIDE lines past it: reads stay bounded.
    for _ in 0..5 {
        reads(&log, INDEX_STRIDE as usize);
        let c = counters(&log).unwrap();
        assert!(c.from_index && c.lines_read <= 2 * INDEX_STRIDE, "{c:?}");
    }
    // And the whole log still verifies: the index is beside it, not in it.
    assert!(log.verify(&key()).unwrap().is_ok());
}

#[test]
fn an_edited_line_already_in_the_index_cannot_lower_a_counter() {
    let (dir, log) = fresh();
    write(&log, "acme", 1);
    write(&log, "acme", 5);
    reads(&log, 100);
    assert_eq!(counters(&log).unwrap().get("acme"), Some(5));
    // Someone edits the logged counter down (the MAC no longer checks; only `audit verify`
    // would say so): a scan of the log is fooled, the index is not.
    let mut text = lines(log.path());
    text[1] = text[1].replace("\"counter\":5", "\"counter\":0");
    write_lines(log.path(), &text);
    assert_eq!(scanned(&log, "acme"), Some(0), "the scan alone is fooled");
    assert_eq!(counters(&log).unwrap().get("acme"), Some(5));
    drop(dir);
}

#[test]
fn a_line_that_does_not_authenticate_is_read_as_before_and_never_indexed() {
    let (_dir, log) = fresh();
    write(&log, "acme", 1);
    reads(&log, 10);
    // A line appended by hand without the key, naming a higher counter for beta: the scan
    // takes it, so the index-backed lookup must not be weaker and takes it too...
    let mut text = lines(log.path());
    let forged = text[2].replace(
        "\"account\":\"acct-1\"",
        "\"account\":\"beta\",\"counter\":9",
    );
    text.insert(3, forged);
    write_lines(log.path(), &text);
    let c = counters(&log).unwrap();
    assert!(!c.intact);
    assert_eq!(c.get("beta"), Some(9));
    assert_eq!(c.get("acme"), Some(1));
    // ...but nothing past the last authenticated line goes into the index.
    let again = counters(&log).unwrap();
    assert!(again.from_index, "the authenticated part was indexed");
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(log.index_path()).unwrap()).unwrap();
    assert_eq!(index["body"]["next_seq"], 3, "{index}");
    assert!(index["body"]["counters"].get("beta").is_none(), "{index}");
}

#[test]
fn a_forged_or_foreign_index_is_refused_and_left_as_it_is() {
    let (_dir, log) = fresh();
    write(&log, "acme", 5);
    reads(&log, 10);
    counters(&log).unwrap();
    let path = log.index_path();
    let good = fs::read_to_string(&path).unwrap();

    // A counter edited down.
    let forged = good.replace("\"acme\":5", "\"acme\":1");
    assert_ne!(forged, good);
    fs::write(&path, &forged).unwrap();
    let e = counters(&log).unwrap_err();
    assert!(matches!(e, AuditError::IndexForged { .. }), "{e}");
    assert!(e.to_string().contains("does not authenticate"), "{e}");
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        forged,
        "never overwritten"
    );

    // The same log's index MAC'd under another keychain's key.
    fs::write(&path, &good).unwrap();
    let e = log.counter_snapshot().unwrap().counters(&other_key());
    assert!(matches!(e, Err(AuditError::IndexForged { .. })));

    // Garbage: a clear error, not re-created.
    fs::write(&path, "not an index").unwrap();
    let e = counters(&log).unwrap_err();
    assert!(matches!(e, AuditError::Corrupt { .. }), "{e}");
    assert_eq!(fs::read_to_string(&path).unwrap(), "not an index");
    fs::write(&path, "").unwrap();
    assert!(matches!(counters(&log), Err(AuditError::Corrupt { .. })));
}

#[test]
fn an_older_index_put_back_or_a_deleted_one_gives_the_same_answer() {
    let (_dir, log) = fresh();
    write(&log, "acme", 1);
    reads(&log, 100);
    counters(&log).unwrap();
    let old = fs::read(log.index_path()).unwrap();
    write(&log, "acme", 2);
    reads(&log, 3 * INDEX_STRIDE as usize);
    assert_eq!(counters(&log).unwrap().get("acme"), Some(2));

    // Rolled back: a true statement about an earlier point; the lines after it still count.
    fs::write(log.index_path(), &old).unwrap();
    let c = counters(&log).unwrap();
    assert!(c.from_index);
    assert_eq!(c.get("acme"), Some(2));

    // Deleted: rebuilt from the first line, authenticated.
    fs::remove_file(log.index_path()).unwrap();
    let c = counters(&log).unwrap();
    assert!(!c.from_index && c.intact);
    assert_eq!(c.get("acme"), Some(2));
    assert!(log.index_path().exists());
}

#[test]
fn an_index_the_log_no_longer_reaches_is_not_used() {
    let (_dir, log) = fresh();
    write(&log, "acme", 1);
    reads(&log, 100);
    let before = fs::read(log.path()).unwrap();
    let anchor = fs::read(log.anchor_path()).unwrap();
    write(&log, "acme", 7);
    reads(&log, 100);
    assert_eq!(counters(&log).unwrap().get("acme"), Some(7));
    // Log and anchor rolled back together (undetectable from inside the folder, see the
    // limits): the index points past the log's end and is not trusted; the answer is the log's.
    fs::write(log.path(), &before).unwrap();
    fs::write(log.anchor_path(), &anchor).unwrap();
    let c = counters(&log).unwrap();
    assert!(!c.from_index);
    assert_eq!(c.get("acme"), Some(1));
    // An index from another log under the same key (a copied identity) names a line this log
    // does not hold: rebuilt, not trusted.
    let (_other_dir, other) = fresh();
    write(&other, "acme", 1);
    reads(&other, 300);
    counters(&other).unwrap();
    fs::copy(other.index_path(), log.index_path()).unwrap();
    assert!(!counters(&log).unwrap().from_index);
}

#[test]
fn rotation_keeps_the_index_and_the_answer() {
    let (_dir, log) = fresh();
    write(&log, "acme", 3);
    reads(&log, 200);
    counters(&log).unwrap();
    log.rotate().unwrap();
    reads(&log, 10);
    // The index's last line is now in audit.log.1, at the same place: found there.
    let c = counters(&log).unwrap();
    assert!(c.from_index && c.intact, "{c:?}");
    assert_eq!(c.lines_read, 11, "the rotate line and the ten after it");
    assert_eq!(c.get("acme"), Some(3));
    write(&log, "acme", 4);
    assert_eq!(counters(&log).unwrap().get("acme"), Some(4));
    // A rotated file removed under the index: rebuilt from what is left, which no longer
    // starts at seq 0, so it is read as before (unauthenticated), never worse.
    reads(&log, 3 * INDEX_STRIDE as usize);
    counters(&log).unwrap();
    fs::remove_file(log.path().with_file_name("audit.log.1")).unwrap();
    fs::remove_file(log.index_path()).unwrap();
    let c = counters(&log).unwrap();
    assert!(!c.intact);
    assert_eq!(c.get("acme"), Some(4));
}

#[test]
fn a_line_still_being_written_is_not_read() {
    let (_dir, log) = fresh();
    write(&log, "acme", 2);
    reads(&log, 5);
    counters(&log).unwrap();
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(log.path())
        .unwrap();
    std::io::Write::write_all(&mut file, b"{\"seq\":7,\"account\":\"acme\",\"counter\":9").unwrap();
    let c = counters(&log).unwrap();
    assert!(c.intact);
    assert_eq!(c.get("acme"), Some(2));
}

/// A long log after the account's last write (the CLI test `history::` runs 200,000 lines).
/// Not timed: what it pins is that the answer is right and that, once indexed, a lookup reads
/// a bounded number of lines however long the log is.
#[test]
fn at_50_000_lines_the_answer_is_the_logs_and_a_lookup_reads_a_bounded_tail() {
    let (_dir, log) = fresh();
    write(&log, "acme", 1);
    write(&log, "acme", 2);
    for _ in 0..5 {
        reads(&log, 10_000);
    }
    let built = counters(&log).unwrap();
    assert_eq!(built.lines_read, 50_002);
    assert_eq!(built.get("acme"), Some(2));
    reads(&log, 3);
    let next = counters(&log).unwrap();
    assert!(next.from_index && next.intact);
    assert_eq!(next.lines_read, 3);
    assert_eq!(next.get("acme"), Some(2));
}

/// Readers that rewrite the index while a writer appends (and each other rewrite it): no
/// reader ever sees a counter below one whose write had returned before its snapshot, and the
/// index left behind is whole and true.
#[test]
fn readers_rewriting_the_index_while_a_writer_appends_never_see_a_lower_counter() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let (_dir, log) = fresh();
    write(&log, "acme", 1);
    let committed = Arc::new(AtomicU64::new(1));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (log, committed, done) = (log.clone(), committed.clone(), done.clone());
            std::thread::spawn(move || {
                let mut checks = 0;
                while !done.load(Ordering::SeqCst) || checks == 0 {
                    let floor = committed.load(Ordering::SeqCst);
                    let got = counters(&log).unwrap().get("acme").unwrap();
                    assert!(got >= floor, "{got} < {floor}");
                    checks += 1;
                }
            })
        })
        .collect();
    for k in 2..=120 {
        write(&log, "acme", k);
        committed.store(k, Ordering::SeqCst);
        reads(&log, 7);
    }
    done.store(true, Ordering::SeqCst);
    for reader in readers {
        reader.join().unwrap();
    }
    let c = counters(&log).unwrap();
    assert!(c.from_index && c.intact);
    assert_eq!(c.get("acme"), Some(120));
}
