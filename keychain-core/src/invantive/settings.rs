//! Reading an Invantive settings file for import: one candidate account per `<database>` that
//! carries a secret, with every secret's [`Spot`] for a later strip.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use zeroize::Zeroizing;

use super::connstr;
use super::error::ScanError;
use super::xml::{
    ElementSecret, Spot, document_secrets, element_secrets, local_is, parse_xml, read_text,
};
use crate::record::SecretField;

/// One `<database>` of a settings file that carries secrets, ready to become an account.
#[derive(Debug)]
pub struct ImportCandidate {
    /// The settings file it was read from.
    pub file: PathBuf,
    /// Line of the `<database>` (or `<connection>`) element.
    pub line: usize,
    /// Suggested account name: `group-connection-alias`, slugified.
    pub name: String,
    /// The Invantive group's name (`<group name=...>`), if any.
    pub group: Option<String>,
    /// The connection's name (`<connection name=...>`), if any.
    pub connection: Option<String>,
    /// The database's alias (`<database alias=...>`), if any.
    pub alias: Option<String>,
    /// Invantive's data provider (`provider` attribute), e.g. `ExactOnlineAll`.
    pub data_provider: Option<String>,
    /// keychain's provider: `exact-nl`, `exact-be`, ... or `oauth2` for any other `api-url`;
    /// `None` without an `api-url` (ask the user).
    pub provider: Option<crate::providers::ProviderKind>,
    /// The `api-url` as written: the provider's API, from which `provider` was derived.
    pub api_url: Option<String>,
    /// The OAuth2 client id (`api-client-id`).
    pub client_id: Option<String>,
    /// The OAuth2 redirect URI (`api-redirect-url`).
    pub redirect_url: Option<String>,
    /// The user name to log on with.
    pub user: Option<String>,
    /// The password, a secret from the moment it is parsed.
    pub password: Option<SecretString>,
    /// The TOTP seed (`totp-secret`), as written (base32 or a URI).
    pub totp_secret: Option<SecretString>,
    /// The OAuth2 client secret (`api-client-secret`).
    pub client_secret: Option<SecretString>,
    /// A refresh token (`api-refresh-token`); single-use at Exact Online, so one the file
    /// still holds may already be spent.
    pub refresh_token: Option<SecretString>,
    /// Where each secret above was taken from, so that `--strip` can remove exactly the values
    /// found in the keychain afterwards.
    pub spots: Vec<(SecretField, Spot)>,
}

/// A settings file as read for import: its text (which holds the secrets, so it is wiped when
/// dropped), the accounts it describes, and every plain-text secret in it.
pub struct SettingsFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its whole text, wiped when dropped; [`Spot::cut`] ranges index into it.
    pub text: Zeroizing<String>,
    /// One per `<database>` that carries secrets.
    pub candidates: Vec<ImportCandidate>,
    /// Every secret of the file (also those no candidate took, such as an overridden
    /// connection-level password or a `<credentials>` password), sorted by position.
    pub spots: Vec<Spot>,
}

/// Reads an Invantive settings file into import candidates: one per `<database>` that carries
/// a secret (its own or its connection's).
pub fn parse_settings(path: &Path) -> Result<Vec<ImportCandidate>, ScanError> {
    Ok(read_settings(path)?.candidates)
}

/// Which attribute or connection-string key holds each secret field (compared
/// case-insensitively). Invantive allows `defaultUserLogonCode` and `defaultPassword` on both
/// `<connection>` and `<database>`; its documented "background provider" setup for Exact
/// Online puts them on `<database>`, beside the `connectionString`.
pub(super) const FIELD_KEYS: &[(SecretField, &str, bool)] = &[
    // (field, key, true = a connection-string pair; false = an attribute)
    (SecretField::Password, "password", true),
    (SecretField::Password, "defaultPassword", false),
    (SecretField::TotpSecret, "totp-secret", true),
    (SecretField::ClientSecret, "api-client-secret", true),
    (SecretField::RefreshToken, "api-refresh-token", true),
];

