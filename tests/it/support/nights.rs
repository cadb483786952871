//! The month of nights (issue 19): cron's life on one moved clock, with real faults.
//!
//! Parties: two Exact Online emulators (E1: one user shared by three accounts; E2: the user whose
//! password changes), LemonLDAP::NG (dwho shared by two accounts, msmith), a persistent OpenBao
//! (raft storage) holding a keychain two machines share, and one local keychain per machine.
//! Machine 1's clock is the simulation's; machine 2's is `skew` seconds off.
//!
//! Time: one moved clock for every party. The simulation's time is real time plus an offset;
//! keychain gets the offset through libfaketime (`FAKETIME=+Ns`, per process), the emulators
//! through `/__admin/advance`, LemonLDAP::NG through libfaketime reading the offset from a file
//! at every clock call. OpenBao (Go, no libc clock) keeps real time: its leases and tokens are
//! real-time ones, which the simulation never needs to move; its answers reach the machines
//! through a proxy that stamps their `Date` with the simulation's time (a shared keychain's
//! reference clock, see `keychain::clock::reference`). LemonLDAP::NG too sits behind a proxy,
//! which injects its faults (`support::fault_proxy`).
//!
//! Every job is a real `keychain login` process against real HTTP; its token is then checked at
//! the provider (the emulator's API, LemonLDAP::NG's userinfo), as the job's script would use it.
//! Faults are real: the emulator and the proxy in front of LemonLDAP::NG answer 5xx/429 or
//! nothing but 503 for an hour, the emulator kills the job
//! that is refreshing once the chain has rotated, revokes every token when the password changes;
//! OpenBao is stopped and started again; an operator restores an old refresh token with `set`.
//! The schedule is drawn from a seed, so two runs with one seed inject the same faults at the
//! same minutes.
#![allow(clippy::disallowed_methods)] // a test instrument: it prints its report

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::{Rng, SeedableRng, rngs::StdRng};
use url::Url;

use super::Kc;
use super::exact_emulator::{Config, Emulator};
use super::fault_proxy::{DownAs, FaultProxy, Scope};
use super::login::{FAKETIME_LIB, REDIRECT_URI, require_faketime};
use super::openbao::Bao;
use super::servers::Llng;
use super::shared_keychain::Machine;

mod probe;
mod profile;

pub use probe::SideBySide;
use probe::{Snapshot, probe};
pub use profile::Phases;
use profile::{Profile, run_delay_ms};

const DAY: u32 = 1440;
const PREFIX: &str = "nights/shared";
const E2_TOTP: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// What to simulate. From the environment: `KEYCHAIN_NIGHTS_DAYS`, `KEYCHAIN_NIGHTS_SEED`,
/// `KEYCHAIN_NIGHTS_KEY_STORE` (`file`, the tests' store, or `passphrase` with a passphrase
/// file as `help cron` advises), `KEYCHAIN_NIGHTS_SKEW` (machine 2's clock, seconds),
/// `KEYCHAIN_NIGHTS_SKEW_SHARED` (1, the default: machine 2's member of the shared keychain
/// too; 0: only its local keychain),
/// `KEYCHAIN_NIGHTS_RUSH` (`from-to` minutes of each day in which the every-minute accounts
/// run every minute; outside it they run every 10) and `KEYCHAIN_NIGHTS_BIN` (the keychain
/// binary the jobs run; default the one this test run built).
#[derive(Debug, Clone)]
pub struct Plan {
    pub days: u32,
    pub seed: u64,
    pub key_store: String,
    pub skew: i64,
    /// Machine 2's member of the shared keychain runs on the skewed clock too (its local
    /// keychain always does).
    pub skew_shared: bool,
    /// Machine 1's member of the shared keychain runs this many seconds off (0: on time).
    pub skew_m1_shared: i64,
    /// Ends the run after this many minutes instead of `days` (a focused test's few hours).
    pub minutes: Option<u32>,
    pub rush: (u32, u32),
    pub bin: PathBuf,
    /// The driver's own checks (tokens at their providers, `status` of the four keychains) one
    /// after the other, as before they ran side by side: to measure what that saved.
    pub serial_checks: bool,
}

