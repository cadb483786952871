//! `audit seal-config`: an officer authenticates `config.json` after checking its recipients,
//! for a keychain made before configurations were authenticated, or after adding an escrow
//! recipient by hand. Needs the key: whoever cannot open the records cannot seal.

use crate::audit::{Action, Event};
use crate::config::Config;
use crate::error::Result;
use crate::keychain::Keychain;

/// Seals the keychain's configuration under its key and records it. Returns the configuration
/// as sealed, so the front end can list the recipients every record is now encrypted to.
///
/// A configuration that names another keychain's key is not sealed: the error is the one its
/// check gives (sealing cannot vouch for it). When that check passes anyway, `Ok(None)`.
pub fn seal_config(kc: &Keychain) -> Result<Option<Config>> {
    let identity = kc.identity()?;
    let mut config = kc.config.clone();
    if identity.to_public().to_string() != config.recipient.trim() {
        // Sealing cannot vouch for a configuration that names another keychain's key.
        config.check(&kc.dir, identity)?;
        return Ok(None);
    }
    // Every recipient must parse before it is vouched for.
    config.all_recipients()?;
    kc.check_audit()?;
    config.seal(identity);
    config.replace(&kc.dir)?;
    kc.log_event(Event::new("audit seal-config", Action::SealConfig))?;
    Ok(Some(config))
}