/// Reads a settings file for import. For each `<database>` (or a `<connection>` without any),
/// every value is looked up on the `<database>` first and on its `<connection>` second, the
/// `<database>` winning: the logon code (`defaultUserLogonCode`), the password (a `password`
/// pair, then `defaultPassword`), the connection-string pairs (`api-url`, `api-client-id`,
/// `api-redirect-url`, `totp-secret`, `api-client-secret`, `api-refresh-token`). Within one
/// connection string the last pair of a key wins, as in a driver.
pub fn read_settings(path: &Path) -> Result<SettingsFile, ScanError> {
    settings_from_text(path, Zeroizing::new(read_text(path)?))
}

/// As [`read_settings`], for a settings file read from a stream: `label` names it in messages
/// (e.g. "standard input").
pub fn settings_from_bytes(label: &Path, bytes: &[u8]) -> Result<SettingsFile, ScanError> {
    let text = super::xml::text_of(label, bytes)?;
    settings_from_text(label, text)
}

fn settings_from_text(path: &Path, text: Zeroizing<String>) -> Result<SettingsFile, ScanError> {
    let doc = parse_xml(path, &text)?;
    let mut spots: Vec<Spot> = document_secrets(path, &doc)?
        .into_iter()
        .map(|s| s.spot)
        .collect();
    spots.sort_by_key(|s| (s.cut.start, s.cut.end));
    let mut candidates: Vec<ImportCandidate> = Vec::new();
    for conn in doc
        .descendants()
        .filter(|n| n.is_element() && local_is(n.tag_name().name(), "connection"))
    {
        let group = conn
            .ancestors()
            .find(|n| n.is_element() && local_is(n.tag_name().name(), "group"))
            .and_then(|g| attr(g, "name"));
        let databases: Vec<_> = conn
            .descendants()
            .filter(|n| n.is_element() && local_is(n.tag_name().name(), "database"))
            .collect();
        // A connection with a password but no <database> still yields one candidate.
        let sources: Vec<Option<roxmltree::Node<'_, '_>>> = if databases.is_empty() {
            vec![None]
        } else {
            databases.into_iter().map(Some).collect()
        };
        let conn_secrets = element_secrets(path, &doc, conn)?;
        let conn_pairs_text = attr(conn, "connectionString").unwrap_or_default();
        let conn_pairs = connstr::parse(&conn_pairs_text);
        for db in sources {
            let db_secrets = match db {
                Some(d) => element_secrets(path, &doc, d)?,
                None => Vec::new(),
            };
            let db_pairs_text = db
                .and_then(|d| attr(d, "connectionString"))
                .unwrap_or_default();
            let db_pairs = connstr::parse(&db_pairs_text);
            // A plain (non-secret) connection-string value, the <database>'s winning.
            let get = |key: &str| {
                [&db_pairs, &conn_pairs].into_iter().find_map(|pairs| {
                    pairs
                        .iter()
                        .rev()
                        .find(|p| p.key.eq_ignore_ascii_case(key) && !p.value.is_empty())
                        .map(|p| p.value.clone())
                })
            };
            // A secret, with the spot it came from.
            let secret = |field: SecretField| -> Option<(&ElementSecret, SecretField)> {
                [&db_secrets, &conn_secrets]
                    .into_iter()
                    .find_map(|secrets| {
                        FIELD_KEYS.iter().filter(|(f, _, _)| *f == field).find_map(
                            |(_, key, in_cs)| {
                                secrets.iter().rev().find(|s| {
                                    s.in_connection_string == *in_cs
                                        && s.spot.key.eq_ignore_ascii_case(key)
                                })
                            },
                        )
                    })
                    .map(|s| (s, field))
            };
            let found: Vec<(&ElementSecret, SecretField)> = [
                SecretField::Password,
                SecretField::TotpSecret,
                SecretField::ClientSecret,
                SecretField::RefreshToken,
            ]
            .into_iter()
            .filter_map(secret)
            .collect();
            if found.is_empty() {
                continue;
            }
            let value = |field: SecretField| {
                found
                    .iter()
                    .find(|(_, f)| *f == field)
                    .map(|(s, _)| s.value.clone())
            };
            let connection = attr(conn, "name");
            let alias = db.and_then(|d| attr(d, "alias"));
            let api_url = get("api-url");
            let base = slugify(&[
                group.as_deref().unwrap_or(""),
                connection.as_deref().unwrap_or(""),
                alias.as_deref().unwrap_or(""),
            ]);
            let base = if base.is_empty() {
                "imported".to_string()
            } else {
                base
            };
            let name = unique_name(&base, &candidates);
            let node = db.unwrap_or(conn);
            candidates.push(ImportCandidate {
                file: path.to_path_buf(),
                line: doc.text_pos_at(node.range().start).row as usize,
                name,
                group: group.clone(),
                connection,
                alias,
                data_provider: db.and_then(|d| attr(d, "provider")),
                provider: api_url.as_deref().map(crate::providers::for_api_url),
                api_url,
                client_id: get("api-client-id"),
                redirect_url: get("api-redirect-url"),
                user: db
                    .and_then(|d| attr(d, "defaultUserLogonCode"))
                    .or_else(|| attr(conn, "defaultUserLogonCode")),
                password: value(SecretField::Password),
                totp_secret: value(SecretField::TotpSecret),
                client_secret: value(SecretField::ClientSecret),
                refresh_token: value(SecretField::RefreshToken),
                spots: found
                    .iter()
                    .map(|(s, field)| (*field, s.spot.clone()))
                    .collect(),
            });
        }
    }
    Ok(SettingsFile {
        path: path.to_path_buf(),
        candidates,
        spots,
        text,
    })
}