impl Plan {
    pub fn from_env(days: u32) -> Plan {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let num = |k: &str, d: i64| {
            var(k).map_or(d, |v| v.parse().unwrap_or_else(|_| panic!("{k}: a number")))
        };
        let rush = var("KEYCHAIN_NIGHTS_RUSH").map_or((60, 120), |v| {
            let (a, b) = v
                .split_once('-')
                .expect("KEYCHAIN_NIGHTS_RUSH: from-to minutes");
            (a.parse().unwrap(), b.parse().unwrap())
        });
        Plan {
            days: num("KEYCHAIN_NIGHTS_DAYS", i64::from(days)) as u32,
            seed: num("KEYCHAIN_NIGHTS_SEED", 19) as u64,
            key_store: var("KEYCHAIN_NIGHTS_KEY_STORE").unwrap_or_else(|| "file".into()),
            skew: num("KEYCHAIN_NIGHTS_SKEW", -120),
            skew_shared: num("KEYCHAIN_NIGHTS_SKEW_SHARED", 1) == 1,
            skew_m1_shared: 0,
            minutes: var("KEYCHAIN_NIGHTS_MINUTES")
                .map(|m| m.parse().expect("KEYCHAIN_NIGHTS_MINUTES")),
            rush,
            bin: var("KEYCHAIN_NIGHTS_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| assert_cmd::cargo::cargo_bin("keychain")),
            serial_checks: num("KEYCHAIN_NIGHTS_SERIAL_CHECKS", 0) == 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Provider {
    E1,
    E2,
    Llng,
}

/// What a fault window makes unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Provider(Provider),
    OpenBao,
    Account(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Burst5xx,
    Burst429,
    Outage,
    LlngBurst5xx,
    LlngBurst429,
    LlngOutage,
    CaptureRefreshToken,
    RestoreBackup,
    KillDuringRefresh,
    OpenBaoStop,
    OpenBaoStart,
    PasswordChanged,
    PasswordSet,
}

/// Where an account lives: machine 1's or 2's local keychain, or the shared one (every machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Home {
    Local(usize),
    Shared,
}

struct Account {
    name: &'static str,
    provider: Provider,
    home: Home,
    every_minute: bool,
}

const ACCOUNTS: &[Account] = &[
    Account {
        name: "e-a",
        provider: Provider::E1,
        home: Home::Local(0),
        every_minute: false,
    },
    Account {
        name: "e-b",
        provider: Provider::E1,
        home: Home::Local(0),
        every_minute: true,
    },
    Account {
        name: "l-a",
        provider: Provider::Llng,
        home: Home::Local(0),
        every_minute: false,
    },
    Account {
        name: "e2",
        provider: Provider::E2,
        home: Home::Local(1),
        every_minute: false,
    },
    Account {
        name: "l-m",
        provider: Provider::Llng,
        home: Home::Local(1),
        every_minute: true,
    },
    Account {
        name: "e-s",
        provider: Provider::E1,
        home: Home::Shared,
        every_minute: false,
    },
    Account {
        name: "l-s",
        provider: Provider::Llng,
        home: Home::Shared,
        every_minute: false,
    },
];

/// The account the backup and the crash hit, and the one whose password changes.
const ROLLED_BACK: &str = "e-a";
const KILLED: &str = "e-a";
const PASSWORD: &str = "e2";

/// One job's outcome.
#[derive(Debug, Clone)]
pub struct Job {
    pub account: &'static str,
    /// Keychain index: 0/1 machine 1/2 local, 2/3 machine 1/2 on the shared keychain.
    pub place: usize,
    pub minute: u32,
    pub exit: Option<i32>,
    pub token_live: bool,
    pub cpu_ms: f64,
    pub wall_ms: f64,
    /// Time it waited for a CPU, runnable (the kernel's run delay): the machine's load.
    pub runq_ms: f64,
    pub excused: bool,
    /// It ran inside a fault window of its provider or store (whatever its outcome).
    pub in_window: bool,
    pub stderr: String,
}

impl Job {
    pub fn succeeded(&self) -> bool {
        self.exit == Some(0) && self.token_live
    }
}

/// The figures of a run.
#[derive(Debug, Default)]
pub struct Report {
    pub days: u32,
    /// The minutes run when the plan ended the run early.
    pub minutes: Option<u32>,
    pub wall: Duration,
    pub jobs: Vec<Job>,
    /// Headless logons the providers completed during the simulation (not the first ones).
    pub headless_logons: BTreeMap<&'static str, u32>,
    pub chain_breaks: u32,
    /// Chains the provider may end on its own within the run: LemonLDAP::NG ends an offline
    /// session 30 days after the logon that opened it (`oidcServiceOfflineSessionExpiration`).
    pub provider_expiries: u32,
    /// (keychain, account) pairs that had a lockout guard at some status check.
    pub guards: BTreeSet<(usize, String)>,
    pub guard_goal: BTreeSet<(usize, String)>,
    /// Times an emulator blocked the client for exceeding its error budget, and client errors.
    pub budget_blocks: u32,
    pub client_errors: BTreeMap<&'static str, u32>,
    pub injected_answers: u32,
    pub kills: u32,
    /// Kills during a refresh scheduled within the run (1, or 0 for a run of a few hours).
    pub kills_goal: u32,
    pub audit_failures: Vec<String>,
    pub status_checks: u32,
    pub status_untruthful: Vec<String>,
    /// Side-by-side probes of day 1's local keychains against the live ones (`probe`).
    pub side_by_side: Vec<SideBySide>,
    /// Where the driver's wall time went, per phase (`Phases`).
    pub phases: Phases,
}

impl Report {
    pub fn expected(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter().filter(|j| !j.excused)
    }

    pub fn expected_failures(&self) -> Vec<&Job> {
        self.expected().filter(|j| !j.succeeded()).collect()
    }

    pub fn headless_total(&self) -> u32 {
        self.headless_logons.values().sum()
    }

    /// p50 and p99 of the CPU time (user+sys, ms) and wall time of the successful jobs whose
    /// minute is in `range`.
    pub fn percentiles(&self, range: std::ops::Range<u32>) -> (f64, f64, f64, f64) {
        self.percentiles_of(range, |_| true)
    }

    /// `percentiles` of the jobs that ran on one keychain (see `Job::place`).
    pub fn percentiles_at(&self, range: std::ops::Range<u32>, place: usize) -> (f64, f64) {
        let (p50, p99, _, _) = self.percentiles_of(range, |j| j.place == place);
        (p50, p99)
    }

    fn percentiles_of(
        &self,
        range: std::ops::Range<u32>,
        keep: impl Fn(&Job) -> bool,
    ) -> (f64, f64, f64, f64) {
        let jobs: Vec<&Job> = self
            .jobs
            .iter()
            .filter(|j| range.contains(&j.minute) && j.succeeded() && keep(j))
            .collect();
        let cpu: Vec<f64> = jobs.iter().map(|j| j.cpu_ms).collect();
        let wall: Vec<f64> = jobs.iter().map(|j| j.wall_ms).collect();
        let pick = percentile;
        (
            pick(cpu.clone(), 0.5),
            pick(cpu, 0.99),
            pick(wall.clone(), 0.5),
            pick(wall, 0.99),
        )
    }

    /// The first and the last day (a one-day run: its first and last quarter).
    pub fn first_and_last(&self) -> (std::ops::Range<u32>, std::ops::Range<u32>) {
        match self.minutes {
            // A run of a few hours: its first and last quarter.
            Some(m) => (0..m / 4, m * 3 / 4..m),
            None if self.days > 1 => (0..DAY, (self.days - 1) * DAY..self.days * DAY),
            None => (0..DAY / 4, DAY * 3 / 4..DAY),
        }
    }

    pub fn print(&self) {
        let expected: Vec<&Job> = self.expected().collect();
        let ok = expected.iter().filter(|j| j.succeeded()).count();
        let windows = self.jobs.iter().filter(|j| j.excused).count();
        println!(
            "== the month of nights: {} day(s) simulated in {:.0?}",
            self.days, self.wall
        );
        println!(
            "jobs that should have succeeded and did: {ok}/{} ({:.2} %; goal 100 %); {} more failed inside fault windows (excused)",
            expected.len(),
            100.0 * ok as f64 / expected.len().max(1) as f64,
            windows
        );
        for j in self.expected_failures().iter().take(10) {
            println!(
                "  FAILED {} on keychain {} at day {} {:02}:{:02}: exit {:?}, token live {}: {}",
                j.account,
                j.place,
                j.minute / DAY + 1,
                j.minute % DAY / 60,
                j.minute % 60,
                j.exit,
                j.token_live,
                j.stderr.trim()
            );
        }
        println!(
            "headless logons: {} {:?} (goal: {} injected chain breaks, no more; {} more allowed where LemonLDAP::NG's 30-day offline session ends within the run)",
            self.headless_total(),
            self.headless_logons,
            self.chain_breaks,
            self.provider_expiries
        );
        println!(
            "lockout guards set: {:?} (goal: only {:?})",
            self.guards, self.guard_goal
        );
        println!(
            "provider error budget: blocked {} time(s) (goal 0); client errors {:?}; {} requests answered by injected faults, for {} jobs inside fault windows",
            self.budget_blocks,
            self.client_errors,
            self.injected_answers,
            self.jobs.iter().filter(|j| j.in_window).count()
        );
        let (first, last) = self.first_and_last();
        let (c1, c99, w1, w99) = self.percentiles(first.clone());
        let (d1, d99, x1, x99) = self.percentiles(last.clone());
        println!(
            "per call, CPU user+sys: first {:?} p50 {c1:.1} ms p99 {c99:.1} ms; last {:?} p50 {d1:.1} ms p99 {d99:.1} ms; ratio p50 {:.2}x p99 {:.2}x (goal <= 1.1x)",
            first,
            last,
            d1 / c1,
            d99 / c99
        );
        println!(
            "per call by keychain (0, 1: machine 1, 2 local; 2, 3: their shared-keychain members), last/first CPU: {}",
            per_place_line(self, first.clone(), last.clone())
        );
        for p in &self.side_by_side {
            println!("side by side (load-proof): {}", p.line());
        }
        println!("driver wall time: {}", self.phases.line());
        println!(
            "per call, wall (start to collected, on a shared machine): first p50 {w1:.1} ms p99 {w99:.1} ms; last p50 {x1:.1} ms p99 {x99:.1} ms; ratio p50 {:.2}x p99 {:.2}x",
            x1 / w1,
            x99 / w99
        );
        println!(
            "audit verify: {} (goal: clean on every machine)",
            if self.audit_failures.is_empty() {
                "clean on all 4 keychains".to_string()
            } else {
                self.audit_failures.join("; ")
            }
        );
        println!(
            "status truthful: {}/{} checks (goal: all)",
            self.status_checks as usize - self.status_untruthful.len(),
            self.status_checks
        );
        for s in self.status_untruthful.iter().take(10) {
            println!("  UNTRUTHFUL {s}");
        }
        println!("kill -9 during a refresh delivered: {}", self.kills);
    }
}

/// The `q` quantile of `v` (nearest rank); NaN when empty.
fn percentile(mut v: Vec<f64>, q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// The in-run CPU per call of `range` against `first`, per keychain: the local ones (0, 1) and
/// the shared keychain's members (2, 3), whose history lives partly in OpenBao and cannot be
/// snapshotted as the local ones are (`probe`).
fn per_place_line(
    report: &Report,
    first: std::ops::Range<u32>,
    range: std::ops::Range<u32>,
) -> String {
    (0..4)
        .map(|p| {
            let (f50, f99) = report.percentiles_at(first.clone(), p);
            let (n50, n99) = report.percentiles_at(range.clone(), p);
            format!(
                "keychain {p} p50 {n50:.1}/{f50:.1} ms = {:.2}x, p99 {n99:.1}/{f99:.1} ms = {:.2}x",
                n50 / f50,
                n99 / f99
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The one clock: real time plus an offset, handed to every party.
struct Clock {
    offset: i64,
    /// The offset, for the proxies (which time faults and `Date` on it).
    shared: Arc<AtomicI64>,
    llng_file: PathBuf,
    emulators: Vec<Url>,
    http: reqwest::blocking::Client,
}

fn real_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Clock {
    /// Moves every clock to `sim` (Unix seconds); never backwards.
    fn set(&mut self, sim: i64) {
        let offset = (sim - real_now()).max(self.offset);
        let tmp = self.llng_file.with_extension("tmp");
        std::fs::write(&tmp, format!("{offset:+}s\n")).unwrap();
        std::fs::rename(&tmp, &self.llng_file).unwrap();
        for base in &self.emulators {
            let url = base
                .join(&format!("__admin/advance?seconds={}", offset - self.offset))
                .unwrap();
            assert!(self.http.post(url).send().unwrap().status().is_success());
        }
        self.offset = offset;
        self.shared.store(offset, Ordering::SeqCst);
    }
}

/// A keychain folder of a machine: local, or a member of the shared keychain.
struct Place {
    kc: Option<Kc>,
    machine: Option<Machine>,
    skew: i64,
    passphrase: Option<PathBuf>,
}

impl Place {
    fn kc(&self) -> &Kc {
        self.kc
            .as_ref()
            .unwrap_or_else(|| &self.machine.as_ref().unwrap().kc)
    }

    fn base_cmd(&self) -> Command {
        let mut cmd = match &self.machine {
            Some(m) => m.std_cmd(),
            None => self.kc.as_ref().unwrap().std_cmd(),
        };
        if let Some(p) = &self.passphrase {
            cmd.env("KEYCHAIN_PASSPHRASE_FILE", p);
        }
        cmd
    }
}

struct World {
    plan: Plan,
    clock: Clock,
    t0: i64,
    e1: Emulator,
    e2: Emulator,
    e1_config: Config,
    e2_config: Config,
    llng: Llng,
    /// In front of LemonLDAP::NG: the accounts' endpoints (faults are injected here).
    llng_proxy: FaultProxy,
    bao: Bao,
    /// In front of OpenBao: the machines' address (its `Date` on the simulation's clock).
    bao_proxy: FaultProxy,
    places: Vec<Place>,
    http: reqwest::blocking::Client,
    scratch: tempfile::TempDir,
    stale_refresh_token: Option<String>,
}

/// A command run on `place`'s clock, with the plan's binary.
fn command(world: &World, place: usize, args: &[&str]) -> Command {
    let p = &world.places[place];
    let base = p.base_cmd();
    let mut cmd = Command::new(&world.plan.bin);
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.args(args)
        .env("LD_PRELOAD", FAKETIME_LIB)
        .env("FAKETIME", format!("{:+}s", world.clock.offset + p.skew))
        .env("FAKETIME_DONT_RESET", "1")
        // A machine whose clock is off has it off on the wall clock only: libfaketime would
        // move CLOCK_MONOTONIC too, and the kernel's timed waits (a lease renewer's
        // recv_timeout) would then be off by the offset, which no real machine sees.
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run_ok(world: &World, place: usize, args: &[&str]) -> String {
    let out = command(world, place, args).output().unwrap();
    super::assert_success(&out, args);
    String::from_utf8(out.stdout).unwrap()
}

fn places_of(a: &Account) -> Vec<usize> {
    match a.home {
        Home::Local(m) => vec![m],
        Home::Shared => vec![2, 3],
    }
}

/// The seeded schedule: (absolute minute, fault), sorted.
fn schedule(plan: &Plan) -> Vec<(u32, Fault)> {
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let at =
        |day: u32, hour: u32, rng: &mut StdRng| day * DAY + hour * 60 + 10 * rng.gen_range(1..6u32);
    let mut s = Vec::new();
    for day in 0..plan.days {
        // Bursts every day: a 5xx burst in the every-minute rush, a 429 burst later.
        let t = at(day, 1, &mut rng);
        s.push((t - 7, Fault::Burst5xx));
        s.push((at(day, 4, &mut rng), Fault::Burst429));
    }
    let day = |share: f64| ((f64::from(plan.days) * share) as u32).min(plan.days - 1);
    let once = [
        (day(0.5), 6, Fault::Outage),
        (day(0.2), 9, Fault::CaptureRefreshToken),
        (day(0.4), 12, Fault::KillDuringRefresh),
        (day(0.6), 15, Fault::OpenBaoStop),
        (day(0.8), 18, Fault::PasswordChanged),
    ];
    for (d, hour, fault) in once {
        let t = at(d, hour, &mut rng);
        s.push((t, fault));
        match fault {
            Fault::CaptureRefreshToken => s.push((t + 30, Fault::RestoreBackup)),
            Fault::OpenBaoStop => s.push((t + 10, Fault::OpenBaoStart)),
            Fault::PasswordChanged => s.push((t + 120, Fault::PasswordSet)),
            _ => {}
        }
    }
    // LemonLDAP::NG's own faults (drawn after E1's, so that those stay where they were): a 5xx
    // burst in its every-minute rush and a 429 burst each day, an hour-long outage once.
    for day in 0..plan.days {
        let t = at(day, 1, &mut rng);
        s.push((t + 3, Fault::LlngBurst5xx));
        s.push((at(day, 5, &mut rng), Fault::LlngBurst429));
    }
    s.push((at(day(0.3), 7, &mut rng), Fault::LlngOutage));
    s.sort_by_key(|(t, _)| *t);
    s
}

/// A provider fault: which provider, the status it answers, for how many whole minutes of the
/// schedule, and which requests. The injection ([`inject`]) and the window ([`windows`]) both
/// come from here, and the fault ends exactly at the start of the minute after its last on the
/// provider's clock (an `until`), not a number of seconds after it was injected: injected a
/// part of a minute after its minute began, a fault of N*60 seconds still answered the first
/// jobs of the minute after its window (CI once saw 4 jobs get 503 there).
fn provider_fault(fault: Fault) -> Option<(Provider, u16, u32, Scope)> {
    Some(match fault {
        Fault::Burst5xx => (Provider::E1, 503, 3, Scope::Token),
        Fault::Burst429 => (Provider::E1, 429, 5, Scope::Token),
        Fault::Outage => (Provider::E1, 503, 60, Scope::All),
        Fault::LlngBurst5xx => (Provider::Llng, 503, 3, Scope::Token),
        Fault::LlngBurst429 => (Provider::Llng, 429, 5, Scope::Token),
        Fault::LlngOutage => (Provider::Llng, 503, 60, Scope::All),
        _ => return None,
    })
}

/// Fault windows: (target, from, to) in absolute minutes.
fn windows(schedule: &[(u32, Fault)]) -> Vec<(Target, u32, u32)> {
    let mut w = Vec::new();
    for &(t, f) in schedule {
        if let Some((provider, _, minutes, _)) = provider_fault(f) {
            w.push((Target::Provider(provider), t, t + minutes));
        }
        match f {
            Fault::OpenBaoStop => w.push((Target::OpenBao, t, t + 10)),
            Fault::PasswordChanged => w.push((Target::Account(PASSWORD), t, t + 120)),
            _ => {}
        }
    }
    w
}

fn in_window(windows: &[(Target, u32, u32)], a: &Account, minute: u32) -> bool {
    windows.iter().any(|&(target, from, to)| {
        (from..to).contains(&minute)
            && match target {
                Target::Provider(p) => p == a.provider,
                Target::OpenBao => a.home == Home::Shared,
                Target::Account(n) => n == a.name,
            }
    })
}

fn setup(plan: Plan) -> World {
    require_faketime();
    let scratch = tempfile::tempdir().unwrap();
    let http = keychain::http::builder()
        .timeout(Duration::from_secs(30))
        .user_agent("nights-driver")
        .build()
        .unwrap();
    let e1_config = Config {
        password: "e1-pass-1".into(),
        ..Config::default()
    };
    let e2_config = Config {
        user: "ops@example.com".into(),
        password: "e2-pass-1".into(),
        totp_secret: E2_TOTP.into(),
        ..Config::default()
    };
    let e1 = Emulator::start(e1_config.clone());
    let e2 = Emulator::start(e2_config.clone());
    // The simulation starts the evening before tomorrow's midnight (UTC).
    let t0 = (real_now() / 86_400 + 1) * 86_400;
    let llng_file = scratch.path().join("llng-clock");
    std::fs::write(&llng_file, "+0s\n").unwrap();
    let mut clock = Clock {
        offset: 0,
        shared: Arc::new(AtomicI64::new(0)),
        llng_file: llng_file.clone(),
        emulators: vec![e1.base.clone(), e2.base.clone()],
        http: http.clone(),
    };
    clock.set(t0 - 3600);
    let llng = Llng::start_on_clock(&llng_file);
    // LemonLDAP::NG keeps its own `Date` (libfaketime moves its clock); OpenBao's is stamped.
    let llng_proxy = FaultProxy::start(&llng.url, clock.shared.clone(), false, DownAs::BadGateway);
    let bao = Bao::persistent();
    let bao_proxy = FaultProxy::start(
        &Url::parse(&bao.addr).unwrap(),
        clock.shared.clone(),
        true,
        DownAs::SealedStore,
    );
    let mount = bao.new_mount();
    let machine = |name: &str| {
        let mut m = Machine::new(&bao, name, &mount, PREFIX, PREFIX);
        m.addr = bao_proxy.url.as_str().trim_end_matches('/').to_string();
        m
    };

    let passphrase = (plan.key_store == "passphrase").then(|| {
        let p = scratch.path().join("passphrase");
        super::openbao::write_private(&p, "nights passphrase for the month\n");
        p
    });
    let places = vec![
        Place {
            kc: Some(Kc::new()),
            machine: None,
            skew: 0,
            passphrase: passphrase.clone(),
        },
        Place {
            kc: Some(Kc::new()),
            machine: None,
            skew: plan.skew,
            passphrase: passphrase.clone(),
        },
        Place {
            kc: None,
            machine: Some(machine("m1")),
            skew: plan.skew_m1_shared,
            passphrase: passphrase.clone(),
        },
        Place {
            kc: None,
            machine: Some(machine("m2")),
            skew: if plan.skew_shared { plan.skew } else { 0 },
            passphrase,
        },
    ];
    let mut world = World {
        plan,
        clock,
        t0,
        e1,
        e2,
        e1_config,
        e2_config,
        llng,
        llng_proxy,
        bao,
        bao_proxy,
        places,
        http,
        scratch,
        stale_refresh_token: None,
    };
    let ks = world.plan.key_store.clone();
    run_ok(&world, 0, &["init", "--key-store", &ks]);
    run_ok(&world, 1, &["init", "--key-store", &ks]);
    let args = world.places[2]
        .machine
        .as_ref()
        .unwrap()
        .init_args(&ks, false);
    run_ok(
        &world,
        2,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let args = world.places[3]
        .machine
        .as_ref()
        .unwrap()
        .init_args(&ks, true);
    let joined = run_ok(
        &world,
        3,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let recipient = joined
        .split_whitespace()
        .find(|w| w.starts_with("age1"))
        .expect("init --join prints the recipient")
        .to_string();
    let code = run_ok(&world, 2, &["member", "add", &recipient, "--name", "m2"]);
    run_ok(&world, 3, &["member", "join", code.trim()]);

    for a in ACCOUNTS {
        add(&world, a);
    }
    // First logons, one TOTP step apart (accounts share users and secrets), on the machine that
    // added the account.
    let mut sim = t0 - 3600;
    for a in ACCOUNTS {
        sim += 31;
        world.clock.set(sim);
        run_ok(&world, places_of(a)[0], &["login", a.name]);
    }
    world
}

fn add(world: &World, a: &Account) {
    let place = places_of(a)[0];
    let kc = world.places[place].kc();
    let (provider_args, user, password, totp, client_secret): (
        Vec<String>,
        &str,
        &str,
        Option<String>,
        &str,
    ) = match a.provider {
        Provider::E1 | Provider::E2 => {
            let (emu, config) = if a.provider == Provider::E1 {
                (&world.e1, &world.e1_config)
            } else {
                (&world.e2, &world.e2_config)
            };
            (
                vec![
                    "--provider".into(),
                    "exact-nl".into(),
                    "--authorize-url".into(),
                    emu.base.join("api/oauth2/auth").unwrap().to_string(),
                    "--token-url".into(),
                    emu.base.join("api/oauth2/token").unwrap().to_string(),
                    "--client-id".into(),
                    config.client_id.clone(),
                ],
                config.user.as_str(),
                config.password.as_str(),
                Some(config.totp_secret.clone()),
                config.client_secret.as_str(),
            )
        }
        Provider::Llng => {
            let user = if a.name == "l-m" { "msmith" } else { "dwho" };
            (
                vec![
                    "--provider".into(),
                    "oauth2".into(),
                    "--authorize-url".into(),
                    world.llng_proxy.join("oauth2/authorize").to_string(),
                    "--token-url".into(),
                    world.llng_proxy.join("oauth2/token").to_string(),
                    "--client-id".into(),
                    "cli".into(),
                    "--scope".into(),
                    "openid offline_access".into(),
                ],
                user,
                user,
                (user == "dwho").then(|| super::TOTP_SECRET.to_string()),
                "cli-secret",
            )
        }
    };
    let pw = kc.file(&format!("{}.pw", a.name), &format!("{password}\n"));
    let cs = kc.file(&format!("{}.cs", a.name), client_secret);
    let mut args: Vec<String> = vec!["add".into(), a.name.into()];
    args.extend(provider_args);
    args.extend([
        "--redirect-uri".into(),
        REDIRECT_URI.into(),
        "--user".into(),
        user.into(),
        "--password-file".into(),
        pw.to_str().unwrap().into(),
        "--client-secret-file".into(),
        cs.to_str().unwrap().into(),
    ]);
    match totp {
        Some(secret) => {
            let f = kc.file(&format!("{}.totp", a.name), &secret);
            args.extend(["--totp-file".into(), f.to_str().unwrap().into()]);
        }
        None => args.push("--no-totp".into()),
    }
    run_ok(
        world,
        place,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

fn admin(
    world: &World,
    emu: &Emulator,
    method: &str,
    path: &str,
    form: &[(&str, &str)],
) -> serde_json::Value {
    let url = emu.base.join(path).unwrap();
    let req = if method == "GET" {
        world.http.get(url)
    } else {
        world.http.post(url).form(form)
    };
    req.send().unwrap().json().unwrap()
}

/// Whether the access token a job printed is live at its provider.
fn token_live(world: &World, a: &Account, token: &str) -> bool {
    if token.is_empty() {
        return false;
    }
    let url = match a.provider {
        Provider::E1 => world.e1.base.join("api/v1/current/Me").unwrap(),
        Provider::E2 => world.e2.base.join("api/v1/current/Me").unwrap(),
        Provider::Llng => world.llng.url.join("oauth2/userinfo").unwrap(),
    };
    world
        .http
        .get(url)
        .bearer_auth(token)
        .send()
        .is_ok_and(|r| r.status().is_success())
}

fn llng_logons(world: &World) -> u32 {
    world.llng.log().matches("\"GET /oauth2/authorize").count() as u32
}

fn emu_logons(world: &World, emu: &Emulator) -> u32 {
    admin(world, emu, "GET", "__admin/stats", &[])["logons"]
        .as_u64()
        .unwrap() as u32
}

/// `status` of every keychain, the four started together (each reads only its own keychain,
/// and a job of this minute starts only once all have answered).
fn statuses(world: &World) -> Vec<BTreeMap<String, (String, bool)>> {
    let running: Vec<Child> = (0..4)
        .map(|p| command(world, p, &["--json", "status"]).spawn().unwrap())
        .collect();
    running
        .into_iter()
        .enumerate()
        .map(|(p, child)| parse_status(p, &child.wait_with_output().unwrap()))
        .collect()
}

/// `status --json` of a keychain: account name -> (state, lockout guard set).
fn status(world: &World, place: usize) -> BTreeMap<String, (String, bool)> {
    let out = command(world, place, &["--json", "status"])
        .output()
        .unwrap();
    parse_status(place, &out)
}

fn parse_status(place: usize, out: &Output) -> BTreeMap<String, (String, bool)> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json on keychain {place}: {e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                (
                    a["state"].as_str().unwrap_or("?").to_string(),
                    !a["logon_rejected"].is_null(),
                ),
            )
        })
        .collect()
}

/// Runs the plan and returns its figures.
pub fn run(plan: Plan) -> Report {
    let started = Instant::now();
    let mut world = setup(plan);
    let schedule = schedule(&world.plan);
    let windows = windows(&schedule);
    let planned_end = world.plan.minutes.unwrap_or(world.plan.days * DAY);
    let mut stopped_at = None;
    // The goals that depend on how far the run goes (a run stopped early goes less far).
    let set_goals = |report: &mut Report, end: u32| {
        let reached = |fault: Fault| schedule.iter().any(|&(t, f)| f == fault && t < end);
        report.guard_goal = if reached(Fault::PasswordChanged) {
            [(1, PASSWORD.to_string())].into()
        } else {
            BTreeSet::new()
        };
        report.kills_goal = u32::from(reached(Fault::KillDuringRefresh));
        // The first logons were an hour before the first night.
        report.provider_expiries = if i64::from(end) * 60 + 3600 >= 30 * 86_400 {
            ACCOUNTS
                .iter()
                .filter(|a| a.provider == Provider::Llng)
                .count() as u32
        } else {
            0
        };
    };
    let mut report = Report {
        days: world.plan.days,
        minutes: world.plan.minutes,
        ..Report::default()
    };
    set_goals(&mut report, planned_end);
    let base_logons = [
        ("E1", emu_logons(&world, &world.e1)),
        ("E2", emu_logons(&world, &world.e2)),
        ("LemonLDAP::NG", llng_logons(&world)),
    ];
    let mut rng = StdRng::seed_from_u64(world.plan.seed ^ 0x5eed);
    let mut events = schedule.iter().peekable();
    let (rush_from, rush_to) = world.plan.rush;
    let mut snapshot: Option<Snapshot> = None;
    let mut profile = Profile::start(&report, &world);
    for minute in 0..planned_end {
        if minute % DAY == 0 {
            let failed = report.expected_failures().len();
            eprintln!(
                "nights: day {} of {} starts after {:.0?}: {} jobs so far, {failed} unexcused failures",
                minute / DAY + 1,
                world.plan.days,
                started.elapsed(),
                report.jobs.len()
            );
            // The day just ended against the first, so that a run cut short still has them.
            if minute >= DAY {
                let (p50, p99, _, _) = report.percentiles(minute - DAY..minute);
                let (f50, f99) = {
                    let (a, b, _, _) = report.percentiles(0..DAY);
                    (a, b)
                };
                eprintln!(
                    "nights: day {} in-run CPU per call p50 {p50:.1} ms p99 {p99:.1} ms; day 1 p50 {f50:.1} ms p99 {f99:.1} ms; ratio p50 {:.2}x p99 {:.2}x; headless logons so far E1 {} E2 {} LemonLDAP::NG {}; status untruthful {} of {}; guards {:?}",
                    minute / DAY,
                    p50 / f50,
                    p99 / f99,
                    emu_logons(&world, &world.e1).saturating_sub(base_logons[0].1),
                    emu_logons(&world, &world.e2).saturating_sub(base_logons[1].1),
                    llng_logons(&world).saturating_sub(base_logons[2].1),
                    report.status_untruthful.len(),
                    report.status_checks,
                    report.guards,
                );
                eprintln!(
                    "nights: day {} in-run CPU per call by keychain, day {}/day 1: {}",
                    minute / DAY,
                    minute / DAY,
                    per_place_line(&report, 0..DAY, minute - DAY..minute)
                );
                for p in report.side_by_side.iter().filter(|p| p.day == minute / DAY) {
                    eprintln!("nights: side by side (load-proof): {}", p.line());
                }
                profile.print(
                    &format!("day {}", minute / DAY),
                    &report,
                    &world,
                    minute - DAY..minute,
                );
                // Asked to stop: the days done are the run, with its end figures.
                if stop_requested() {
                    eprintln!("nights: stopped after day {} (stop file)", minute / DAY);
                    stopped_at = Some(minute);
                    report.days = minute / DAY;
                    set_goals(&mut report, minute);
                    break;
                }
            }
            profile = Profile::start(&report, &world);
        }
        let in_rush = (rush_from..rush_to).contains(&(minute % DAY));
        let tenth = minute % 10 == 0;
        let due: Vec<&Account> = ACCOUNTS
            .iter()
            .filter(|a| tenth || (a.every_minute && in_rush))
            .collect();
        let has_event = events.peek().is_some_and(|(t, _)| *t == minute);
        if due.is_empty() && !has_event {
            continue;
        }
        let t = Instant::now();
        world.clock.set(world.t0 + i64::from(minute) * 60);
        report.phases.clock += t.elapsed();
        report.phases.job_minutes += 1;
        let t = Instant::now();
        let mut killed = false;
        while let Some(&(_, fault)) = events.next_if(|(t, _)| *t == minute) {
            killed |= inject(&mut world, minute, fault, &mut report);
        }
        report.phases.faults += t.elapsed();
        // Status before the night (and each hour out of fault windows): what it says of each
        // account must match what that account's job does now.
        let check_status = minute % 60 == 0
            && !windows.iter().any(|&(t, from, to)| {
                t != Target::Account(PASSWORD) && (from..to).contains(&minute)
            });
        let t = Instant::now();
        let statuses: Vec<Option<BTreeMap<String, (String, bool)>>> = if check_status {
            if world.plan.serial_checks {
                (0..4).map(|p| Some(status(&world, p))).collect()
            } else {
                statuses(&world).into_iter().map(Some).collect()
            }
        } else {
            vec![None; 4]
        };
        report.phases.status += t.elapsed();
        for (p, s) in statuses.iter().enumerate() {
            for (name, (_, guard)) in s.iter().flatten() {
                if *guard {
                    report.guards.insert((p, name.clone()));
                }
            }
        }
        // All jobs of this minute start together; now and then cron starts one twice (a run
        // that overlaps the previous one).
        let mut starts: Vec<(&Account, usize)> = Vec::new();
        for a in &due {
            if killed && a.name == KILLED {
                continue;
            }
            for p in places_of(a) {
                starts.push((a, p));
                if rng.gen_bool(0.03) {
                    starts.push((a, p));
                }
            }
        }
        let jobs = run_jobs(&world, &starts, minute, &windows, &mut report.phases);
        for j in &jobs {
            if let Some(Some(s)) = statuses.get(j.place)
                && let Some((state, _)) = s.get(j.account)
            {
                report.status_checks += 1;
                let predicted = state != "critical";
                if predicted != j.succeeded() {
                    report.status_untruthful.push(format!(
                        "{} on keychain {} at minute {minute}: status {state}, job {}: {}",
                        j.account,
                        j.place,
                        if j.succeeded() { "succeeded" } else { "failed" },
                        j.stderr.trim()
                    ));
                }
            }
        }
        report.jobs.extend(jobs);
        // The last jobs of a day: day 1's local keychains are kept, and every day measured side
        // by side with the live ones (the in-run figures move with the machine's load).
        if minute % DAY == DAY - 10 && due.len() == ACCOUNTS.len() {
            let t = Instant::now();
            let snap = snapshot.get_or_insert_with(|| Snapshot::take(&world, minute));
            report.side_by_side.extend(probe(&world, snap, minute));
            report.phases.probes += t.elapsed();
        }
    }
    let end = stopped_at.unwrap_or(planned_end);
    if !end.is_multiple_of(DAY) {
        profile.print(
            &format!("minutes {}..{end}", end / DAY * DAY),
            &report,
            &world,
            end / DAY * DAY..end,
        );
    }
    // The end: guards, counts, audit trails.
    for p in 0..4 {
        for (name, (_, guard)) in status(&world, p) {
            if guard {
                report.guards.insert((p, name));
            }
        }
        let out = command(&world, p, &["audit", "verify"]).output().unwrap();
        if !out.status.success() {
            report.audit_failures.push(format!(
                "keychain {p}: exit {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    let now_logons = [
        emu_logons(&world, &world.e1),
        emu_logons(&world, &world.e2),
        llng_logons(&world),
    ];
    for ((name, before), after) in base_logons.into_iter().zip(now_logons) {
        report.headless_logons.insert(name, after - before);
    }
    for (name, emu) in [("E1", &world.e1), ("E2", &world.e2)] {
        let f = admin(&world, emu, "GET", "__admin/faults", &[]);
        report.budget_blocks += f["blocks"].as_u64().unwrap() as u32;
        report.injected_answers += f["answered"].as_u64().unwrap() as u32;
        report.kills += f["killed"].as_u64().unwrap() as u32;
        let errors = admin(&world, emu, "GET", "__admin/stats", &[])["errors"]
            .as_u64()
            .unwrap();
        report.client_errors.insert(name, errors as u32);
    }
    report.injected_answers += world.llng_proxy.answered();
    let log = world.llng.log();
    let llng_errors = log
        .lines()
        .filter(|l| l.contains("\"POST /oauth2/token ") && l.contains("\" 4"))
        .count();
    report
        .client_errors
        .insert("LemonLDAP::NG", llng_errors as u32);
    report.wall = started.elapsed();
    report
}

/// Applies a fault; true when it was the crash, which takes the place of that account's job.
fn inject(world: &mut World, minute: u32, fault: Fault, report: &mut Report) -> bool {
    if let Some((provider, status, minutes, scope)) = provider_fault(fault) {
        // The end of the window on the provider's clock: the start of its last minute's next.
        let until = world.t0 + i64::from(minute + minutes) * 60;
        match provider {
            Provider::E1 => {
                let scope = match scope {
                    Scope::Token => "token",
                    Scope::All => "all",
                };
                let path = format!("__admin/fault?status={status}&until={until}&scope={scope}");
                admin(world, &world.e1, "POST", &path, &[]);
            }
            Provider::Llng => world.llng_proxy.fault_until(status, until, scope),
            Provider::E2 => unreachable!("no fault is injected at E2"),
        }
        return false;
    }
    match fault {
        Fault::CaptureRefreshToken => {
            let rt = run_ok(
                world,
                0,
                &["show", ROLLED_BACK, "--reveal", "refresh-token"],
            );
            world.stale_refresh_token = Some(rt.trim().to_string());
        }
        Fault::RestoreBackup => {
            let rt = world.stale_refresh_token.take().expect("captured before");
            let file = world.places[0].kc().file("restored-refresh-token", &rt);
            run_ok(
                world,
                0,
                &[
                    "set",
                    ROLLED_BACK,
                    "--refresh-token-file",
                    file.to_str().unwrap(),
                ],
            );
            report.chain_breaks += 1;
        }
        Fault::KillDuringRefresh => {
            // The job waits behind `read` until the emulator knows its pid, then execs keychain
            // (same pid): the emulator kills it once the next refresh has rotated the chain.
            let envs = command(world, 0, &[]);
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg("read _ ; exec \"$0\" \"$@\"")
                .arg(&world.plan.bin)
                .args(["login", KILLED]);
            for (k, v) in envs.get_envs() {
                match v {
                    Some(v) => sh.env(k, v),
                    None => sh.env_remove(k),
                };
            }
            let mut child = sh
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            admin(
                world,
                &world.e1,
                "POST",
                &format!("__admin/kill-after-rotation?pid={}", child.id()),
                &[],
            );
            drop(child.stdin.take());
            let status = child.wait().unwrap();
            let armed = admin(world, &world.e1, "GET", "__admin/faults", &[])["armed"]
                .as_bool()
                .unwrap();
            if armed {
                admin(world, &world.e1, "POST", "__admin/kill-after-rotation", &[]);
            }
            use std::os::unix::process::ExitStatusExt;
            if status.signal() == Some(9) {
                report.chain_breaks += 1;
            }
            return true;
        }
        Fault::OpenBaoStop => world.bao.stop(),
        Fault::OpenBaoStart => {
            world.bao.start_again();
            world.bao.unseal();
        }
        Fault::PasswordChanged => {
            admin(
                world,
                &world.e2,
                "POST",
                "__admin/password",
                &[("password", "e2-pass-2")],
            );
            report.chain_breaks += 1;
        }
        Fault::PasswordSet => {
            let file = world.places[1].kc().file("e2-new.pw", "e2-pass-2\n");
            run_ok(
                world,
                1,
                &["set", PASSWORD, "--password-file", file.to_str().unwrap()],
            );
        }
        Fault::Burst5xx
        | Fault::Burst429
        | Fault::Outage
        | Fault::LlngBurst5xx
        | Fault::LlngBurst429
        | Fault::LlngOutage => unreachable!("injected above, from provider_fault"),
    }
    false
}

/// Whether `KEYCHAIN_NIGHTS_STOP_FILE` names a file that exists: a long run stops at the end of
/// the day it is in and prints its end figures (`audit verify` on every machine, the error
/// budget, the headless logons) for the days done.
fn stop_requested() -> bool {
    std::env::var_os("KEYCHAIN_NIGHTS_STOP_FILE")
        .is_some_and(|f| !f.is_empty() && std::path::Path::new(&f).exists())
}

/// CPU time (user + sys) of this process's reaped children so far, in ms.
fn children_cpu_ms() -> f64 {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    let ms = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1000.0 + t.tv_usec() as f64 / 1000.0;
    ms(u.user_time()) + ms(u.system_time())
}

/// A collected job: its account, keychain, (CPU, run delay) in ms, wall in ms and output.
type Finished<'a> = (&'a Account, usize, (f64, f64), f64, Output);

/// Starts every job of a minute at once and collects them. A job's CPU time is what reaping it
/// added to this process's children's usage (microseconds; exact when no other test of this
/// process reaps a child at that moment, as in the benchmark, which runs alone).
fn run_jobs(
    world: &World,
    starts: &[(&Account, usize)],
    minute: u32,
    windows: &[(Target, u32, u32)],
    phases: &mut Phases,
) -> Vec<Job> {
    let t = Instant::now();
    let spawned: Vec<(&Account, usize, Instant, Child)> = starts
        .iter()
        .map(|&(a, p)| {
            let child = command(world, p, &["login", a.name])
                .spawn()
                .expect("spawn keychain login");
            (a, p, Instant::now(), child)
        })
        .collect();
    let finished: Vec<Finished> = spawned
        .into_iter()
        .map(|(a, p, start, mut child)| {
            use std::io::Read;
            let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
            child
                .stdout
                .take()
                .unwrap()
                .read_to_end(&mut stdout)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_end(&mut stderr)
                .unwrap();
            // Exited (or exiting): its run delay is read before it is reaped.
            let runq_ms = run_delay_ms(child.id());
            let before = children_cpu_ms();
            let status = child.wait().unwrap();
            let cpu_ms = children_cpu_ms() - before;
            let wall_ms = start.elapsed().as_secs_f64() * 1000.0;
            (
                a,
                p,
                (cpu_ms, runq_ms),
                wall_ms,
                Output {
                    status,
                    stdout,
                    stderr,
                },
            )
        })
        .collect();
    phases.jobs += t.elapsed();
    if let Some((a, p, ..)) = finished.iter().max_by(|x, y| x.3.total_cmp(&y.3)) {
        *phases.slowest.entry((a.name, *p)).or_default() += t.elapsed();
    }
    let t = Instant::now();
    // The tokens are checked at their providers side by side (each check is one request and
    // reads nothing the others change), not one after the other.
    let check = |(a, _, _, _, out): &Finished| {
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        out.status.success() && token_live(world, a, &token)
    };
    let lives: Vec<bool> = if world.plan.serial_checks {
        finished.iter().map(check).collect()
    } else {
        std::thread::scope(|scope| {
            let checks: Vec<_> = finished
                .iter()
                .map(|job| scope.spawn(move || check(job)))
                .collect();
            checks.into_iter().map(|c| c.join().unwrap()).collect()
        })
    };
    let jobs = finished
        .into_iter()
        .zip(lives)
        .map(|((a, p, (cpu_ms, runq_ms), wall_ms, out), live)| {
            let stderr = String::from_utf8_lossy(&out.stderr)
                .lines()
                .collect::<Vec<_>>()
                .join(" | ");
            let succeeded = out.status.success() && live;
            let in_window = in_window(windows, a, minute);
            Job {
                account: a.name,
                place: p,
                minute,
                exit: out.status.code(),
                token_live: live,
                cpu_ms,
                wall_ms,
                runq_ms,
                excused: !succeeded && in_window,
                in_window,
                stderr,
            }
        })
        .collect();
    phases.tokens += t.elapsed();
    jobs
}
