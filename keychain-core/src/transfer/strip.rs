//! The second half of a settings-file import with `--strip`: moving the plain-text secrets out
//! of the settings file, and only those the keychain now holds.
//!
//! [`plan`] reads each account back from the keychain (after its save) and compares each value
//! with the file's in constant time; only equal values are to be cut. [`apply`] records the
//! strip in the audit log first (no audit, no strip), naming each value by line and key, never
//! by content, then cuts them one by one through [`strip_spots`] (which refuses a file changed
//! meanwhile, checks what it cut, and keeps the original beside it). The file was read at the
//! target of a symbolic link by the import, so the target is rewritten and the link stays.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::audit::Action;
use crate::audit::Event;
use crate::error::Result;
use crate::invantive::{ImportCandidate, ScanError, SettingsFile, Spot, strip_spots};
use crate::keychain::Keychain;
use crate::record::SecretField;
use crate::totp::TotpSecret;

/// One secret of the file the keychain holds with the same value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// Where it is in the file.
    pub spot: Spot,
    /// The account that holds it.
    pub account: String,
    /// As which of the account's secrets.
    pub field: SecretField,
}

/// What a strip would do: the values it cuts and those it leaves, in the file's order.
#[derive(Debug)]
pub struct StripPlan {
    /// The values the keychain holds, to be cut.
    pub moved: Vec<Moved>,
    /// The secrets of the file that stay (not in the keychain with this value).
    pub left: Vec<Spot>,
    /// The path given was a symbolic link: its target is the file rewritten.
    pub through_link: bool,
}

/// Which secrets of `file` (read from `given`, resolved) the keychain now holds with the same
/// value. Reads, never writes.
pub fn plan(kc: &Keychain, given: &Path, file: &SettingsFile) -> StripPlan {
    let moved = verified_spots(kc, &file.candidates);
    let left = file
        .spots
        .iter()
        .filter(|s| !moved.iter().any(|m| m.spot == **s))
        .cloned()
        .collect();
    let through_link = std::fs::symlink_metadata(given).is_ok_and(|m| m.file_type().is_symlink());
    StripPlan {
        moved,
        left,
        through_link,
    }
}

/// Records the strip, then cuts the values of `plan.moved` from the file; returns the path of
/// the backup kept beside it (mode 0600, it still holds them). A plan that moves nothing is
/// refused: there is nothing to record or cut.
pub fn apply(kc: &Keychain, file: &SettingsFile, plan: &StripPlan) -> Result<PathBuf> {
    if plan.moved.is_empty() {
        return Err(ScanError::NothingToStrip {
            file: file.path.clone(),
        }
        .into());
    }
    let named: Vec<String> = plan
        .moved
        .iter()
        .map(|m| {
            format!(
                "{}:{} to {} {}",
                m.spot.line, m.spot.key, m.account, m.field
            )
        })
        .collect();
    kc.log_event(Event::new(
        format!(
            "import --strip {}: moved {}; {} left",
            file.path.display(),
            named.join(", "),
            plan.left.len()
        ),
        Action::Import,
    ))?;
    let spots: Vec<Spot> = plan.moved.iter().map(|m| m.spot.clone()).collect();
    Ok(strip_spots(&file.path, &file.text, &spots, kc.now())?)
}

/// The spots whose value the keychain now holds: each account is read back (after the save)
/// and each of its values compared with the file's, in constant time. The TOTP secret is
/// compared in its canonical base32 form, which is how it is stored. A spot taken by several
/// accounts counts once, for the first account that holds it.
fn verified_spots(kc: &Keychain, candidates: &[ImportCandidate]) -> Vec<Moved> {
    use subtle::ConstantTimeEq;
    let mut moved: Vec<Moved> = Vec::new();
    for c in candidates {
        if kc.store().read(&c.name).ok().flatten().is_none() {
            continue;
        }
        // An account that cannot be opened holds nothing we can vouch for.
        let Ok((account, _)) = kc.read(&c.name) else {
            continue;
        };
        for (field, spot) in &c.spots {
            if moved.iter().any(|m| m.spot == *spot) {
                continue;
            }
            let Some(in_file) = candidate_value(c, *field) else {
                continue;
            };
            let expected = match field {
                SecretField::TotpSecret => match TotpSecret::parse(in_file.expose_secret()) {
                    Ok(totp) => totp.secret_base32(),
                    Err(_) => continue,
                },
                _ => in_file.clone(),
            };
            let Some(stored) = account.secret(*field) else {
                continue;
            };
            let equal: bool = stored
                .expose_secret()
                .as_bytes()
                .ct_eq(expected.expose_secret().as_bytes())
                .into();
            if equal {
                moved.push(Moved {
                    spot: spot.clone(),
                    account: c.name.clone(),
                    field: *field,
                });
            }
        }
    }
    moved.sort_by_key(|m| (m.spot.cut.start, m.spot.cut.end));
    moved
}

fn candidate_value(c: &ImportCandidate, field: SecretField) -> Option<&SecretString> {
    match field {
        SecretField::Password => c.password.as_ref(),
        SecretField::TotpSecret => c.totp_secret.as_ref(),
        SecretField::ClientSecret => c.client_secret.as_ref(),
        SecretField::RefreshToken => c.refresh_token.as_ref(),
        SecretField::AccessToken => None,
    }
}
