//! `keychain import FILE`: accounts from an Invantive settings file (`.xml`), or an export
//! written by `keychain export` (an age file, opened with `--identity FILE`).
//!
//! From a settings file, every `<database>` that carries a secret becomes one account named
//! `group-connection-alias`; values on the `<database>` win over those on its `<connection>`.
//! The report says what was imported, skipped (exists) or refused, and why. A refresh token's
//! idle time is counted from the file's modification time (the last time Invantive could have
//! written a rotated one), so `keychain refresh` and the report do not take it for new.
//!
//! `--strip` then removes from the file exactly the values it reads back from the keychain and
//! finds equal (compared in constant time), one by one, and names each value moved and each
//! left; anything left makes the exit code 2. A settings file reached through a symbolic link
//! is rewritten at its target, and the link stays.
//!
//! Every account is checked by `crate::validate` exactly as `add` checks one (an export is
//! outside input: anyone with the officer's public key can write one), then saved and recorded
//! (with fingerprints) in one transaction (`Keychain::commit`): a failed audit write undoes that
//! account and stops the import.

use std::collections::BTreeMap;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::audit::Event;
use crate::audit::scan::{ImportCandidate, SettingsFile, read_settings};
use crate::cli::ImportArgs;
use crate::error::{Error, Result, exit};
use crate::keychain::Keychain;
use crate::keychain::OnAuditFailure;
use crate::record::{Account, Header, Provider, SecretField, SecretInfo, TotpParams};
use crate::store::Expect;
use crate::totp::TotpSecret;
use crate::trail::{self, Action};
use crate::validate::{self, ProviderRule};

use super::scan::scan_error;

/// What happened to one account.
enum Fate {
    Imported(String),
    Skipped(String),
    Refused(String),
}

pub fn run(kc: &Keychain, args: ImportArgs, json: bool) -> Result<crate::outcome::Outcome> {
    let head = read_head(&args.file)?;
    let age = head.starts_with(b"age-encryption.org/") || head.starts_with(b"-----BEGIN AGE");
    let (fates, settings) = if age {
        if args.strip {
            return Err(Error::usage(
                "--strip applies to settings files, not to an export",
            ));
        }
        (import_export(kc, &args)?, None)
    } else {
        if args.identity.is_some() {
            return Err(Error::usage(
                "--identity applies to an export (.age), not to a settings file",
            ));
        }
        let (fates, file) = import_settings(kc, &args)?;
        (fates, Some(file))
    };

    let mut report = String::new();
    if json {
        let accounts: Vec<serde_json::Value> = fates
            .iter()
            .map(|(name, fate)| {
                let (result, detail) = match fate {
                    Fate::Imported(what) => ("imported", what),
                    Fate::Skipped(why) => ("skipped", why),
                    Fate::Refused(why) => ("refused", why),
                };
                serde_json::json!({ "name": name, "result": result, "detail": detail })
            })
            .collect();
        report = crate::json::document(serde_json::json!({
            "file": args.file.display().to_string(),
            "accounts": accounts,
        }));
    }
    for (name, fate) in fates.iter().filter(|_| !json) {
        let row = match fate {
            Fate::Imported(what) => format!("imported  {name}  {what}"),
            Fate::Skipped(why) => format!("skipped   {name}  {why}"),
            Fate::Refused(why) => format!("refused   {name}  {why}"),
        };
        // Names and reasons come from the imported file: one row each, whatever they hold.
        report.push_str(&format!("{}\n", crate::output::escape_value(&row)));
    }
    crate::output::after_save(if json {
        crate::output::raw(report.as_bytes())
    } else {
        crate::output::out(&report)
    });
    let count = |f: fn(&Fate) -> bool| fates.iter().filter(|(_, x)| f(x)).count();
    let (imported, skipped, refused) = (
        count(|f| matches!(f, Fate::Imported(_))),
        count(|f| matches!(f, Fate::Skipped(_))),
        count(|f| matches!(f, Fate::Refused(_))),
    );
    crate::output::after_save(crate::output::err(&format!(
        "{imported} imported, {skipped} skipped, {refused} refused from {}.\n",
        args.file.display()
    )));

    let all_moved = match settings {
        Some(file) if args.strip => super::strip::run(kc, &args.file, &file)?,
        _ => true,
    };
    Ok(if refused > 0 || !all_moved {
        crate::outcome::Outcome::Failed(exit::USAGE)
    } else {
        crate::outcome::Outcome::Success
    })
}

