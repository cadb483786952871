//! What can go wrong talking to OpenBao: one variant per case, each with one clear message
//! (naming the address and the path, never a value), a hint and a documented exit code.

use crate::error::exit;

/// Why a call to OpenBao failed. Messages name the address and the path, never a value.
#[derive(Debug, thiserror::Error)]
pub enum BaoError {
    #[error("OpenBao at {addr} did not answer: {detail}")]
    Unreachable { addr: String, detail: String },
    #[error("OpenBao at {addr} is sealed")]
    Sealed { addr: String },
    #[error(
        "OpenBao at {addr} refused '{capability}' on {path}: the token's policy does not allow it"
    )]
    Forbidden {
        addr: String,
        path: String,
        capability: &'static str,
    },
    #[error("{path} on {addr} was changed by another writer meanwhile (check-and-set)")]
    CasConflict { addr: String, path: String },
    #[error("the OpenBao token for {addr} has expired or was revoked{}", if *.relogged { ", and logging in again did not help" } else { "" })]
    TokenExpired { addr: String, relogged: bool },
    #[error(
        "OpenBao at {addr} refused the AppRole login: the role id or secret id is wrong, expired or used up"
    )]
    LoginRefused { addr: String },
    #[error("no OpenBao token: {0}")]
    NoToken(String),
    #[error("OpenBao at {addr} gave an unexpected answer for {path}: {detail}")]
    BadAnswer {
        addr: String,
        path: String,
        detail: String,
    },
    #[error(
        "the lock of account '{account}' on {addr} may have run out (its lease was not renewed in time); nothing more is written under it"
    )]
    LeaseLost { addr: String, account: String },
    #[error("{0}")]
    Settings(String),
}

impl BaoError {
    /// The documented exit code: 5 when the server cannot serve (try later), 6 when this
    /// machine's credential for it is missing or dead, 8 when its policy forbids the call,
    /// 2 for a conflict or a bad setting.
    pub fn exit_code(&self) -> i32 {
        match self {
            BaoError::Unreachable { .. }
            | BaoError::Sealed { .. }
            | BaoError::BadAnswer { .. }
            | BaoError::LeaseLost { .. } => exit::UNAVAILABLE,
            BaoError::TokenExpired { .. }
            | BaoError::LoginRefused { .. }
            | BaoError::NoToken(_) => exit::LOCKED,
            BaoError::Forbidden { .. } => exit::IO,
            BaoError::CasConflict { .. } | BaoError::Settings(_) => exit::USAGE,
        }
    }

    pub fn hint(&self) -> Option<String> {
        Some(match self {
            BaoError::Unreachable { .. } => "check that OpenBao runs and that this machine can reach it; nothing was changed".into(),
            BaoError::Sealed { .. } => "an operator must unseal OpenBao ('bao operator unseal'); nothing was changed".into(),
            BaoError::Forbidden { path, capability, .. } => format!("give this machine's policy \"{capability}\" on \"{path}\" (see the README, Several machines)"),
            BaoError::CasConflict { .. } => "run the command again".into(),
            BaoError::TokenExpired { .. } => "give this machine a new token (BAO_TOKEN or its token file) or a new AppRole secret id".into(),
            BaoError::LoginRefused { .. } => "give this machine a new AppRole secret id ('bao write -f auth/approle/role/ROLE/secret-id') in its secret id file".into(),
            BaoError::NoToken(_) => "set BAO_TOKEN, or run 'keychain init --store openbao' with --token-file or --role-id-file and --secret-id-file".into(),
            BaoError::BadAnswer { .. } => "check that the address is an OpenBao or Vault server and the mount is KV version 2".into(),
            BaoError::LeaseLost { .. } => "run the command again; if it happens often, OpenBao answers too slowly for the lease (KEYCHAIN_OPENBAO_LEASE)".into(),
            BaoError::Settings(_) => return None,
        })
    }

    /// Whether the server could not be asked at all (down, unreachable or sealed): the cases in
    /// which `login` may serve a still-valid token from the local copy.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, BaoError::Unreachable { .. } | BaoError::Sealed { .. })
    }
}
