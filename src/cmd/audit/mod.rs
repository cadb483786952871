//! `keychain audit`: what a security officer needs without seeing a secret: the report (the
//! default), `verify`, `fingerprint`, `rotate` and `ack`. One file per subcommand.

mod ack;
mod charts;
mod fingerprint;
mod render;
mod report;
mod rotate;
mod seal_config;
mod verify;

use clap::{Args, Subcommand};

use crate::error::Result;
use crate::keychain::Keychain;
use crate::outcome::Outcome;

use ack::AckArgs;
use fingerprint::FingerprintArgs;
use report::ReportArgs;

/// `keychain audit` alone prints the report; its flags then apply as to `keychain audit report`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Per account: provider, user, secrets and their ages, last use, logons; then the findings (the default)
    Report(ReportArgs),
    /// Check the audit log (all rotated files and the live one) for edited, deleted, reordered, inserted or cut lines; exit 7 and the place of each problem when it fails
    Verify,
    /// Print the fingerprint of a value read from standard input (never an argument), say whether it is NAME's current FIELD and where the log holds it; recorded
    ///
    /// Exit 0 when the value is NAME's current FIELD, 1 when it is not (or there is no account
    /// NAME now); the log lines holding it are listed either way.
    Fingerprint(FingerprintArgs),
    /// Move the live log aside and start a new one that continues its chain
    Rotate,
    /// Authenticate config.json (its recipients) under the keychain's key, after checking the recipients 'keychain audit' lists; writes are refused until the configuration authenticates
    SealConfig,
    /// Acknowledge a finding of 'keychain audit' or 'keychain status' by its ID: it stays listed, marked acknowledged, and no longer makes either exit non-zero; recorded in the audit log
    Ack(AckArgs),
}

/// Whether the audit command only reads (the report, verify): those run on a keychain with
/// wide permissions, to report them.
pub fn only_looks(args: &AuditArgs) -> bool {
    matches!(
        args.command,
        None | Some(AuditCommand::Report(_)) | Some(AuditCommand::Verify)
    )
}

pub fn run(ctx: &crate::cmd::Ctx, kc: &Keychain, mut args: AuditArgs) -> Result<Outcome> {
    let json = ctx.json();
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
        Some(AuditCommand::Ack(args)) => ack::run(kc, args, json),
        Some(AuditCommand::SealConfig) => seal_config::run(kc, json).map(|()| Outcome::Success),
    }
}
