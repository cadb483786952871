//! Finding the program `keychain exec` runs, before any token is obtained: a missing program
//! exits 127 and one that cannot run exits 126, as `env`, `sudo` and shells report them, and
//! neither costs a logon or a refresh token.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::exit;

/// Checks that `program` can be started, searching `PATH` as `execvp` does when the name has
/// no `/`.
pub fn check(program: &OsStr) -> Result<(), Error> {
    let shown = program.to_string_lossy();
    if program.is_empty() {
        return Err(missing(&shown));
    }
    if Path::new(program).components().count() > 1 || shown.contains('/') {
        return match runnable(Path::new(program)) {
            Some(true) => Ok(()),
            Some(false) => Err(cannot_run(&shown)),
            None => Err(missing(&shown)),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut found_unrunnable = false;
    for dir in std::env::split_paths(&path) {
        // An empty PATH entry means the current folder.
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        match runnable(&dir.join(program)) {
            Some(true) => return Ok(()),
            Some(false) => found_unrunnable = true,
            None => {}
        }
    }
    Err(if found_unrunnable {
        cannot_run(&shown)
    } else {
        missing(&shown)
    })
}

/// Maps an error from starting the program (after [`check`] passed, e.g. a program removed in
/// between, or a file that is not an executable format).
pub fn spawn_error(program: &OsStr, error: &std::io::Error) -> Error {
    let shown = program.to_string_lossy();
    if error.kind() == std::io::ErrorKind::NotFound {
        missing(&shown)
    } else {
        Error::Program {
            message: format!("cannot run '{shown}': {error}"),
            code: exit::CANNOT_RUN,
        }
    }
}

/// `Some(true)`: a file this user may execute; `Some(false)`: something is there but cannot be
/// run (a folder, no execute permission); `None`: nothing there.
fn runnable(path: &Path) -> Option<bool> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return Some(false);
    }
    #[cfg(unix)]
    {
        Some(rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok())
    }
    #[cfg(not(unix))]
    {
        Some(true)
    }
}

fn missing(shown: &str) -> Error {
    Error::Program {
        message: format!("no program '{shown}' found (searched PATH)"),
        code: exit::NO_PROGRAM,
    }
}

fn cannot_run(shown: &str) -> Error {
    Error::Program {
        message: format!("'{shown}' is not an executable program"),
        code: exit::CANNOT_RUN,
    }
}
