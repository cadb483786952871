//! `keychain audit ack FINDING-ID`: an officer has looked at an anomaly finding; reports stop
//! listing it (`ops::audit::ack`, where the why of acknowledgements is).

use clap::Args;

use crate::error::Result;
use crate::keychain::Keychain;
use crate::ops::audit::ack::{AckOptions, Acked, ack};

#[derive(Debug, Args)]
pub struct AckArgs {
    /// The finding's ID as the report lists it, e.g. new-origin-3f2a9c1b0e
    #[arg(value_name = "FINDING-ID")]
    pub id: String,
}

pub fn run(kc: &Keychain, args: AckArgs) -> Result<crate::outcome::Outcome> {
    match ack(kc, &AckOptions { id: args.id })? {
        Acked::Already { id } => {
            crate::output::err(&format!(
                "{id} was acknowledged already; nothing recorded.\n"
            ))?;
        }
        Acked::Recorded { id, code, account } => {
            crate::output::after_save(crate::output::err(&format!(
                "Acknowledged {id} ({code} of {account}); reports no longer list it. Recorded in the audit log.\n"
            )));
        }
    }
    Ok(crate::outcome::Outcome::Success)
}
