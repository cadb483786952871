//! A line this machine's copy ends in without its newline (issue 20, item 7): the event a
//! cached `login` adds to the copy while the store has not answered for it yet, left there by a
//! process killed before the answer (or torn by one killed while writing). The next sync
//! settles it against the store, whatever the store did with the write: it never turns into a
//! refused trail, never hides a tail the operator deleted, and never loses a landed event.
//! Over a real folder store, as `tests.rs`; the same against a real OpenBao, with a process
//! really killed, in `tests/it/openbao_fast_login.rs`.

use std::sync::Arc;

use secrecy::SecretBox;

use super::*;
use crate::audit::Action;
use crate::store::kv::LocalKv;

fn secret() -> Vec<Option<SecretBox<[u8; 32]>>> {
    vec![Some(SecretBox::new(Box::new([1; 32])))]
}

fn log(kv: &Arc<LocalKv>, dir: &Path) -> SharedLog {
    SharedLog::new(kv.clone(), dir, &secret(), crate::clock::system())
}

fn event(account: &str) -> Event {
    Event::new("login", Action::LoginCache).account(account)
}

fn any_key() -> AuditKey {
    AuditKey::derive(&SecretBox::new(Box::new([9u8; 32])))
}

/// A store, and machine one with one event (`first`, position 0) in it and in its copy.
struct World {
    store: tempfile::TempDir,
    kv: Arc<LocalKv>,
    one_dir: tempfile::TempDir,
    one: SharedLog,
}

fn world() -> World {
    let store = tempfile::tempdir().unwrap();
    let kv = Arc::new(LocalKv::open(store.path()).unwrap());
    let one_dir = tempfile::tempdir().unwrap();
    let one = log(&kv, one_dir.path());
    one.append(&event("first")).unwrap();
    World {
        store,
        kv,
        one_dir,
        one,
    }
}

impl World {
    /// What a `login` killed after adding its event to the copy and before the store's answer
    /// leaves: the event for the position after the copy's end, in the copy without its
    /// newline. Returns the event's bytes.
    fn killed_before_the_answer(&self, account: &str) -> Vec<u8> {
        let _lock = self.one.lock().unwrap();
        let cursor = self.one.copy_cursor().unwrap();
        let (line, _) = self
            .one
            .encode(&cursor, &event(account), &Origin::current())
            .unwrap();
        self.one.append_copy(&line).unwrap();
        line
    }

    fn copy(&self) -> Vec<u8> {
        std::fs::read(self.one_dir.path().join(COPY_FILE)).unwrap()
    }

    fn held(&self, seq: u64) -> Option<Vec<u8>> {
        self.kv.get(&position(seq)).unwrap().map(|v| v.bytes)
    }

    /// The copy's lines, each ended by its newline (a copy ending without one fails).
    fn copy_lines(&self) -> Vec<Vec<u8>> {
        let copy = self.copy();
        assert_eq!(copy.last(), Some(&b'\n'), "the copy ends in a newline");
        copy.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// A cached `login`'s fast path on machine one: what it would reveal.
    fn fast_login(&self) -> Option<&'static str> {
        let witnessed = witness_copy_end(&*self.kv, self.one_dir.path());
        self.one
            .append_after_copy(&event("fast"), 0, &witnessed, |_| Some("token"))
            .unwrap()
    }

    fn verifies(&self, lines: u64) {
        let report = self.one.verify(&any_key()).unwrap();
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.lines, lines, "{report}");
    }
}

#[test]
fn an_event_the_store_never_took_is_written_again_before_the_next_one() {
    let w = world();
    let line = w.killed_before_the_answer("killed");
    assert_eq!(w.held(1), None);
    w.one.append(&event("next")).unwrap();
    // Written where it was meant to go, chained as it was, and the next event after it.
    assert_eq!(w.held(1).as_deref(), Some(&line[..]));
    assert_eq!(w.copy_lines()[1], line);
    assert_eq!(w.copy_lines().len(), 3);
    w.verifies(3);
}

#[test]
fn an_event_the_store_took_before_the_kill_is_kept_once() {
    let w = world();
    let line = w.killed_before_the_answer("killed");
    w.kv.put(&position(1), &line, KvExpect::Absent).unwrap();
    w.one.append(&event("next")).unwrap();
    let lines = w.copy_lines();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1], line);
    assert_eq!(w.held(1).as_deref(), Some(&line[..]));
    w.verifies(3);
}

