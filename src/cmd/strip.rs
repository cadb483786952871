//! `keychain import SETTINGS.xml --strip`: the second half of an import, which moves the
//! plain-text secrets out of the settings file, and only those the keychain now holds.
//!
//! Each account is read back from the keychain (after its save) and each value compared with
//! the file's in constant time; only equal values are cut, one by one, through
//! `audit::scan::strip_spots` (which refuses a file changed meanwhile and checks what it cut).
//! Each value moved and each left is named, never shown. The path given may be a symbolic
//! link: the import resolved it, so the target is rewritten and the link stays.

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use crate::audit::Event;
use crate::audit::scan::{ImportCandidate, SettingsFile, Spot, strip_spots};
use crate::error::Result;
use crate::keychain::Keychain;
use crate::record::SecretField;
use crate::totp::TotpSecret;
use crate::trail::{self, Action};

/// `--strip`: removes from the settings file exactly the values read back from the keychain
/// and found equal, reports each value moved and each left, and records the strip. Returns
/// whether every secret of the file was moved.
pub fn run(kc: &Keychain, given: &Path, file: &SettingsFile) -> Result<bool> {
    let moved = verified_spots(kc, &file.candidates);
    let left: Vec<&Spot> = file
        .spots
        .iter()
        .filter(|s| !moved.iter().any(|(m, _, _)| m == *s))
        .collect();
    let shown = file.path.display();
    let mut report = String::new();
    for (spot, account, field) in &moved {
        report.push_str(&format!(
            "moved     {shown}:{}  {}  to {account} {field}\n",
            spot.line, spot.key
        ));
    }
    for spot in &left {
        report.push_str(&format!(
            "left      {shown}:{}  {}  (not in the keychain with this value)\n",
            spot.line, spot.key
        ));
    }
    crate::output::after_save(crate::output::out(&report));
    if std::fs::symlink_metadata(given).is_ok_and(|m| m.file_type().is_symlink()) {
        crate::output::after_save(crate::output::err(&format!(
            "note: {} is a symbolic link; its target {shown} is the file rewritten, and the link stays.\n",
            given.display()
        )));
    }
    if moved.is_empty() {
        crate::output::after_save(crate::output::err(&format!(
            "warning: {shown} was not stripped: none of its secrets is in the keychain with the value it has in the file\n"
        )));
        return Ok(left.is_empty());
    }
    let spots: Vec<Spot> = moved.iter().map(|(s, _, _)| s.clone()).collect();
    // Recorded before the file changes (fail closed: no audit, no strip), naming each value by
    // line and key, never by content.
    let named: Vec<String> = moved
        .iter()
        .map(|(s, account, field)| format!("{}:{} to {account} {field}", s.line, s.key))
        .collect();
    trail::record(
        kc,
        Event::new(
            format!(
                "import --strip {shown}: moved {}; {} left",
                named.join(", "),
                left.len()
            ),
            Action::Import,
        ),
    )?;
    let backup = strip_spots(&file.path, &file.text, &spots, kc.now())?;
    crate::output::after_save(crate::output::err(&format!(
        "Removed {} from {shown}. The original is kept as {} (mode 0600): it still holds them; delete it once the import is checked.\n",
        crate::output::count(moved.len(), "value", "values"),
        backup.display()
    )));
    if !left.is_empty() {
        crate::output::after_save(crate::output::err(&format!(
            "warning: {} left in {shown}: import them (--replace for existing accounts, or by hand) and strip again\n",
            match left.len() {
                1 => "1 secret was".to_string(),
                n => format!("{n} secrets were"),
            }
        )));
    }
    Ok(left.is_empty())
}

/// The spots whose value the keychain now holds: each account is read back (after the save)
/// and each of its values compared with the file's, in constant time. The TOTP secret is
/// compared in its canonical base32 form, which is how it is stored. A spot taken by several
/// accounts counts once, for the first account that holds it.
fn verified_spots(
    kc: &Keychain,
    candidates: &[ImportCandidate],
) -> Vec<(Spot, String, SecretField)> {
    use subtle::ConstantTimeEq;
    let mut moved: Vec<(Spot, String, SecretField)> = Vec::new();
    for c in candidates {
        if kc.store().read(&c.name).ok().flatten().is_none() {
            continue;
        }
        // An account that cannot be opened holds nothing we can vouch for.
        let Ok((account, _)) = kc.read(&c.name) else {
            continue;
        };
        for (field, spot) in &c.spots {
            if moved.iter().any(|(m, _, _)| m == spot) {
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
                moved.push((spot.clone(), c.name.clone(), *field));
            }
        }
    }
    moved.sort_by_key(|(s, _, _)| (s.cut.start, s.cut.end));
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
