//! Duplicate passwords and TOTP secrets, found by keyed fingerprints of the opened records.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::keychain::Keychain;
use crate::record::{Header, SecretField};

use super::{Finding, Severity};

/// Opens every record and compares fingerprints of passwords and TOTP secrets, never values.
pub(super) fn duplicate_findings(
    kc: &Keychain,
    headers: &[Header],
    out: &mut Vec<Finding>,
) -> Result<()> {
    let fields = [
        (SecretField::Password, "duplicate-password", "password"),
        (
            SecretField::TotpSecret,
            "duplicate-totp-secret",
            "TOTP secret",
        ),
    ];
    let mut seen: BTreeMap<(SecretField, String), Vec<String>> = BTreeMap::new();
    let names: Vec<String> = headers.iter().map(|h| h.name.clone()).collect();
    let opened = kc.read_many(&names)?;
    let key = kc.fingerprint_key()?;
    for (h, opened) in headers.iter().zip(opened) {
        let account = match opened {
            Ok(account) => account,
            // Reported by `replay_findings`.
            Err(crate::error::Error::Replayed { .. }) => continue,
            Err(e) => {
                out.push(Finding::new(
                    Severity::Critical,
                    "record-unreadable",
                    Some(&h.name),
                    format!("the record cannot be opened with the key: {e}"),
                ));
                continue;
            }
        };
        for (field, _, _) in fields {
            if let Some(value) = account.secret(field) {
                let fp = crate::audit::fingerprint(&key, field.as_str(), value);
                seen.entry((field, fp)).or_default().push(h.name.clone());
            }
        }
    }
    for ((field, _), mut names) in seen {
        if names.len() < 2 {
            continue;
        }
        names.sort();
        let (_, code, label) = fields.iter().find(|(f, _, _)| *f == field).expect("listed");
        out.push(Finding::of_accounts(
            Severity::High,
            code,
            names.clone(),
            format!(
                "the same {label} is stored in {} accounts: {}",
                names.len(),
                names.join(", ")
            ),
        ));
    }
    Ok(())
}
