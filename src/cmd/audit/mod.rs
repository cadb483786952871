//! `keychain audit`: what a security officer needs without seeing a secret: the report (the
//! default), `verify`, `fingerprint` and `rotate`. One file per subcommand.

mod fingerprint;
mod lines;
mod render;
mod report;
mod rotate;
mod verify;

use crate::cli::{AuditArgs, AuditCommand};
use crate::error::Result;
use crate::keychain::Keychain;

pub fn run(kc: &Keychain, mut args: AuditArgs, json: bool) -> Result<i32> {
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
            Ok(0)
        }
    }
}
