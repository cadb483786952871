//! `keychain audit ack FINDING-ID`: a person has looked at a finding of `status` or the report
//! (an anomaly, or a standing one such as a shared password); it stays listed, marked
//! acknowledged, and no longer counts towards an exit status (`ops::audit::ack`, where the why
//! of acknowledgements is).

use clap::Args;

use crate::error::Result;
use crate::keychain::Keychain;
use crate::ops::audit::ack::{AckOptions, Acked, ack};

#[derive(Debug, Args)]
pub struct AckArgs {
    /// The finding's ID as 'keychain audit' and 'keychain status' list it, e.g. duplicate-password-3f2a9c1b0e
    #[arg(value_name = "FINDING-ID")]
    pub id: String,
}

pub fn run(kc: &Keychain, args: AckArgs, json: bool) -> Result<crate::outcome::Outcome> {
    let done = ack(kc, &AckOptions { id: args.id })?;
    let (id, recorded, accounts) = match &done {
        Acked::Already { id } => {
            crate::output::err(&format!(
                "{id} was acknowledged already; nothing recorded.\n"
            ))?;
            (id, false, &[][..])
        }
        Acked::Recorded { id, code, accounts } => {
            let about = if accounts.is_empty() {
                "the keychain".to_string()
            } else {
                accounts.join(", ")
            };
            crate::output::after_save(crate::output::err(&format!(
                "Acknowledged {id} ({code} of {}); it stays listed, marked acknowledged, and no longer fails 'keychain audit' or 'keychain status'. Recorded in the audit log.\n",
                crate::output::escape_value(&about)
            )));
            (id, true, &accounts[..])
        }
    };
    if json {
        let accounts = crate::json::names(accounts);
        crate::output::after_save(crate::output::raw(
            crate::json::document(serde_json::json!({
                "ok": true,
                "command": "audit ack",
                "id": id,
                "recorded": recorded,
                "accounts": accounts,
            }))
            .as_bytes(),
        ));
    }
    Ok(crate::outcome::Outcome::Success)
}