fn read_head(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(32);
    // Never a blocking open: a FIFO given as FILE is refused, not waited on.
    crate::fsutil::open_regular(path)
        .and_then(|f| f.take(32).read_to_end(&mut head))
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    Ok(head)
}

fn import_settings(
    kc: &Keychain,
    args: &ImportArgs,
) -> Result<(Vec<(String, Fate)>, SettingsFile)> {
    // With --strip the file is rewritten: through a symbolic link that must be its target, or
    // the rename would replace the link with a copy.
    let path = if args.strip {
        std::fs::canonicalize(&args.file)
            .map_err(|e| Error::io(format!("cannot resolve {}", args.file.display()), e))?
    } else {
        args.file.clone()
    };
    let file = read_settings(&path).map_err(scan_error)?;
    if file.candidates.is_empty() {
        return Ok((Vec::new(), file));
    }
    // The refresh token was written at the latest when the file was.
    let now = crate::clock::now();
    let written = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| (d.as_secs() as i64).min(now))
        .unwrap_or(now);
    kc.identity()?;
    let mut fates = Vec::new();
    for candidate in &file.candidates {
        let name = candidate.name.clone();
        let fate = match account_from(candidate, now, written) {
            Err(why) => Fate::Refused(why),
            Ok(account) => save(
                kc,
                account,
                args.replace,
                ProviderRule::FromSettings,
                &format!("{}:{}", args.file.display(), candidate.line),
            )?,
        };
        fates.push((name, fate));
    }
    Ok((fates, file))
}

/// An account from one `<database>`; `Err` says in words why it cannot be one.
fn account_from(
    c: &ImportCandidate,
    now: i64,
    written: i64,
) -> std::result::Result<Account, String> {
    let kind = c.provider.clone().ok_or_else(|| {
        "no api-url in its connection string, so the provider is unknown; add it with 'keychain add'".to_string()
    })?;
    let provider = Provider {
        kind,
        client_id: c.client_id.clone(),
        redirect_uri: c.redirect_url.clone(),
        ..Provider::default()
    };
    let user = c.user.clone().unwrap_or_default();
    let mut account = Account::new(Header::new(&c.name, provider, user, now));
    if let Some(pw) = &c.password {
        account.set_secret(SecretField::Password, Some(pw.clone()), now);
    }
    if let Some(text) = &c.totp_secret {
        let totp = TotpSecret::parse(text.expose_secret())
            .map_err(|e| format!("its totp-secret is not usable ({e})"))?;
        account.header.totp = Some(TotpParams {
            algorithm: totp.algorithm,
            digits: totp.digits,
            period: totp.period,
            issuer: totp.issuer.clone(),
            label: totp.label.clone(),
        });
        account.set_secret(SecretField::TotpSecret, Some(totp.secret_base32()), now);
    }
    if let Some(cs) = &c.client_secret {
        account.set_secret(SecretField::ClientSecret, Some(cs.clone()), now);
    }
    if let Some(rt) = &c.refresh_token {
        account.set_secret(SecretField::RefreshToken, Some(rt.clone()), written);
        account.header.refresh_token_active = Some(written);
    }
    account.header.updated = now;
    Ok(account)
}

