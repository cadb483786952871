//! What can go wrong talking to OpenBao: one variant per case, each with one clear message
//! (naming the address and the path, never a value), a hint and a documented exit code.
#![deny(missing_docs)]

use crate::exit;

/// Why a call to OpenBao failed. Messages name the address and the path, never a value.
#[derive(Debug, thiserror::Error)]
pub enum BaoError {
    /// No answer (connection refused, timed out, TLS failed): nothing was changed; try again
    /// later.
    #[error("OpenBao at {addr} did not answer: {detail}")]
    Unreachable {
        /// The server's address.
        addr: String,
        /// What went wrong, in the HTTP client's words.
        detail: String,
    },
    /// The server is sealed: an operator must unseal it.
    #[error("OpenBao at {addr} is sealed")]
    Sealed {
        /// The server's address.
        addr: String,
    },
    /// The token's policy does not allow the call (403 with a valid token).
    #[error(
        "OpenBao at {addr} refused '{capability}' on {path}: the token's policy does not allow it"
    )]
    Forbidden {
        /// The server's address.
        addr: String,
        /// The KV path of the call (no value from it).
        path: String,
        /// The capability the policy lacks (`read`, `create`, `update`, ...).
        capability: &'static str,
    },
    /// A check-and-set write lost to another writer; nothing was written.
    #[error("{path} on {addr} was changed by another writer meanwhile (check-and-set)")]
    CasConflict {
        /// The server's address.
        addr: String,
        /// The KV path of the call (no value from it).
        path: String,
    },
    /// The token is no longer valid, even after logging in again where that is possible.
    #[error("the OpenBao token for {addr} has expired or was revoked{}", if *.relogged { ", and logging in again did not help" } else { "" })]
    TokenExpired {
        /// The server's address.
        addr: String,
        /// Whether a fresh login was tried (and did not help).
        relogged: bool,
    },
    /// The AppRole login was refused: the role id or secret id is wrong, expired or used up.
    #[error(
        "OpenBao at {addr} refused the AppRole login: the role id or secret id is wrong, expired or used up"
    )]
    LoginRefused {
        /// The server's address.
        addr: String,
    },
    /// No token could be had: none in the environment, or its file unreadable (the text says
    /// which, never a token).
    #[error("no OpenBao token: {0}")]
    NoToken(String),
    /// An answer that is not what a KV v2 server sends.
    #[error("OpenBao at {addr} gave an unexpected answer for {path}: {detail}")]
    BadAnswer {
        /// The server's address.
        addr: String,
        /// The KV path of the call (no value from it).
        path: String,
        /// What was wrong with it: a missing field, or the status and the server's first error
        /// line (which names paths and reasons, not values).
        detail: String,
    },
    /// The account's lease lock may have run out before it was renewed: another machine may
    /// hold it now, so nothing more is written under it.
    #[error(
        "the lock of account '{account}' on {addr} may have run out (its lease was not renewed in time); nothing more is written under it"
    )]
    LeaseLost {
        /// The server's address.
        addr: String,
        /// The account whose lock it was.
        account: String,
    },
    /// The OpenBao settings are wrong; the text says what to change.
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

    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            BaoError::Unreachable { .. } => "check that OpenBao runs and that this machine can reach it; nothing was changed".into(),
            BaoError::Sealed { .. } => "an operator must unseal OpenBao ('bao operator unseal'); nothing was changed".into(),
            BaoError::Forbidden { path, capability, .. } => format!("give this machine's policy \"{capability}\" on \"{path}\" (see docs/shared-keychain.md)"),
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
