//! `keychain audit seal-config`: an officer authenticates `config.json` after checking its
//! recipients (`ops::audit::seal_config`, where the why is); this file lists them.

use crate::error::Result;
use crate::keychain::Keychain;

/// Under `json`, confirms on standard output as every command whose output is a notice does.
pub fn run(kc: &Keychain, json: bool) -> Result<()> {
    let sealed = crate::ops::audit::seal_config::seal_config(kc)?;
    if json {
        crate::output::after_save(crate::output::raw(
            crate::json::document(serde_json::json!({
                "ok": true, "command": "audit seal-config", "accounts": [],
            }))
            .as_bytes(),
        ));
    }
    let Some(config) = sealed else {
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
