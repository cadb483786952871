//! The two imports: an export written by [`super::export`] (an age file, opened with the
//! identities of an identity file), or an Invantive settings file (`.xml`).
//!
//! The file's first bytes decide which: an age header is an export, anything else is read as a
//! settings file. The file is never opened with a blocking open: a FIFO is refused, not waited
//! on; a settings file's size is capped by [`read_settings`].
//!
//! From a settings file, every `<database>` that carries a secret becomes one account named
//! `group-connection-alias`; values on the `<database>` win over those on its `<connection>`.
//! A refresh token's idle time is counted from the file's modification time (the last time
//! Invantive could have written a rotated one), so `keychain refresh` and the report do not take
//! it for new. With `strip`, a settings file reached through a symbolic link is read at its
//! target (the strip rewrites the target, and the link stays).
//!
//! An entry that is not a valid account is [`Fate::Refused`] and the import goes on with the
//! next; an error (no key, a failed audit write) stops it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::Fate;
use crate::audit::Action;
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::invantive::{ImportCandidate, SettingsFile, read_settings};
use crate::keychain::{Keychain, OnAuditFailure};
use crate::providers::ProviderRule;
use crate::providers::ProviderSettings;
use crate::record::{Account, Header, SecretField, SecretInfo, TotpParams};
use crate::store::Expect;
use crate::totp::TotpSecret;
use crate::validate;

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// A settings file or an export.
    pub file: PathBuf,
    /// The age identity file that opens an export; refused for a settings file.
    pub identity: Option<PathBuf>,
    /// The caller strips the settings file afterwards: refused for an export, and the file is
    /// read at the target of a link.
    pub strip: bool,
    /// Overwrite accounts of the same name instead of skipping them.
    pub replace: bool,
    /// The content of `file` when it was given as `-` (then `file` only names it, e.g.
    /// "standard input"): read by the front end; a stream cannot be stripped.
    pub file_stream: Option<super::StreamBytes>,
    /// The content of `identity` when it was given as `-`.
    pub identity_stream: Option<super::StreamBytes>,
    /// For a settings file: the name of its one account, or a pattern naming each (see
    /// [`crate::invantive::rename_candidates`]); refused for an export.
    pub name: Option<String>,
}

/// What an import did: each entry's name and fate, in the file's order, and the settings file
/// as read (for a strip), when it was one.
pub struct Imported {
    /// One per entry of the file.
    pub entries: Vec<(String, Fate)>,
    /// The settings file read, or `None` for an export.
    pub settings: Option<SettingsFile>,
}

impl Imported {
    /// How many entries met a fate like `which` (compared by kind, not by text).
    pub fn count(&self, which: fn(&Fate) -> bool) -> usize {
        self.entries.iter().filter(|(_, fate)| which(fate)).count()
    }
}

/// Imports every account of `request.file` into `kc`: checked as `add` checks one, saved and
/// recorded one transaction each.
pub fn import(kc: &Keychain, request: &ImportRequest) -> Result<Imported> {
    let head = match &request.file_stream {
        Some(stream) => stream.0.iter().take(32).copied().collect(),
        None => read_head(&request.file)?,
    };
    if is_export(&head) {
        if request.strip {
            return Err(Error::usage(
                "--strip applies to settings files, not to an export",
            ));
        }
        if request.name.is_some() {
            return Err(Error::usage(
                "--name applies to a settings file; an export keeps its accounts' names",
            ));
        }
        let entries = import_export(kc, request)?;
        Ok(Imported {
            entries,
            settings: None,
        })
    } else {
        if request.identity.is_some() {
            return Err(Error::usage(
                "--identity applies to an export (.age), not to a settings file",
            ));
        }
        if request.strip && request.file_stream.is_some() {
            return Err(Error::usage_hint(
                "--strip rewrites the settings file, and standard input is not a file",
                "give the settings file's path instead of -",
            ));
        }
        let (entries, file) = import_settings(kc, request)?;
        Ok(Imported {
            entries,
            settings: Some(file),
        })
    }
}

/// Whether a file starting with `head` is an age file (binary or armored), so an export.
/// The largest export read (each account is a few KiB; a keychain holds hundreds at most).
const MAX_EXPORT_FILE: u64 = 256 * 1024 * 1024;

fn is_export(head: &[u8]) -> bool {
    head.starts_with(b"age-encryption.org/") || head.starts_with(b"-----BEGIN AGE")
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
    request: &ImportRequest,
) -> Result<(Vec<(String, Fate)>, SettingsFile)> {
    // With strip the file is rewritten: through a symbolic link that must be its target, or
    // the rename would replace the link with a copy.
    if let Some(stream) = &request.file_stream {
        let file = crate::invantive::settings_from_bytes(&request.file, &stream.0)?;
        let now = kc.now();
        return import_candidates(kc, request, file, now, now);
    }
    let path = if request.strip {
        std::fs::canonicalize(&request.file)
            .map_err(|e| Error::io(format!("cannot resolve {}", request.file.display()), e))?
    } else {
        request.file.clone()
    };
    let file = read_settings(&path)?;
    // The refresh token was written at the latest when the file was.
    let now = kc.now();
    let written = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| (d.as_secs() as i64).min(now))
        .unwrap_or(now);
    import_candidates(kc, request, file, now, written)
}

