//! Where a shared keychain lives on OpenBao and how this machine logs in to it.
//!
//! Kept in `config.json` (and so covered by its MAC): the address, the KV v2 mount, the prefix
//! under it, a private CA's certificate file, and for authentication only the *paths* of the
//! files that hold a token or an AppRole's role and secret id. A secret never goes into the
//! configuration: it is read from its file (or `BAO_TOKEN`/`VAULT_TOKEN`) on every run.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use url::Url;

/// A shared store's place and login, as `keychain init --store openbao` recorded them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenBaoSettings {
    /// `https://host:port` (`http` only on loopback).
    pub addr: String,
    /// The KV version 2 mount, e.g. `keychain`.
    pub mount: String,
    /// The prefix under the mount that holds this keychain: `PREFIX/records/NAME`,
    /// `PREFIX/locks/NAME`.
    pub path: String,
    /// A PEM file with the certificate of a private CA that signed the server's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// How to obtain a token.
    #[serde(default)]
    pub auth: AuthSettings,
}

/// How to obtain a token; files are read at each run, so a rotated file is picked up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AuthSettings {
    /// `BAO_TOKEN`, else `VAULT_TOKEN`, from the environment of each run.
    #[default]
    Environment,
    /// A file whose first line is a token (e.g. written by an OpenBao agent).
    TokenFile {
        /// The file; refused when others can write it or everyone can read it. Only its path is
        /// stored.
        token_file: PathBuf,
    },
    /// AppRole login with a role id and a secret id, each from its own file.
    AppRole {
        /// The file holding the role id.
        role_id_file: PathBuf,
        /// The file holding the secret id (checked as `token_file` is). Only its path is stored.
        secret_id_file: PathBuf,
    },
}

impl OpenBaoSettings {
    /// Checks every field; the message says what to change.
    pub fn validate(&self) -> Result<Url, String> {
        let url = check_address(&self.addr)?;
        check_segments("mount", &self.mount)?;
        check_segments("path", &self.path)?;
        Ok(url)
    }

    /// `host[:port]` of the address, for locations like `openbao://host/mount/path/NAME`.
    pub fn host(&self) -> String {
        match Url::parse(&self.addr) {
            Ok(url) => match (url.host_str(), url.port()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.to_string(),
                _ => self.addr.clone(),
            },
            Err(_) => self.addr.clone(),
        }
    }
}

/// The server's base URL: https, or http on a loopback address only (a token and every record
/// would otherwise cross the network in the clear).
pub fn check_address(addr: &str) -> Result<Url, String> {
    let url = Url::parse(addr.trim()).map_err(|e| {
        format!("'{addr}' is not an OpenBao address ({e}): give it as https://HOST:PORT")
    })?;
    if url.username() != "" || url.password().is_some() {
        return Err("the OpenBao address must not carry a user name or password".into());
    }
    if url.query().is_some() || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
        return Err(format!(
            "'{addr}' has a path or query: give only https://HOST:PORT"
        ));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "'{addr}' is plain http to a host that is not loopback: tokens and records would cross the network in the clear; use https (with --ca-cert for a private CA)"
        )),
        other => Err(format!(
            "'{addr}' uses '{other}': give the OpenBao address as https://HOST:PORT"
        )),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A mount or prefix: segments of letters, digits, `.`, `_` and `-`, joined by `/`; no empty
/// segment and no `.`/`..` (they would name another place on the server).
fn check_segments(what: &str, value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= 200
        && value.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{value}' is not a valid OpenBao {what}: use segments of letters, digits, '.', '_' or '-' separated by '/'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        for good in [
            "https://bao.example.com:8200",
            "http://127.0.0.1:8200",
            "http://[::1]:8200/",
            "http://localhost:8200",
        ] {
            check_address(good).unwrap();
        }
        for bad in [
            "http://bao.example.com:8200",
            "http://10.0.0.1",
            "ftp://x",
            "https://u:p@x",
            "https://x/v1/kv",
            "bao:8200",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mounts_and_prefixes_cannot_climb_out() {
        for bad in ["", "a//b", "../x", "a/./b", "a b", "/a", "a/"] {
            assert!(check_segments("path", bad).is_err(), "{bad:?}");
        }
        check_segments("path", "teams/etl-prod").unwrap();
    }

    #[test]
    fn settings_round_trip_and_hold_no_secret_field() {
        let settings = OpenBaoSettings {
            addr: "https://bao:8200".into(),
            mount: "keychain".into(),
            path: "acme".into(),
            ca_cert: None,
            auth: AuthSettings::AppRole {
                role_id_file: "/etc/kc/role".into(),
                secret_id_file: "/etc/kc/secret".into(),
            },
        };
        let json = serde_json::to_string(&settings).unwrap();
        assert_eq!(
            serde_json::from_str::<OpenBaoSettings>(&json).unwrap(),
            settings
        );
        assert_eq!(settings.host(), "bao:8200");
    }
}
