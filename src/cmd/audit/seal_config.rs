//! `keychain audit seal-config`: an officer authenticates `config.json` after checking its
//! recipients (`ops::audit::seal_config`, where the why is); this file lists them.

use crate::error::Result;
use crate::keychain::Keychain;

pub fn run(kc: &Keychain) -> Result<()> {
    let Some(config) = crate::ops::audit::seal_config::seal_config(kc)? else {
        return Ok(());
    };
    let mut text = format!(
        "Authenticated config.json; every record is encrypted to:\n  keychain  {}\n",
        config.recipient
    );
    for r in &config.escrow_recipients {
        text.push_str(&format!("  escrow    {r}\n"));
    }
    crate::output::after_save(crate::output::err(&text));
    Ok(())
}