pub(super) fn attr(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    node.attributes()
        .find(|a| local_is(a.name(), name))
        .map(|a| a.value().to_string())
        .filter(|v| !v.is_empty())
}

pub(super) fn unique_name(base: &str, taken: &[ImportCandidate]) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while taken.iter().any(|c| c.name == name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// Lower-case ASCII letters and digits joined by single dashes, each word once: a word already
/// said by an earlier part is left out, so a group named after the provider does not repeat it
/// (`["Exact", "Exact Online NL", "eol"]` → `exact-online-nl-eol`, not
/// `exact-exact-online-nl-eol`).
pub fn slugify(parts: &[&str]) -> String {
    let mut words: Vec<String> = Vec::new();
    for part in parts {
        let earlier = words.len();
        for word in part
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
        {
            if !words[..earlier].contains(&word) {
                words.push(word);
            }
        }
    }
    words.join("-")
}

/// Names the candidates of a settings file by `template`: with placeholders (`{group}`,
/// `{connection}`, `{alias}`, each slugified; `{n}` the candidate's number from 1), a pattern
/// for every candidate; without, a literal name, which fits a file holding one account only.
/// Names made twice get `-2`, `-3`, ...
pub fn rename_candidates(candidates: &mut [ImportCandidate], template: &str) -> Result<(), String> {
    let pattern = template.contains('{');
    if !pattern && candidates.len() > 1 {
        return Err(format!(
            "--name {template} names one account, and the file holds {}: give a pattern such as '{{connection}}-{{alias}}' (placeholders {{group}}, {{connection}}, {{alias}}, {{n}})",
            candidates.len()
        ));
    }
    let mut named: Vec<String> = Vec::with_capacity(candidates.len());
    for (i, c) in candidates.iter_mut().enumerate() {
        let base = template
            .replace("{group}", &slugify(&[c.group.as_deref().unwrap_or("")]))
            .replace(
                "{connection}",
                &slugify(&[c.connection.as_deref().unwrap_or("")]),
            )
            .replace("{alias}", &slugify(&[c.alias.as_deref().unwrap_or("")]))
            .replace("{n}", &(i + 1).to_string());
        if let Some(unknown) = base.find('{') {
            return Err(format!(
                "--name {template}: unknown placeholder at '{}'; use {{group}}, {{connection}}, {{alias}} or {{n}}",
                &base[unknown..]
            ));
        }
        // A placeholder that was empty leaves doubled or trailing dashes: tidied.
        let base = base
            .split('-')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let mut name = base.clone();
        let mut n = 2;
        while named.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        named.push(name.clone());
        c.name = name;
    }
    Ok(())
}
