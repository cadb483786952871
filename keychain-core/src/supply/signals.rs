//! Signals while a supplied child runs: SIGTERM, SIGHUP and SIGQUIT sent to keychain are passed
//! on to the child, and keychain stays to remove the run folder once the child has ended (the
//! default action would end keychain at once and leave the socket and token file behind).
//! SIGINT is not passed on: a terminal sends it to the whole foreground group, the child
//! included, and a second copy would reach the child twice; keychain waits for the child.
//!
//! No handler is installed (no `unsafe`): the signals are blocked in this thread before any
//! other is started (threads inherit the mask; the child gets an empty mask from `std`), and a
//! thread of their own takes them with `sigwait`.

use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;

/// The signals taken over while the child runs.
fn set() -> SigSet {
    let mut set = SigSet::empty();
    for signal in [
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGINT,
    ] {
        set.add(signal);
    }
    set
}

/// Blocks the signals in the calling thread, so that every thread started after this has them
/// blocked too. Call before any thread is started.
pub fn block() -> std::io::Result<()> {
    set().thread_block().map_err(std::io::Error::from)
}

/// Starts the thread that passes the signals on to `child` (its pid).
pub fn forward_to(child: u32) -> std::io::Result<()> {
    let pid = Pid::from_raw(i32::try_from(child).unwrap_or(i32::MAX));
    std::thread::Builder::new()
        .name("keychain-signals".into())
        .spawn(move || {
            let set = set();
            while let Ok(signal) = set.wait() {
                if signal != Signal::SIGINT {
                    // The child may have ended already: nothing to do then.
                    let _ = nix::sys::signal::kill(pid, signal);
                }
            }
        })
        .map(|_| ())
}
