//! The load-proof figure of the month (issue 19): day 1's local keychains kept as they were and
//! measured side by side with the live ones, the same cached `login` on each, in turn.

use std::collections::BTreeSet;
use std::process::Command;

use super::{DAY, World, children_cpu_ms, command, percentile};

/// One side-by-side probe: the same cached `login`, K times on day 1's snapshot of a local
/// keychain, K times on a second copy of it (the control: what two identical keychains differ
/// by, the probe's noise floor) and K times on the live one, in turn, each at the same time of
/// day and with its token as old. CPU user+sys per call, ms.
#[derive(Debug, Clone)]
pub struct SideBySide {
    pub day: u32,
    pub place: usize,
    pub account: &'static str,
    pub calls: usize,
    pub snapshot: (f64, f64),
    pub control: (f64, f64),
    pub live: (f64, f64),
    /// Calls that did not serve the cached token unchanged (must be 0: a refresh would measure
    /// something else, and on the snapshot would present a stale refresh token).
    pub not_cached: usize,
}

impl SideBySide {
    pub(super) fn line(&self) -> String {
        format!(
            "day {} keychain {} `login {}` x{} each, in turn: day-1 snapshot p50 {:.1} ms p99 {:.1} ms; live p50 {:.1} ms p99 {:.1} ms; live/snapshot p50 {:.2}x p99 {:.2}x (goal <= 1.1x); noise floor (a second copy of the snapshot against the first) p50 {:.2}x p99 {:.2}x{}",
            self.day,
            self.place,
            self.account,
            self.calls,
            self.snapshot.0,
            self.snapshot.1,
            self.live.0,
            self.live.1,
            self.live.0 / self.snapshot.0,
            self.live.1 / self.snapshot.1,
            self.control.0 / self.snapshot.0,
            self.control.1 / self.snapshot.1,
            if self.not_cached > 0 {
                format!("; {} call(s) NOT served from the cache", self.not_cached)
            } else {
                String::new()
            }
        )
    }
}

/// The probe's account on each local keychain (both Exact: a cached login reads no provider).
const PROBED: [(usize, &str); 2] = [(0, "e-b"), (1, "e2")];

/// Calls of each side per probe (`KEYCHAIN_NIGHTS_PROBES`, default 40).
fn probe_calls() -> usize {
    std::env::var("KEYCHAIN_NIGHTS_PROBES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

/// Day 1's local keychains as they were after its last jobs: each folder copied whole (its
/// records, audit trail, lock and the `file` key store's identity live in it).
pub(super) struct Snapshot {
    dir: tempfile::TempDir,
    minute: u32,
}

impl Snapshot {
    pub(super) fn take(world: &World, minute: u32) -> Snapshot {
        let dir = tempfile::tempdir().unwrap();
        for (place, _) in PROBED {
            copy_folder(
                &world.places[place].kc().dir,
                &dir.path().join(place.to_string()),
            );
        }
        Snapshot { dir, minute }
    }
}

fn copy_folder(from: &std::path::Path, to: &std::path::Path) {
    let out = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cp -a: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The load-proof figure of the "per call cost does not grow with history": the same
/// cached `login` K times on day 1's snapshot, K times on a second copy of it (the control) and
/// K times on the live keychain, in turn (each side first, second and last alike), so that
/// whatever the machine's load does falls on all alike. Each side runs at the
/// same time of day with its token as old: the snapshot on a clock moved back by the days
/// between (its token is day 1's), the live one on today's. The snapshot is copied afresh for
/// each probe so that the probes' own audit events never pile up in it.
pub(super) fn probe(world: &World, snap: &Snapshot, minute: u32) -> Vec<SideBySide> {
    let calls = probe_calls();
    let back = i64::from(minute - snap.minute) * 60;
    let work = tempfile::tempdir().unwrap();
    PROBED
        .iter()
        .map(|&(place, account)| {
            let copies = ["snapshot", "control"].map(|name| {
                let copy = work.path().join(format!("{place}-{name}"));
                copy_folder(&snap.dir.path().join(place.to_string()), &copy);
                copy
            });
            let skew = world.clock.offset + world.places[place].skew;
            // Side 0 and 1: the snapshot's two copies, on day 1's clock; side 2: the live one.
            let run = |side: usize| {
                let mut cmd = command(world, place, &["login", account]);
                if let Some(copy) = copies.get(side) {
                    cmd.env("KEYCHAIN_DIR", copy)
                        .env("FAKETIME", format!("{:+}s", skew - back));
                }
                let before = children_cpu_ms();
                let out = cmd.output().unwrap();
                let cpu = children_cpu_ms() - before;
                let token = out
                    .status
                    .success()
                    .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string());
                (cpu, token)
            };
            let mut cpu: [Vec<f64>; 3] = Default::default();
            let mut tokens: [BTreeSet<Option<String>>; 3] = Default::default();
            for i in 0..calls {
                // Each side goes first, second and last in turn, forwards and backwards.
                let mut order = [0, 1, 2];
                order.rotate_left(i % 3);
                if i % 2 == 1 {
                    order.reverse();
                }
                for side in order {
                    let (c, token) = run(side);
                    cpu[side].push(c);
                    tokens[side].insert(token);
                }
            }
            // One token per side, the same at every call: each was served from the cache.
            let not_cached = tokens
                .iter()
                .map(|t| {
                    if t.len() == 1 && !t.contains(&None) {
                        0
                    } else {
                        calls
                    }
                })
                .sum();
            let p = |v: &Vec<f64>| (percentile(v.clone(), 0.5), percentile(v.clone(), 0.99));
            SideBySide {
                day: minute / DAY + 1,
                place,
                account,
                calls,
                snapshot: p(&cpu[0]),
                control: p(&cpu[1]),
                live: p(&cpu[2]),
                not_cached,
            }
        })
        .collect()
}
