//! Crash-safe file writes and private folders.
//!
//! Every file keychain writes goes through [`write_atomic`]: a temporary file in the same folder,
//! fsync, rename over the target, fsync of the folder. A reader therefore sees either the old or
//! the new content, never a mix, even when the writer is killed or the machine loses power.
//! Nothing here ever deletes or re-creates a file it could not read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

/// Mode of every file keychain creates: readable and writable by the owner only.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every folder keychain creates.
pub const DIR_MODE: u32 = 0o700;

/// Options that create files with mode 0600 (the umask can only narrow it).
pub fn private_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options
}

/// The folder a path is in (`.` for a bare file name).
pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates `dir` (and missing parents) as a private folder, and narrows an existing one to 0700.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(dir)?;
    // A umask cannot widen a mode, but a folder made earlier by hand may be wider than 0700.
    #[cfg(unix)]
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
    Ok(())
}

/// Opens (creating if needed) a file with mode 0600, whatever the umask.
pub fn open_private(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    options.mode(FILE_MODE);
    let file = options.open(path)?;
    // The mode given at creation does not apply to a file that already existed.
    #[cfg(unix)]
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// The temporary name used while `target` is being written.
///
/// The name is fixed per target rather than random: writers of one target hold its lock, so
/// there is never more than one, and a leftover from a crash is simply overwritten (or removed by
/// [`remove_leftover_temp`]) without scanning the folder, which would cost more with every account.
pub fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.tmp"))
}

/// Writes `bytes` to `target` atomically: temp file, fsync, rename, fsync the folder.
/// The caller must hold the lock that serialises writers of `target`.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = temp_path(target);
    let result = (|| {
        let mut file = open_private(
            &temp,
            OpenOptions::new().write(true).create(true).truncate(true),
        )?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, target)?;
        sync_dir(target.parent().unwrap_or(Path::new(".")))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Writes `bytes` to `target` atomically, with `mode`, where writers do not share a lock (a
/// settings file, an export): the temporary file gets a random name of its own.
pub fn write_atomic_unique(target: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = parent_of(target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for _ in 0..16 {
        let temp = dir.join(format!(".{name}.tmp-{:016x}", rand::random::<u64>()));
        let mut options = OpenOptions::new();
        #[cfg(unix)]
        options.mode(mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = match options.write(true).create_new(true).open(&temp) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let result = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .and_then(|()| fs::rename(&temp, target))
            .and_then(|()| sync_dir(&dir));
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        return result;
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary file name",
    ))
}

/// Removes what a writer killed mid-write left behind for `target`. Call with its lock held.
pub fn remove_leftover_temp(target: &Path) {
    let _ = fs::remove_file(temp_path(target));
}

/// Makes a rename or unlink in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Removes `target` durably.
pub fn remove_durable(target: &Path) -> io::Result<()> {
    fs::remove_file(target)?;
    sync_dir(target.parent().unwrap_or(Path::new(".")))
}

/// The permission bits of a path, for checks and audits (0600 where there are none).
pub fn mode_of(path: &Path) -> io::Result<u32> {
    #[cfg(unix)]
    return Ok(fs::metadata(path)?.permissions().mode() & 0o7777);
    #[cfg(not(unix))]
    {
        fs::metadata(path)?;
        Ok(FILE_MODE)
    }
}

/// Why another user could change `meta`'s file or folder at `path`, if one could: its mode
/// lets group or others write, or another user owns it. Returns the reason and the exact
/// command that fixes it.
pub fn writable_by_others(path: &Path, meta: &fs::Metadata) -> Option<(String, String)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mode = meta.mode() & 0o7777;
        let me = rustix::process::geteuid().as_raw();
        let want = if meta.is_dir() { DIR_MODE } else { FILE_MODE };
        let quoted = shell_quote(path);
        if meta.uid() != me {
            return Some((
                format!("is owned by uid {}, not by you (uid {me})", meta.uid()),
                format!(
                    "the owner can change it at will: move the keychain to a folder you own, or as root run: chown {me} {quoted} && chmod {want:o} {quoted}"
                ),
            ));
        }
        if mode & 0o022 != 0 {
            return Some((
                format!("has mode {mode:04o}: other users can write to it"),
                format!("check that nothing was planted, then run: chmod {want:o} {quoted}"),
            ));
        }
        None
    }
    #[cfg(not(unix))]
    {
        let _ = (path, meta);
        None
    }
}

/// A path as one shell word, for commands printed in hints.
fn shell_quote(path: &Path) -> String {
    let text = path.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a");
        write_atomic(&target, b"one").unwrap();
        write_atomic(&target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        assert!(!temp_path(&target).exists());
        #[cfg(unix)]
        assert_eq!(mode_of(&target).unwrap(), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn ensure_private_dir_narrows_a_wide_folder() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("k");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&sub).unwrap();
        assert_eq!(mode_of(&sub).unwrap(), 0o700);
    }
}
