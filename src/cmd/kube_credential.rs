//! `keychain kube-credential ACCOUNT`: a client-go credential plugin (kubectl's `exec` user):
//! prints an `ExecCredential` whose `status.token` is a valid access token and whose
//! `status.expirationTimestamp` is its expiry (RFC 3339), so that kubectl asks again when it
//! expires. The request kubectl passes in `KUBERNETES_EXEC_INFO` is read for its `apiVersion`:
//! `client.authentication.k8s.io/v1` (and `v1beta1`, the same shape) are answered in kind;
//! any other is refused (exit 2). The token is recorded in the audit log as every login is.

use clap::Args;
use secrecy::ExposeSecret;

use crate::error::{Error, Result};
use crate::keychain::Keychain;

use super::shared_args::{LogonArgs, account_names};

#[derive(Debug, Args)]
pub struct KubeCredentialArgs {
    /// The account whose access token kubectl gets
    #[arg(add = account_names())]
    pub name: String,
    #[command(flatten)]
    pub logon: LogonArgs,
}

/// The versions of the ExecCredential API answered; the first when kubectl does not say.
pub const API_VERSIONS: [&str; 2] = [
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
];

/// The environment variable client-go passes the request in.
const EXEC_INFO: &str = "KUBERNETES_EXEC_INFO";

pub fn run(_ctx: &super::Ctx, kc: &Keychain, args: KubeCredentialArgs) -> Result<()> {
    let version = requested_version(std::env::var(EXEC_INFO).ok().as_deref())?;
    let token = crate::ops::login::obtain(kc, &args.name, &super::login::options(&args.logon))?;
    crate::ops::resolve::check_token_text(&token.access_token)?;
    let doc = zeroize::Zeroizing::new(document(
        version,
        token.access_token.expose_secret(),
        token.expires_at,
    ));
    crate::output::raw(doc.as_bytes())
}

/// The apiVersion to answer with, from kubectl's request (absent: v1).
fn requested_version(info: Option<&str>) -> Result<&'static str> {
    let Some(info) = info.filter(|i| !i.trim().is_empty()) else {
        return Ok(API_VERSIONS[0]);
    };
    let asked: serde_json::Value = serde_json::from_str(info)
        .map_err(|e| Error::usage(format!("{EXEC_INFO} is not JSON: {e}")))?;
    let asked = asked["apiVersion"].as_str().unwrap_or_default();
    API_VERSIONS
        .into_iter()
        .find(|v| *v == asked)
        .ok_or_else(|| {
            Error::usage_hint(
                format!("kubectl asks for ExecCredential {asked:?}, which keychain does not speak"),
                format!(
                    "set apiVersion: {} in the kubeconfig's exec section",
                    API_VERSIONS[0]
                ),
            )
        })
}

/// The ExecCredential document, one line.
fn document(version: &str, token: &str, expires_at: Option<i64>) -> String {
    let mut status = serde_json::json!({ "token": token });
    if let Some(expires) = expires_at {
        status["expirationTimestamp"] = serde_json::json!(crate::clock::rfc3339(expires));
    }
    let doc = serde_json::json!({
        "apiVersion": version,
        "kind": "ExecCredential",
        "status": status,
    });
    format!("{doc}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_requested_version_is_answered_and_others_refused() {
        assert_eq!(requested_version(None).unwrap(), API_VERSIONS[0]);
        let v1beta1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}"#;
        assert_eq!(requested_version(Some(v1beta1)).unwrap(), API_VERSIONS[1]);
        for bad in [
            "{",
            r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#,
            r#"{"apiVersion":"v1"}"#,
        ] {
            assert!(requested_version(Some(bad)).is_err(), "{bad}");
        }
    }
}
