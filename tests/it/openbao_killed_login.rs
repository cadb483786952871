//! Issue 20, item 7: a cached `login` on a shared keychain adds its event to this machine's copy
//! of the trail while the store writes it, without the line's newline until the store answered.
//! Here the process is really killed in that wait, against a real OpenBao behind a relay that
//! holds the write: once with the write never reaching the store, once with the store taking it
//! and the answer never coming back. Either way the next `login` serves the token, the trail
//! holds the killed login's event exactly once where it was meant to go, nothing was revealed
//! by the killed process, and `audit verify` is clean on both machines. (Before, the copy was
//! written only after the answer, so no line was ever left waiting: the test's wait for one
//! fails there.) Without OpenBao this test fails, never skips.

use std::time::{Duration, Instant};

use crate::openbao_attacks::{PREFIX, join_at, kv_of, trail_end};
use crate::openbao_fast_login::{login, set_token};
use crate::support::Kc;
use crate::support::hold_relay::{Hold, HoldRelay};
use crate::support::openbao::Bao;

/// The copy's bytes after its last newline, once it ends without one (waited for).
fn wait_for_unanswered_line(kc: &Kc, child: &mut std::process::Child) -> Vec<u8> {
    let copy = kc.dir.join("shared-audit.log");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let bytes = std::fs::read(&copy).unwrap();
        if bytes.last().is_some_and(|&b| b != b'\n') {
            let start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            return bytes[start..].to_vec();
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the login ended without leaving its line unanswered in the copy"
        );
        assert!(
            Instant::now() < deadline,
            "the login never added its event to the copy while its write was held"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_login_killed_before_the_store_answered_for_its_event_leaves_a_trail_that_checks() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let etl1 = bao.keychain(&mount, PREFIX);
    etl1.add_account("acme");
    let relay = HoldRelay::start(&bao.addr);
    let etl2 = join_at(&bao, &relay.addr, &mount, "etl2", &etl1);
    set_token(&etl1, "at-cached");
    for kc in [&etl1, &etl2, &etl2] {
        assert_eq!(login(kc), "at-cached");
    }
    let kv = kv_of(&etl1);
    for hold in [Hold::Drop, Hold::NoAnswer] {
        let end = trail_end(&*kv);
        relay.hold(hold);
        let mut child = etl2
            .std_cmd()
            .args(["login", "acme"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let line = wait_for_unanswered_line(&etl2, &mut child);
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.stdout.is_empty(), "{hold:?}: the killed login revealed");
        assert_eq!(relay.held(), if hold == Hold::Drop { 1 } else { 2 });
        relay.hold(Hold::Pass);
        let event: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(event["seq"].as_u64(), Some(end), "{hold:?}: {event}");
        assert_eq!(event["action"], "login_cache", "{hold:?}: {event}");
        // The store took the write only where the relay passed it on.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let held = kv.get(&format!("audit/{end}")).unwrap();
            match hold {
                Hold::Drop => {
                    assert!(held.is_none(), "the dropped write reached the store");
                    break;
                }
                _ if held.is_some() => break,
                _ => assert!(Instant::now() < deadline, "the passed write never landed"),
            }
            std::thread::sleep(Duration::from_millis(10));
        }

        assert_eq!(login(&etl2), "at-cached", "{hold:?}");
        // The killed login's event is where it was meant to go, exactly as the copy had it.
        let held = kv.get(&format!("audit/{end}")).unwrap().unwrap().bytes;
        assert_eq!(held, line, "{hold:?}");
        let copy = std::fs::read(etl2.dir.join("shared-audit.log")).unwrap();
        assert_eq!(copy.last(), Some(&b'\n'), "{hold:?}");
        let lines: Vec<&[u8]> = copy.split(|&b| b == b'\n').collect();
        assert_eq!(
            lines.iter().filter(|l| **l == &line[..]).count(),
            1,
            "{hold:?}: the event is in the copy once"
        );
        for kc in [&etl1, &etl2] {
            kc.ok(&["audit", "verify"]);
        }
    }
    // And the logins after them go on from the settled copy.
    assert_eq!(login(&etl2), "at-cached");
    etl2.ok(&["audit", "verify"]);
}
