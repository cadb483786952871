//! `keychain audit`: what a security officer needs without seeing a secret: the report (the
//! default), `verify`, `fingerprint`, `rotate` and `ack`. One file per subcommand.

mod ack;
mod charts;
mod fingerprint;
mod lines;
mod render;
mod report;
mod rotate;
mod seal_config;
mod verify;

/// The refresh token's idle rule, one for the report and `status`.
pub(super) use report::{REFRESH_IDLE_DAYS, REFRESH_WARN_DAYS};

use crate::cli::{AuditArgs, AuditCommand};
use crate::error::Result;
use crate::keychain::Keychain;
use crate::outcome::Outcome;

/// Whether the audit command only reads (the report, verify): those run on a keychain with
/// wide permissions, to report them.
pub fn only_looks(args: &AuditArgs) -> bool {
    matches!(
        args.command,
        None | Some(AuditCommand::Report(_)) | Some(AuditCommand::Verify)
    )
}

pub fn run(kc: &Keychain, mut args: AuditArgs, json: bool) -> Result<Outcome> {
    args.report.json = json;
    match args.command {
        None => report::run(kc, args.report),
        Some(AuditCommand::Report(mut report)) => {
            report.json = json;
            report::run(kc, report)
        }
        Some(AuditCommand::Verify) => verify::run(kc, json),
        Some(AuditCommand::Fingerprint(args)) => fingerprint::run(kc, args, json),
        Some(AuditCommand::Rotate) => {
            rotate::run(kc)?;
            if json {
                crate::output::raw(
                    crate::json::document(
                        serde_json::json!({ "ok": true, "command": "audit rotate", "accounts": [] }),
                    )
                    .as_bytes(),
                )?;
            }
            Ok(Outcome::Success)
        }
        Some(AuditCommand::Ack(args)) => ack::run(kc, args),
        Some(AuditCommand::SealConfig) => seal_config::run(kc).map(|()| Outcome::Success),
    }
}