/// Saves each candidate of a settings file read; `written` is when its refresh tokens were
/// written at the latest.
fn import_candidates(
    kc: &Keychain,
    request: &ImportRequest,
    mut file: SettingsFile,
    now: i64,
    written: i64,
) -> Result<(Vec<(String, Fate)>, SettingsFile)> {
    if let Some(template) = &request.name {
        crate::invantive::rename_candidates(&mut file.candidates, template)
            .map_err(Error::usage)?;
    }
    if file.candidates.is_empty() {
        return Ok((Vec::new(), file));
    }
    kc.identity()?;
    let mut fates = Vec::new();
    for candidate in &file.candidates {
        let name = candidate.name.clone();
        let fate = match account_from(candidate, now, written) {
            Err(why) => Fate::Refused(why),
            Ok(account) => save(
                kc,
                account,
                request.replace,
                ProviderRule::FromSettings,
                &format!("{}:{}", request.file.display(), candidate.line),
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
    let kind = c.provider.ok_or_else(|| {
        "no api-url in its connection string, so the provider is unknown; add it with 'keychain add'".to_string()
    })?;
    let provider = ProviderSettings {
        client_id: c.client_id.clone(),
        redirect_uri: c.redirect_url.clone(),
        ..ProviderSettings::new(kind)
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

/// Checks an account as `add` does, then saves it (or replaces one with `replace`) and
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
    // The file's token times are on this machine's clock (an export converts them); a shared
    // keychain keeps them on the store's, heard by now (the read above asked it).
    account.header = account
        .header
        .token_times_on_records_clock(&kc.records_clock());
    let expect = if replace { Expect::Any } else { Expect::Absent };
    let event = kc.fingerprints(
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
        account.header.provider.kind.name(),
        present.join(", ")
    )))
}

/// An export's plaintext as read: its format first, then account by account.
#[derive(Deserialize)]
struct ExportIn {
    format: String,
    accounts: Vec<AccountIn>,
}

#[derive(Deserialize)]
struct AccountIn {
    /// Read account by account: a header this keychain cannot read (a provider kind a newer
    /// one wrote) refuses that account, not the whole export.
    header: serde_json::Value,
    secrets: BTreeMap<SecretField, SecretString>,
}

fn import_export(kc: &Keychain, request: &ImportRequest) -> Result<Vec<(String, Fate)>> {
    let file = &request.file;
    let identity_file = request.identity.as_deref().ok_or_else(|| {
        Error::usage_hint(
            format!(
                "{} is an encrypted export: it needs the identity to open it",
                file.display()
            ),
            "give the age identity file of the export's recipient with --identity FILE",
        )
    })?;
    let identities = match &request.identity_stream {
        Some(stream) => identities_in(identity_file, &stream.0)?,
        None => read_identities(identity_file)?,
    };
    let ciphertext = match &request.file_stream {
        Some(stream) => stream.0.to_vec(),
        None => crate::fsutil::read_regular(file, MAX_EXPORT_FILE)
            .map_err(|e| Error::io(format!("cannot read {}", file.display()), e))?,
    };
    let export = open_export(file, &ciphertext, &identities)?;
    kc.identity()?;
    let now = kc.now();
    let from = file.display().to_string();
    let mut fates = Vec::new();
    for a in export.accounts {
        let fate = match account_in(a, now) {
            Ok(account) => (
                account.header.name.clone(),
                save(kc, account, request.replace, ProviderRule::Complete, &from)?,
            ),
            Err(refused) => refused,
        };
        fates.push(fate);
    }
    Ok(fates)
}

/// Decrypts an export with the first identity that opens it and checks its format.
fn open_export(
    file: &Path,
    ciphertext: &[u8],
    identities: &[age::x25519::Identity],
) -> Result<ExportIn> {
    let plaintext = identities
        .iter()
        .find_map(|id| crate::crypto::decrypt(ciphertext, id).ok())
        .ok_or_else(|| Error::Integrity {
            path: file.to_path_buf(),
            reason: "cannot be decrypted with the given identity (another recipient's export, or damaged)".into(),
        })?;
    let export: ExportIn = serde_json::from_slice(&plaintext).map_err(|e| Error::Integrity {
        path: file.to_path_buf(),
        reason: format!(
            "not a keychain export (line {}, column {})",
            e.line(),
            e.column()
        ),
    })?;
    if export.format != super::export::FORMAT {
        return Err(Error::Integrity {
            path: file.to_path_buf(),
            reason: format!(
                "export format '{}' is not supported by this version",
                export.format
            ),
        });
    }
    Ok(export)
}

/// One exported account as an account to save, or (its name, its refusal) when its header
/// cannot be read. Ages survive the restore; a secret without its date counts from `now`.
fn account_in(a: AccountIn, now: i64) -> std::result::Result<Account, (String, Fate)> {
    let mut header: Header = serde_json::from_value(a.header.clone()).map_err(|e| {
        let name = a
            .header
            .get("name")
            .and_then(|n| n.as_str())
            .filter(|n| crate::name::is_valid(n))
            .unwrap_or("(unnamed)");
        (name.to_string(), Fate::Refused(e.to_string()))
    })?;
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
    Ok(account)
}

/// The X25519 identities of an age identity file (`#` comments allowed). An error names the
/// line, never its content.
pub fn read_identities(path: &Path) -> Result<Vec<age::x25519::Identity>> {
    // Never blocks (a FIFO is refused at once); an identity others can read is refused, as
    // `ssh` refuses such a key: it opens every export made for it.
    let file = crate::fsutil::read_secret_file(path, 1024 * 1024)
        .and_then(|f| f.private(path))
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    identities_in(path, &file.bytes)
}

/// The X25519 identities in `bytes`, the content of an identity file (`path` names it).
pub fn identities_in(path: &Path, bytes: &[u8]) -> Result<Vec<age::x25519::Identity>> {
    let text = Zeroizing::new(
        std::str::from_utf8(bytes)
            .map_err(|_| Error::usage(format!("{}: not UTF-8 text", path.display())))?
            .to_string(),
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