#[test]
fn an_event_whose_position_another_machine_took_is_dropped_for_theirs() {
    let w = world();
    let line = w.killed_before_the_answer("killed");
    let two_dir = tempfile::tempdir().unwrap();
    log(&w.kv, two_dir.path()).append(&event("theirs")).unwrap();
    w.one.append(&event("next")).unwrap();
    let theirs = w.held(1).unwrap();
    assert_ne!(theirs, line);
    let lines = w.copy_lines();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1], theirs);
    assert!(!lines.contains(&line));
    w.verifies(3);
}

#[test]
fn a_torn_line_is_cut_off_and_the_trail_goes_on() {
    let w = world();
    let line = w.killed_before_the_answer("killed");
    // Only part of the line reached the file.
    let copy = w.copy();
    std::fs::write(
        w.one_dir.path().join(COPY_FILE),
        &copy[..copy.len() - line.len() / 2],
    )
    .unwrap();
    w.one.append(&event("next")).unwrap();
    assert_eq!(w.copy_lines().len(), 2);
    assert!(w.held(2).is_none());
    w.verifies(2);
}

#[test]
fn a_tail_the_operator_deleted_under_an_unanswered_event_is_still_refused() {
    let w = world();
    w.killed_before_the_answer("killed");
    std::fs::remove_file(w.store.path().join(position(0))).unwrap();
    let e = w.one.append(&event("next")).unwrap_err();
    assert!(e.to_string().contains("no longer holds"), "{e}");
    // Nothing was written after the hole.
    assert_eq!(w.held(1), None);
    assert_eq!(w.held(0), None);
}

#[test]
fn verify_leaves_an_unanswered_event_alone_and_does_not_count_it_as_seen() {
    let w = world();
    let before = {
        w.killed_before_the_answer("killed");
        w.copy()
    };
    w.verifies(1);
    assert_eq!(w.copy(), before);
    assert_eq!(w.held(1), None);
}

#[test]
fn the_fast_path_leaves_an_unanswered_event_to_the_normal_path() {
    let w = world();
    w.killed_before_the_answer("killed");
    let before = w.copy();
    let served = w.fast_login();
    assert_eq!(served, None);
    assert_eq!(w.copy(), before);
    assert_eq!(w.held(1), None);
}

#[test]
fn the_fast_path_ends_its_line_once_the_store_took_it_and_takes_it_back_on_a_conflict() {
    let w = world();
    let served = w.fast_login();
    assert_eq!(served, Some("token"));
    let lines = w.copy_lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(w.held(1).as_deref(), Some(&lines[1][..]));

    // Another machine appends after etl1's copy ended: the fast path's write loses the
    // position, and its line comes off the copy again.
    let two_dir = tempfile::tempdir().unwrap();
    let two = log(&w.kv, two_dir.path());
    two.append(&event("theirs")).unwrap();
    let before = w.copy();
    let served = w.fast_login();
    assert_eq!(served, None);
    assert_eq!(w.copy(), before);
    w.one.append(&event("next")).unwrap();
    w.verifies(4);
}

#[test]
fn the_copy_s_end_read_over_an_unsettled_line_settles_it_and_does_not_cut_it_off() {
    let w = world();
    let line = w.killed_before_the_answer("killed");
    // Every caller settles first; should one not, the event must still reach the store.
    let cursor = {
        let _lock = w.one.lock().unwrap();
        w.one.copy_cursor().unwrap()
    };
    assert_eq!(cursor.next_seq, 2, "the event is part of the copy's end");
    assert_eq!(w.held(1).as_deref(), Some(&line[..]));
    assert_eq!(w.copy_lines()[1], line);
    w.verifies(2);
}

#[test]
fn bytes_after_the_copy_s_last_newline_longer_than_any_event_are_refused_not_cut() {
    let w = world();
    let copy = w.one_dir.path().join(COPY_FILE);
    let mut bytes = w.copy();
    bytes.extend(std::iter::repeat_n(b'x', 2 * MAX_LINE as usize));
    std::fs::write(&copy, &bytes).unwrap();
    let err = w.one.append(&event("next")).unwrap_err();
    assert!(matches!(err, AuditError::Corrupt { .. }), "{err}");
    assert_eq!(std::fs::read(&copy).unwrap(), bytes, "left as it was");
    assert_eq!(w.held(1), None, "nothing written");
}
