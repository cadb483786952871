//! The load-proof figure of the month (issue 19): day 1's local keychains kept as they were and
//! measured side by side with the live ones, the same cached `login` on both, alternately.

use std::collections::BTreeSet;
use std::process::Command;

use super::{DAY, World, children_cpu_ms, command, percentile};

/// One side-by-side probe: the same cached `login`, K times on day 1's snapshot of a local
/// keychain and K times on the live one, alternately, each at the same time of day and with its
/// token as old. CPU user+sys per call, ms.
#[derive(Debug, Clone)]
pub struct SideBySide {
    pub day: u32,
    pub place: usize,
    pub account: &'static str,
    pub calls: usize,
    pub snapshot: (f64, f64),
    pub live: (f64, f64),
    /// Calls that did not serve the cached token unchanged (must be 0: a refresh would measure
    /// something else, and on the snapshot would present a stale refresh token).
    pub not_cached: usize,
}

impl SideBySide {
    pub(super) fn line(&self) -> String {
        format!(
            "day {} keychain {} `login {}` x{} each, alternately: day-1 snapshot p50 {:.1} ms p99 {:.1} ms; live p50 {:.1} ms p99 {:.1} ms; live/snapshot p50 {:.2}x p99 {:.2}x (goal <= 1.1x){}",
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

/// Calls of each side per probe (`KEYCHAIN_NIGHTS_PROBES`, default 30).
fn probe_calls() -> usize {
    std::env::var("KEYCHAIN_NIGHTS_PROBES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
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
/// cached `login` K times on day 1's snapshot and K times on the live keychain, alternately
/// (ABBA), so that whatever the machine's load does falls on both alike. Each side runs at the
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
            let copy = work.path().join(place.to_string());
            copy_folder(&snap.dir.path().join(place.to_string()), &copy);
            let skew = world.clock.offset + world.places[place].skew;
            let run = |snapshot: bool| {
                let mut cmd = command(world, place, &["login", account]);
                if snapshot {
                    cmd.env("KEYCHAIN_DIR", &copy)
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
            let (mut snap_cpu, mut live_cpu) = (Vec::new(), Vec::new());
            let (mut snap_tokens, mut live_tokens) = (BTreeSet::new(), BTreeSet::new());
            for i in 0..calls {
                for snapshot in if i % 2 == 0 {
                    [true, false]
                } else {
                    [false, true]
                } {
                    let (cpu, token) = run(snapshot);
                    if snapshot {
                        snap_cpu.push(cpu);
                        snap_tokens.insert(token);
                    } else {
                        live_cpu.push(cpu);
                        live_tokens.insert(token);
                    }
                }
            }
            // One token per side, the same at every call: each was served from the cache.
            let not_cached = [&snap_tokens, &live_tokens]
                .iter()
                .map(|t| {
                    if t.len() == 1 && !t.contains(&None) {
                        0
                    } else {
                        calls
                    }
                })
                .sum();
            SideBySide {
                day: minute / DAY + 1,
                place,
                account,
                calls,
                snapshot: (
                    percentile(snap_cpu.clone(), 0.5),
                    percentile(snap_cpu, 0.99),
                ),
                live: (
                    percentile(live_cpu.clone(), 0.5),
                    percentile(live_cpu, 0.99),
                ),
                not_cached,
            }
        })
        .collect()
}
