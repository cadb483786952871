//! `keychain totp`: the current code on stdout, the seconds left on stderr on a terminal.

use clap::Args;

use secrecy::ExposeSecret;

use crate::audit::{Action, Event};
use crate::cmd::Ctx;
use crate::error::Result;

use super::shared_args::account_names;

#[derive(Debug, Args)]
pub struct TotpArgs {
    #[arg(add = account_names())]
    pub name: String,
    /// Wait for the next time step when fewer than SECONDS remain in the current one
    #[arg(long, value_name = "SECONDS")]
    pub fresh: Option<u64>,
}

pub fn run(ctx: &Ctx, args: TotpArgs) -> Result<()> {
    let kc = &ctx.open()?;
    let (account, _) = kc.read(&args.name)?;
    let totp = account.totp()?;
    // A code is a working second factor: recorded before it is shown (one append). No write
    // counter: this read took no lock, and only writes may set the counter replays are judged by.
    kc.record(Event::new("totp", Action::Totp).account(&args.name))?;
    let mut now = kc.now().max(0) as u64;
    if let Some(min_left) = args.fresh {
        // A whole step is the most anyone can ask for.
        let min_left = min_left.min(totp.period);
        while totp.seconds_left(now) < min_left {
            kc.clock()
                .sleep(std::time::Duration::from_secs(totp.seconds_left(now)));
            now = kc.now().max(0) as u64;
        }
    }
    let code = totp.code_at(now);
    if ctx.json() {
        let doc = zeroize::Zeroizing::new(crate::json::document(serde_json::json!({
            "account": args.name,
            "code": code.expose_secret(),
            "seconds_left": totp.seconds_left(now),
            "period": totp.period,
        })));
        return crate::output::raw(doc.as_bytes());
    }
    crate::output::raw(zeroize::Zeroizing::new(format!("{}\n", code.expose_secret())).as_bytes())?;
    if crate::output::stderr_is_terminal() {
        crate::output::err(&format!("{} s left\n", totp.seconds_left(now)))?;
    }
    Ok(())
}
