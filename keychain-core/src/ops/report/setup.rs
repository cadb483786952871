//! Findings about the keychain's setup: its member list, configuration, key store and the
//! permissions of its files.

use std::path::Path;

use crate::audit::lines::Line;
use crate::error::Result;
use crate::keychain::Keychain;
use crate::keystore::{self, KeyStoreKind, Persistence};
use crate::record::{Header, SecretField};

use super::{Finding, Severity};

/// A member list that does not check (a planted recipient: critical), and per removed member
/// the accounts it could read whose secrets were not changed since (high).
pub(super) fn member_findings(
    kc: &Keychain,
    headers: &[Header],
    lines: &[Line],
    out: &mut Vec<Finding>,
) {
    if let (Some(shared), Ok(identity)) = (kc.shared(), kc.identity())
        && shared.exists().unwrap_or(false)
        && let Some(problem) = shared.problem(identity)
    {
        out.push(Finding::new(
            Severity::Critical,
            "members-not-authenticated",
            None,
            format!(
                "the member list does not check: {problem}; every write is refused until it is restored"
            ),
        ));
    }
    for removal in lines.iter().filter(|l| l.action == "member_rm") {
        let Some(name) = removal.detail.as_deref() else {
            continue;
        };
        let why = format!("rm {name}");
        // Readable by the removed member: sealed again at its removal, so sealed to it before.
        // Still exposed: each secret not set (nor the account added again) since, by the trail's
        // order rather than by time, so a change in the same second is placed right.
        let exposed: Vec<String> = headers
            .iter()
            .filter(|h| {
                lines.iter().any(|l| {
                    l.action == "reseal"
                        && l.detail.as_deref() == Some(why.as_str())
                        && l.account.as_deref() == Some(h.name.as_str())
                })
            })
            .filter_map(|h| {
                let changed_since = |field: &str| {
                    lines.iter().any(|l| {
                        l.seq > removal.seq
                            && l.account.as_deref() == Some(h.name.as_str())
                            && (l.action == "add"
                                || (l.action == "set" && l.detail.as_deref() == Some(field)))
                    })
                };
                let stale: Vec<&str> = [
                    SecretField::Password,
                    SecretField::TotpSecret,
                    SecretField::ClientSecret,
                ]
                .into_iter()
                .filter(|f| h.secrets.contains_key(f) && !changed_since(f.as_str()))
                .map(|f| f.as_str())
                .collect();
                (!stale.is_empty()).then(|| format!("{} ({})", h.name, stale.join(", ")))
            })
            .collect();
        if exposed.is_empty() {
            continue;
        }
        out.push(Finding::new(
            Severity::High,
            "member-removed",
            None,
            format!(
                "member '{name}' was removed ({}); it could read these before, not changed since: {}; rotate them at the provider, then 'keychain set' them (refresh tokens rotate at the next refresh)",
                removal.time,
                exposed.join(", ")
            ),
        ).about(name));
    }
}

/// Whether `config.json` (its recipients) authenticates under the keychain's key.
pub(super) fn config_status(kc: &Keychain, out: &mut Vec<Finding>) -> Result<&'static str> {
    match kc.config.authentication_problem(kc.identity()?) {
        None => Ok("authenticated"),
        Some(reason) => {
            out.push(Finding::new(
                Severity::Critical,
                "config-not-authenticated",
                None,
                format!(
                    "config.json {reason}; every write is refused until an officer checks the recipients listed here and runs 'keychain audit seal-config'"
                ),
            ));
            Ok("not-authenticated")
        }
    }
}

/// A key store that loses the key at reboot, and a key kept as a plain file.
pub(super) fn store_findings(kc: &Keychain, out: &mut Vec<Finding>) {
    let kind = kc.config.key_store;
    if keystore::for_kind(kind, &kc.dir, kc.settings()).persistence() != Persistence::UntilDelete {
        out.push(Finding::new(
            Severity::Medium,
            "key-store-not-persistent",
            None,
            format!("the '{kind}' key store loses the key at reboot or logout: the records cannot be opened afterwards"),
        ));
    }
    if kind == KeyStoreKind::File {
        out.push(Finding::new(
            Severity::High,
            "plain-identity-file",
            None,
            format!(
                "the key is a plain file ({}): anyone who can read it can open every record; prefer the 'os' or 'passphrase' key store",
                kc.dir.join(keystore::file::FILE_NAME).display()
            ),
        ));
    }
}

/// Folders wider than 0700 and files wider than 0600 anywhere in the keychain folder.
pub(super) fn permission_findings(dir: &Path, out: &mut Vec<Finding>) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // One stat per entry, relative to its folder (the entry's own, not following links),
        // and the mode from it: on 10,000 accounts (and their lock files) the walk was a
        // quarter of `audit`'s serial time with a full path lookup and a second stat for each.
        let Ok(root) = std::fs::symlink_metadata(dir) else {
            return;
        };
        let mut stack = vec![(dir.to_path_buf(), root)];
        while let Some((path, meta)) = stack.pop() {
            // Symbolic links are skipped below, so the mode is that of the entry itself.
            let mode = meta.permissions().mode() & 0o7777;
            let (want, what) = if meta.is_dir() {
                (0o700, "folder")
            } else {
                (0o600, "file")
            };
            if meta.file_type().is_symlink() {
                continue;
            }
            if mode & 0o022 != 0 {
                out.push(Finding::new(
                    Severity::Critical,
                    "writable-by-others",
                    None,
                    format!(
                        "{what} {} has mode {mode:04o}: other users can write to it, and keychain refuses to use it; check that nothing was planted, then chmod {want:o} it",
                        path.display()
                    ),
                ).about(&path.display().to_string()));
            } else if mode & 0o077 != 0 {
                out.push(Finding::new(
                    Severity::High,
                    "permissions",
                    None,
                    format!(
                        "{what} {} has mode {mode:04o}, wider than {want:04o}: other users may read it; chmod {want:o} it",
                        path.display()
                    ),
                ).about(&path.display().to_string()));
            }
            if meta.is_dir()
                && let Ok(entries) = std::fs::read_dir(&path)
            {
                // By name: within one folder the same order as sorting the whole paths.
                let mut children: Vec<(std::ffi::OsString, std::fs::Metadata)> = entries
                    .flatten()
                    .filter_map(|e| e.metadata().ok().map(|meta| (e.file_name(), meta)))
                    .collect();
                children.sort_unstable_by(|a, b| b.0.cmp(&a.0));
                stack.extend(
                    children
                        .into_iter()
                        .map(|(name, meta)| (path.join(name), meta)),
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (dir, out);
}
