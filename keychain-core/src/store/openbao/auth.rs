//! Where this machine's OpenBao token comes from: `BAO_TOKEN`/`VAULT_TOKEN`, a token file, or
//! an AppRole login with a role id and a secret id read from their files. Only the files' paths
//! are configured; every secret is read when needed and held as a `SecretString`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use secrecy::SecretString;
use serde::Deserialize;

use super::error::BaoError;
use super::settings::AuthSettings;

/// Largest token, role id or secret id file read.
const MAX_CREDENTIAL_FILE: u64 = 64 * 1024;

pub(super) enum Auth {
    /// A token given from outside (environment or file); not renewable by us.
    Static { source: TokenSource },
    AppRole {
        role_id_file: PathBuf,
        secret_id_file: PathBuf,
    },
}

pub(super) enum TokenSource {
    Env(&'static str),
    File(PathBuf),
}

pub(super) struct Token {
    pub secret: SecretString,
    /// When a login's token must no longer be used (TTL less a margin); `None` for a token
    /// given from outside, whose TTL we do not know.
    pub use_until: Option<Instant>,
}

/// What `auth/approle/login` answers (only what is used).
#[derive(Deserialize)]
pub(super) struct LoginAnswer {
    pub auth: LoginAuth,
}

#[derive(Deserialize)]
pub(super) struct LoginAuth {
    pub client_token: SecretString,
    #[serde(default)]
    pub lease_duration: u64,
}

impl Auth {
    pub fn from_settings(settings: &AuthSettings) -> Result<Auth, BaoError> {
        Ok(match settings {
            AuthSettings::Environment => Auth::Static {
                source: env_token_source()?,
            },
            AuthSettings::TokenFile { token_file } => Auth::Static {
                source: TokenSource::File(token_file.clone()),
            },
            AuthSettings::AppRole {
                role_id_file,
                secret_id_file,
            } => Auth::AppRole {
                role_id_file: role_id_file.clone(),
                secret_id_file: secret_id_file.clone(),
            },
        })
    }

    /// Whether logging in again can give another token: AppRole can, and a token file may have
    /// been rewritten by an agent meanwhile; the environment cannot change.
    pub fn can_relogin(&self) -> bool {
        match self {
            Auth::AppRole { .. } => true,
            Auth::Static { source } => matches!(source, TokenSource::File(_)),
        }
    }
}

impl TokenSource {
    /// The token, read now (a file is re-read at every login: an agent may rotate it).
    pub fn read(&self) -> Result<SecretString, BaoError> {
        match self {
            TokenSource::Env(var) => std::env::var(var)
                .ok()
                .filter(|t| !t.trim().is_empty())
                .map(|t| SecretString::from(t.trim().to_string()))
                .ok_or_else(|| BaoError::NoToken(format!("{var} is no longer set"))),
            TokenSource::File(path) => read_credential(path, "token"),
        }
    }
}

/// `BAO_TOKEN`, else `VAULT_TOKEN`: which one is set (checked now, read at each login).
fn env_token_source() -> Result<TokenSource, BaoError> {
    for var in ["BAO_TOKEN", "VAULT_TOKEN"] {
        if std::env::var(var).is_ok_and(|v| !v.trim().is_empty()) {
            return Ok(TokenSource::Env(var));
        }
    }
    Err(BaoError::NoToken(
        "BAO_TOKEN and VAULT_TOKEN are not set and the keychain names no token file or AppRole"
            .into(),
    ))
}

/// The first line of a credential file, refused when another user could write it or anyone
/// could read it (group read is allowed: an OpenBao agent's sink file is 0640 by default).
pub(super) fn read_credential(path: &Path, what: &str) -> Result<SecretString, BaoError> {
    let cannot = |detail: String| {
        BaoError::NoToken(format!(
            "cannot read the {what} file {}: {detail}",
            path.display()
        ))
    };
    let file = crate::fsutil::open_regular(path).map_err(|e| cannot(e.to_string()))?;
    let meta = file.metadata().map_err(|e| cannot(e.to_string()))?;
    if let Some((detail, _)) = crate::fsutil::writable_by_others(path, &meta) {
        return Err(cannot(detail));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.mode() & 0o004 != 0 {
            return Err(cannot(format!(
                "every user can read it (mode {:04o}); run: chmod 600 {}",
                meta.mode() & 0o7777,
                path.display()
            )));
        }
    }
    let bytes = zeroize::Zeroizing::new(
        crate::fsutil::read_capped(file, meta.len(), MAX_CREDENTIAL_FILE)
            .map_err(|e| cannot(e.to_string()))?,
    );
    let text = std::str::from_utf8(&bytes).map_err(|_| cannot("not UTF-8 text".into()))?;
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Err(cannot("it is empty".into()));
    }
    Ok(SecretString::from(line.to_string()))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::os::unix::fs::PermissionsExt;

    /// Issue 25, item 6: the OpenBao token and AppRole files are secret inputs too: a FIFO fails
    /// at once, a file every user can read is refused, a private one is read.
    #[test]
    fn a_credential_file_that_is_a_fifo_or_world_readable_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("token");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let started = std::time::Instant::now();
        let err = read_credential(&fifo, "token").err().unwrap().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));

        let file = tmp.path().join("secret-id");
        std::fs::write(&file, "s.canary-token\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_credential(&file, "secret id")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let token = read_credential(&file, "secret id").unwrap();
        assert_eq!(token.expose_secret(), "s.canary-token");
    }
}