/// Checks an account as `add` does, then saves it (or replaces one with `--replace`) and
/// records it.
fn save(
    kc: &Keychain,
    mut account: Account,
    replace: bool,
    rule: ProviderRule,
    from: &str,
) -> Result<Fate> {
    let name = account.header.name.clone();
    if let Err(invalid) = validate::account(&account, rule) {
        return Ok(Fate::Refused(invalid.to_string()));
    }
    if !replace && kc.store().read(&name)?.is_some() {
        return Ok(Fate::Skipped(
            "an account of this name exists (use --replace to overwrite it)".into(),
        ));
    }
    let lock = kc.lock(&name)?;
    let expect = if replace { Expect::Any } else { Expect::Absent };
    let event = trail::fingerprints(
        kc,
        &account,
        Event::new(format!("import from {from}"), Action::Import).account(&name),
    )?;
    kc.commit(
        &*lock,
        expect,
        &mut account,
        vec![event],
        OnAuditFailure::Undo,
    )?;
    let present: Vec<&str> = account.header.secrets.keys().map(|f| f.as_str()).collect();
    let user = if account.header.user.is_empty() {
        "no user".to_string()
    } else {
        format!("user {}", account.header.user)
    };
    Ok(Fate::Imported(format!(
        "({}, {user}; {}) from {from}",
        account.header.provider.kind,
        present.join(", ")
    )))
}

#[derive(Deserialize)]
struct ExportIn {
    format: String,
    accounts: Vec<AccountIn>,
}

#[derive(Deserialize)]
struct AccountIn {
    header: Header,
    secrets: BTreeMap<SecretField, SecretString>,
}

fn import_export(kc: &Keychain, args: &ImportArgs) -> Result<Vec<(String, Fate)>> {
    let identity_file = args.identity.as_deref().ok_or_else(|| {
        Error::usage_hint(
            format!(
                "{} is an encrypted export: it needs the identity to open it",
                args.file.display()
            ),
            "give the age identity file of the export's recipient with --identity FILE",
        )
    })?;
    let identities = read_identities(identity_file)?;
    let ciphertext = std::fs::read(&args.file)
        .map_err(|e| Error::io(format!("cannot read {}", args.file.display()), e))?;
    let plaintext = identities
        .iter()
        .find_map(|id| crate::crypto::decrypt(&ciphertext, id).ok())
        .ok_or_else(|| Error::Integrity {
            path: args.file.clone(),
            reason: "cannot be decrypted with the given identity (another recipient's export, or damaged)".into(),
        })?;
    let export: ExportIn = serde_json::from_slice(&plaintext).map_err(|e| Error::Integrity {
        path: args.file.clone(),
        reason: format!(
            "not a keychain export (line {}, column {})",
            e.line(),
            e.column()
        ),
    })?;
    drop(plaintext);
    if export.format != super::export::FORMAT {
        return Err(Error::Integrity {
            path: args.file.clone(),
            reason: format!(
                "export format '{}' is not supported by this version",
                export.format
            ),
        });
    }
    kc.identity()?;
    let now = crate::clock::now();
    let from = args.file.display().to_string();
    let mut fates = Vec::new();
    for a in export.accounts {
        let name = a.header.name.clone();
        let mut header = a.header;
        // Ages survive the restore; a secret without its date counts from now.
        header.secrets.retain(|f, _| a.secrets.contains_key(f));
        let mut account = Account::new(header.clone());
        for (field, value) in a.secrets {
            account.set_secret(field, Some(value), now);
            header
                .secrets
                .entry(field)
                .or_insert(SecretInfo { changed: now });
        }
        account.header = header;
        fates.push((
            name,
            save(kc, account, args.replace, ProviderRule::Complete, &from)?,
        ));
    }
    Ok(fates)
}

/// The X25519 identities of an age identity file (`#` comments allowed). An error names the
/// line, never its content.
fn read_identities(path: &Path) -> Result<Vec<age::x25519::Identity>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?,
    );
    let mut identities = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        identities.push(crate::keystore::file::parse_identity(line).ok_or_else(|| {
            Error::usage_hint(
                format!("{} line {}: not an age identity", path.display(), i + 1),
                "an identity file holds lines starting with AGE-SECRET-KEY-1 (as age-keygen writes them)",
            )
        })?);
    }
    if identities.is_empty() {
        return Err(Error::usage(format!(
            "{} holds no age identity",
            path.display()
        )));
    }
    Ok(identities)
}
