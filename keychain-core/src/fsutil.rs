//! Crash-safe file writes and private folders.
//!
//! Every file keychain writes goes through [`write_atomic`]: a temporary file in the same folder,
//! fsync, rename over the target, fsync of the folder. A reader therefore sees either the old or
//! the new content, never a mix, even when the writer is killed or the machine loses power.
//! Nothing here ever deletes or re-creates a file it could not read. The one exception to the
//! fsyncs is [`replace_unsynced`], for the audit anchor, which its log makes good after a crash.
#![deny(missing_docs)]

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
    create_dirs(dir, DIR_MODE)?;
    // A folder made earlier by hand may be wider than 0700.
    #[cfg(unix)]
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
    Ok(())
}

/// The one way keychain makes folders: `dir` and every missing parent, each created with
/// exactly `mode` whatever the umask (set again after `mkdir`, which the umask narrows).
/// Folders that exist are left as they are. `mode` must never let group or others write.
pub fn create_dirs(dir: &Path, mode: u32) -> io::Result<()> {
    debug_assert_eq!(mode & 0o022, 0, "a folder others could write");
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(path) = at.filter(|p| !p.as_os_str().is_empty()) {
        match fs::symlink_metadata(path) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(path),
            Err(e) => return Err(e),
        }
        at = path.parent();
    }
    for path in missing.into_iter().rev() {
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        builder.mode(mode);
        match builder.create(path) {
            Ok(()) => {
                #[cfg(unix)]
                fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
            }
            // Made by another process meanwhile: theirs, left as it is.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The first folder above `dir` (its parents, up to `/`) that another user could use to swap
/// `dir` or a parent: writable by group or others without the sticky bit, or owned by another
/// user than root or you. With the reason and what to do.
pub fn unsafe_ancestor(dir: &Path) -> Option<(PathBuf, String)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let full = fs::canonicalize(dir).ok()?;
        let me = rustix::process::geteuid().as_raw();
        for parent in full.ancestors().skip(1) {
            let Ok(meta) = fs::metadata(parent) else {
                continue;
            };
            let mode = meta.mode() & 0o7777;
            if meta.uid() != 0 && meta.uid() != me {
                return Some((
                    parent.to_path_buf(),
                    format!(
                        "is owned by uid {}: its owner can rename or replace the keychain folder",
                        meta.uid()
                    ),
                ));
            }
            if mode & 0o022 != 0 && mode & 0o1000 == 0 {
                return Some((
                    parent.to_path_buf(),
                    format!(
                        "has mode {mode:04o}: other users can rename or replace what is in it (no sticky bit)"
                    ),
                ));
            }
        }
        None
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
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
/// there is never more than one, and a leftover from a crash is removed (by [`write_atomic`] or
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
    // Whatever is under the fixed name (a crash's leftover, or a symlink planted there) is
    // removed, never opened: the temp file is then created exclusively, so nothing is followed.
    match fs::remove_file(&temp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = open_private(&temp, OpenOptions::new().write(true).create_new(true))?;
    let result = (|| {
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, target)?;
        sync_dir(&parent_of(target))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// What an output file may do to a file (or link) already under its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace it (the rename replaces a symlink itself, never what it points to).
    Replace,
    /// Refuse with `AlreadyExists`, atomically: no check-then-write window.
    Refuse,
}

/// Writes `bytes` to `target` atomically, with `mode`, where writers do not share a lock: user-
/// named outputs (an export, an HTML report, a rewritten settings file) and files other
/// processes may write at the same time.
///
/// The temporary file gets a unique random name in the target's own folder (`.` for a bare
/// name), created with `O_CREAT|O_EXCL` by the `tempfile` crate, so a file or symlink planted
/// under a guessable name is never opened, followed, truncated or chmod'ed. Then fsync, rename
/// (or link without replacing, for [`Existing::Refuse`]), and fsync of the folder.
pub fn write_output(target: &Path, bytes: &[u8], mode: u32, existing: Existing) -> io::Result<()> {
    let (dir, temp) = unique_temp_beside(target, bytes, mode)?;
    temp.as_file().sync_all()?;
    // On failure the temporary file is removed when `temp` (or the error holding it) drops.
    match existing {
        Existing::Replace => temp.persist(target).map(drop).map_err(|e| e.error)?,
        Existing::Refuse => temp
            .persist_noclobber(target)
            .map(drop)
            .map_err(|e| e.error)?,
    }
    sync_dir(&dir)
}

/// A temporary file holding `bytes`, with a unique random name (`.NAME.XXXXXX.tmp`) in the
/// folder of `target` (`.` for a bare name), created with `O_CREAT|O_EXCL` and `mode`; it is
/// removed when dropped unless persisted. Returns the folder too, for its fsync.
fn unique_temp_beside(
    target: &Path,
    bytes: &[u8],
    mode: u32,
) -> io::Result<(PathBuf, tempfile::NamedTempFile)> {
    let dir = parent_of(target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(fs::Permissions::from_mode(mode));
    #[cfg(not(unix))]
    let _ = mode;
    let mut temp = builder.tempfile_in(&dir)?;
    // Exactly `mode`, whatever the umask (which narrows the mode given at creation).
    #[cfg(unix)]
    temp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    temp.write_all(bytes)?;
    Ok((dir, temp))
}

/// [`write_output`] replacing whatever is at `target`.
pub fn write_atomic_unique(target: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_output(target, bytes, mode, Existing::Replace)
}

/// Replaces `target` with `bytes` atomically (a unique temp file with `mode`, then rename) but
/// with no fsync at all: a reader, or a process killed at any point, sees the old or the new
/// content; after a power loss the rename may not have reached the disk.
///
/// Only for a file whose loss of the last update a later step detects and reconciles: the audit
/// anchor, one line behind its `fdatasync`'d log (`src/audit/log.rs`). Everything else uses
/// [`write_atomic`] or [`write_output`].
pub fn replace_unsynced(target: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let (_, temp) = unique_temp_beside(target, bytes, mode)?;
    temp.persist(target).map(drop).map_err(|e| e.error)
}

/// Removes what a writer killed mid-write left behind for `target`. Call with its lock held.
pub fn remove_leftover_temp(target: &Path) {
    let _ = fs::remove_file(temp_path(target));
}

/// Opens `path` for reading only if it is a regular file, without ever blocking on it.
///
/// A FIFO (or a device) planted under a file name keychain reads would make a plain `open`
/// wait forever for a writer, hanging `list` or a cron job. The open is non-blocking and the
/// type is checked on the opened descriptor (no window between check and use); anything but a
/// regular file is refused with `InvalidInput` and a message saying so.
pub fn open_regular(path: &Path) -> io::Result<File> {
    open_regular_sized(path).map(|(file, _)| file)
}

/// [`open_regular`], also returning the file's size as the opened descriptor reported it.
fn open_regular_sized(path: &Path) -> io::Result<(File, u64)> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, a device or a folder)",
        ));
    }
    Ok((file, meta.len()))
}

