//! `keychain audit seal-config`: an officer authenticates `config.json` after checking its
//! recipients, for a keychain made before configurations were authenticated, or after adding an
//! escrow recipient by hand. Needs the key: whoever cannot open the records cannot seal.

use crate::audit::{Action, Event};
use crate::error::Result;
use crate::keychain::Keychain;

pub fn run(kc: &Keychain) -> Result<()> {
    let identity = kc.identity()?;
    let mut config = kc.config.clone();
    if identity.to_public().to_string() != config.recipient.trim() {
        // Sealing cannot vouch for a configuration that names another keychain's key.
        return Ok(config.check(&kc.dir, identity)?);
    }
    // Every recipient must parse before it is vouched for.
    config.all_recipients()?;
    kc.check_audit()?;
    config.seal(identity);
    config.replace(&kc.dir)?;
    kc.record(Event::new("audit seal-config", Action::SealConfig))?;
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
