//! Progress for a person watching: core code says what it is doing or waiting for; the front end
//! that installed an [`Observer`] decides whether and how to show it. Core code never writes to
//! a terminal itself, and with no observer installed (a library user, a test) nothing is shown.
#![deny(missing_docs)]

use std::sync::OnceLock;

/// Shows progress. Implemented by the command line (on standard error, escaped).
pub trait Observer: Send + Sync {
    /// One finished step of a logon or a refresh, as a line of text.
    fn step(&self, text: &str);
    /// A wait that may last (a lock held by another process, a key derivation) has begun; it ends
    /// when the returned guard is dropped.
    fn waiting(&self, message: &str) -> Box<dyn Send>;
    /// A warning about how the command was asked (`--min-valid` above the token's lifetime),
    /// for a job's log as much as a person: shown even off a terminal.
    fn warning(&self, text: &str) {
        self.step(text);
    }
}

static OBSERVER: OnceLock<Box<dyn Observer>> = OnceLock::new();

/// Installs the process's observer; a second call is ignored (the first front end wins).
pub fn install(observer: Box<dyn Observer>) {
    let _ = OBSERVER.set(observer);
}

/// Reports a step, if anyone watches.
pub fn step(text: &str) {
    if let Some(observer) = OBSERVER.get() {
        observer.step(text);
    }
}

/// Reports a warning, if anyone watches (see [`Observer::warning`]).
pub fn warning(text: &str) {
    if let Some(observer) = OBSERVER.get() {
        observer.warning(text);
    }
}

/// Reports a wait until the returned value is dropped.
pub fn waiting(message: &str) -> Waiting {
    Waiting(OBSERVER.get().map(|observer| observer.waiting(message)))
}

/// Ends the wait it stands for when dropped.
pub struct Waiting(#[allow(dead_code)] Option<Box<dyn Send>>);
