//! Where the month's wall time and CPU go (issue 19): the driver's phases, each part's CPU and
//! its time waiting for a CPU, read from `/proc`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{Job, Report, World, children_cpu_ms};

/// The driver's wall time by phase, to see where a simulated day goes.
#[derive(Debug, Default, Clone)]
pub struct Phases {
    /// Moving the clock (LemonLDAP::NG's file, the emulators' advance).
    pub clock: Duration,
    pub faults: Duration,
    pub status: Duration,
    /// From the first job's spawn to the last one's exit.
    pub jobs: Duration,
    /// Checking the jobs' tokens at their providers.
    pub tokens: Duration,
    pub probes: Duration,
    pub job_minutes: u32,
    /// Per (account, keychain): the job phase of the minutes in which its job was the slowest
    /// (the critical path of a minute's jobs).
    pub slowest: BTreeMap<(&'static str, usize), Duration>,
}

impl Phases {
    pub(super) fn line(&self) -> String {
        let s = |d: Duration| d.as_secs_f64();
        format!(
            "{} job minutes; wall s: jobs {:.1}, token checks {:.1}, status {:.1}, clock {:.1}, faults {:.1}, side-by-side probes {:.1}",
            self.job_minutes,
            s(self.jobs),
            s(self.tokens),
            s(self.status),
            s(self.clock),
            s(self.faults),
            s(self.probes)
        ) + &{
            let mut slowest: Vec<_> = self.slowest.iter().collect();
            slowest.sort_by(|a, b| b.1.cmp(a.1));
            let top: Vec<String> = slowest
                .iter()
                .take(4)
                .map(|((a, p), d)| format!("{a} on {p} {:.1}", d.as_secs_f64()))
                .collect();
            format!("; the job phase by its slowest job: {}", top.join(", "))
        }
    }

    pub(super) fn minus(&self, earlier: &Phases) -> Phases {
        Phases {
            clock: self.clock - earlier.clock,
            faults: self.faults - earlier.faults,
            status: self.status - earlier.status,
            jobs: self.jobs - earlier.jobs,
            tokens: self.tokens - earlier.tokens,
            probes: self.probes - earlier.probes,
            job_minutes: self.job_minutes - earlier.job_minutes,
            slowest: self
                .slowest
                .iter()
                .map(|(k, d)| (*k, *d - earlier.slowest.get(k).copied().unwrap_or_default()))
                .collect(),
        }
    }
}

/// Where a stretch of the run's wall and CPU went: from its start, printed at its end.
pub(super) struct Profile {
    phases: Phases,
    started: Instant,
    cpu: [(&'static str, f64, f64); 4],
}

impl Profile {
    pub(super) fn start(report: &Report, world: &World) -> Profile {
        Profile {
            phases: report.phases.clone(),
            started: Instant::now(),
            cpu: cpu_by_part(world),
        }
    }

    pub(super) fn print(
        &self,
        label: &str,
        report: &Report,
        world: &World,
        range: std::ops::Range<u32>,
    ) {
        eprintln!(
            "nights: {label} took {:.0} s of wall; {}",
            self.started.elapsed().as_secs_f64(),
            report.phases.minus(&self.phases).line()
        );
        let jobs: Vec<&Job> = report
            .jobs
            .iter()
            .filter(|j| range.contains(&j.minute))
            .collect();
        let sum = |f: fn(&Job) -> f64| jobs.iter().map(|j| f(j)).sum::<f64>() / 1000.0;
        let (wall, run, runq) = (sum(|j| j.wall_ms), sum(|j| j.cpu_ms), sum(|j| j.runq_ms));
        eprintln!(
            "nights: {label} CPU s by part: {}; its {} jobs' wall summed {wall:.0} s: on a CPU {run:.0} s, waiting for one {runq:.0} s, the rest (locks, network, disk, servers, collection order) {:.0} s",
            cpu_by_part(world)
                .iter()
                .zip(&self.cpu)
                .map(|((name, cpu, runq), (_, cpu0, runq0))| {
                    format!(
                        "{name} {:.1} (waited for a CPU {:.1})",
                        cpu - cpu0,
                        runq - runq0
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            jobs.len(),
            wall - run - runq,
        );
    }
}

/// A process's time spent runnable but waiting for a CPU so far, in ms (`/proc/PID/schedstat`,
/// its second field); 0 when unreadable.
pub(super) fn run_delay_ms(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e6)
}

/// CPU seconds (user + sys, its threads and reaped children) of a process, from
/// `/proc/PID/stat`; 0 when it is gone.
fn process_cpu_s(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // After the command's closing parenthesis: field 3 on; utime..cstime are fields 14..17.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks: f64 = (11..15)
        .filter_map(|i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    // USER_HZ: 100 on Linux.
    ticks / 100.0
}

/// This process's children whose command line has `word` (LemonLDAP::NG's server runs
/// `llng_serve.pl`).
fn children_running(word: &str) -> Vec<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let child = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                let (_, rest) = s.rsplit_once(')').unwrap_or_default();
                rest.split_whitespace().nth(1) == Some(me.as_str())
            });
            child
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(word))
        })
        .collect()
}

/// The run delay (waiting for a CPU) of every live thread of a process, in seconds.
fn threads_run_delay_s(pid: u32) -> f64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .map(|tid| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
                .map_or(0.0, |ns| ns / 1e9)
        })
        .sum()
}

/// Where the machine's CPU went so far, in seconds: keychain's processes (and the driver's other
/// reaped children), the driver itself (with the emulators and proxies, its threads),
/// LemonLDAP::NG and OpenBao (its current process). With each, its live threads' time waiting
/// for a CPU (none for the keychain processes: theirs is in their jobs' figures).
fn cpu_by_part(world: &World) -> [(&'static str, f64, f64); 4] {
    let own = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).unwrap();
    let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    let llng = children_running("llng_serve.pl");
    [
        ("keychain processes", children_cpu_ms() / 1000.0, 0.0),
        (
            "driver, emulators and proxies",
            s(own.user_time()) + s(own.system_time()),
            threads_run_delay_s(std::process::id()),
        ),
        (
            "LemonLDAP::NG",
            llng.iter().copied().map(process_cpu_s).sum(),
            llng.iter().copied().map(threads_run_delay_s).sum(),
        ),
        (
            "OpenBao",
            process_cpu_s(world.bao.pid),
            threads_run_delay_s(world.bao.pid),
        ),
    ]
}
