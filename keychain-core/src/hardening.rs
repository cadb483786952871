//! Process hardening for a process that holds secrets: no core dumps, no ptrace by other
//! processes of the same user (Linux `PR_SET_DUMPABLE`).

/// Turns core dumps off; failures are ignored because they only lose defence in depth and
/// must not stop a cron job.
pub fn disable_core_dumps() {
    #[cfg(unix)]
    {
        let _ = rustix::process::setrlimit(
            rustix::process::Resource::Core,
            rustix::process::Rlimit {
                current: Some(0),
                maximum: Some(0),
            },
        );
    }
    #[cfg(target_os = "linux")]
    {
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    }
}