/// Reads a regular file of at most `limit` bytes (see [`open_regular`]); a larger one is refused
/// with `FileTooLarge` before it is read into memory.
pub fn read_regular(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let (file, size) = open_regular_sized(path)?;
    read_capped(file, size, limit)
}

/// A file that holds a secret (a passphrase, a password, an identity), read as
/// [`read_regular`] does (never blocking: a FIFO, a device or a folder is refused at once,
/// judged on the opened descriptor), with the mode that lets other users read it when one does.
///
/// "Other users can read it", as `ssh` judges a private key: for a file of ours, any
/// permission for group or others (`0o077`); for a file another user owns (root, as for a
/// systemd credential a group is given access to), a mode every user can read (`0o004`).
/// Symbolic links are followed: the user named the path, and what is judged is the file
/// opened, not the name.
pub fn read_secret_file(path: &Path, limit: u64) -> io::Result<SecretFile> {
    let (file, size) = open_regular_sized(path)?;
    #[cfg(unix)]
    let exposed = {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata()?;
        let mode = meta.mode() & 0o7777;
        let mine = meta.uid() == rustix::process::geteuid().as_raw();
        let open = if mine { mode & 0o077 } else { mode & 0o004 };
        (open != 0).then_some(mode)
    };
    #[cfg(not(unix))]
    let exposed = None;
    let bytes = zeroize::Zeroizing::new(read_capped(file, size, limit)?);
    Ok(SecretFile { bytes, exposed })
}

/// What [`read_secret_file`] read.
pub struct SecretFile {
    /// The file's content, wiped on drop.
    pub bytes: zeroize::Zeroizing<Vec<u8>>,
    /// The file's mode when other users can read it (see [`read_secret_file`]).
    pub exposed: Option<u32>,
}

impl SecretFile {
    /// Fails with `PermissionDenied` and the `chmod` that fixes it when others can read the file:
    /// for secrets that stay on disk (a passphrase file, an identity), where `ssh` refuses too.
    pub fn private(self, path: &Path) -> io::Result<Self> {
        match self.exposed {
            Some(mode) => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                exposed_text(path, mode),
            )),
            None => Ok(self),
        }
    }
}

/// "other users can read it (mode 0644); run: chmod 600 FILE".
pub fn exposed_text(path: &Path, mode: u32) -> String {
    format!(
        "other users can read it (mode {mode:04o}); run: chmod 600 {}",
        shell_quote(path)
    )
}

/// Reads an opened file of at most `limit` bytes; a larger one is refused with `FileTooLarge`
/// before it is read into memory. `size` (from the caller's fstat) sizes the buffer, so a record
/// is read in one call rather than in a series of growing ones (`list` reads every record); the
/// limit still applies to what is read, as the file may grow after the fstat.
pub fn read_capped(file: File, size: u64, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(size.min(limit).saturating_add(1) as usize);
    // One byte more than allowed tells "exactly at the limit" from "beyond it".
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than {limit} bytes"),
        ));
    }
    Ok(bytes)
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
    sync_dir(&parent_of(target))
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
    fn read_regular_refuses_a_fifo_without_blocking_and_caps_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("trap");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let error = read_regular(&fifo, 1024).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("not a regular file"));
        let error = read_regular(dir.path(), 1024).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        let file = dir.path().join("f");
        fs::write(&file, b"12345").unwrap();
        assert_eq!(read_regular(&file, 5).unwrap(), b"12345");
        let error = read_regular(&file, 4).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::FileTooLarge);
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_never_follows_a_symlink_planted_at_its_temp_name() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"theirs").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
        let target = dir.path().join("record");
        std::os::unix::fs::symlink(&victim, temp_path(&target)).unwrap();
        write_atomic(&target, b"ours").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"theirs");
        assert_eq!(mode_of(&victim).unwrap(), 0o644);
        assert_eq!(fs::read(&target).unwrap(), b"ours");
        assert!(fs::symlink_metadata(&target).unwrap().file_type().is_file());
    }

    #[test]
    fn write_output_refuses_an_existing_name_atomically_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        write_output(&target, b"one", FILE_MODE, Existing::Refuse).unwrap();
        let error = write_output(&target, b"two", FILE_MODE, Existing::Refuse).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&target).unwrap(), b"one");
        write_output(&target, b"three", FILE_MODE, Existing::Replace).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"three");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
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
