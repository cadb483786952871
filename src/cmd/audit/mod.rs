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

use crate::cli::{AuditArgs, AuditCommand};
use crate::error::Result;
use crate::keychain::Keychain;

/// Whether the audit command only reads (the report, verify): those run on a keychain with
/// wide permissions, to report them.
pub fn only_looks(args: &AuditArgs) -> bool {
    matches!(
        args.command,
        None | Some(AuditCommand::Report(_)) | Some(AuditCommand::Verify)
    )
}

pub fn run(kc: &Keychain, args: AuditArgs) -> Result<i32> {
    match args.command {
        None => report::run(kc, args.report),
        Some(AuditCommand::Report(report)) => report::run(kc, report),
        Some(AuditCommand::Verify) => verify::run(kc),
        Some(AuditCommand::Fingerprint(args)) => fingerprint::run(kc, args),
        Some(AuditCommand::Rotate) => rotate::run(kc).map(|()| 0),
        Some(AuditCommand::Ack(args)) => ack::run(kc, args),
        Some(AuditCommand::SealConfig) => seal_config::run(kc).map(|()| 0),
    }
}
