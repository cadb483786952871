//! `keychain init`: a new identity, kept in the chosen key store, and the folder's configuration.

use std::path::Path;

use crate::audit::Event;
use crate::cli::InitArgs;
use crate::clock::SharedClock;
use crate::config::{Config, parse_recipient};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::keystore::{self, Identity};
use crate::settings::Settings;
use crate::trail::{self, Action};

pub fn run(
    dir: &Path,
    settings: &Settings,
    clock: &SharedClock,
    args: InitArgs,
    json: bool,
) -> Result<()> {
    // Check everything the user typed before anything is created.
    for recipient in &args.recipient {
        parse_recipient(recipient)?;
    }
    if Config::path(dir).exists() {
        return Err(Error::usage_hint(
            format!("a keychain already exists in {}", dir.display()),
            "use it as it is, or choose another folder with --dir",
        ));
    }
    fsutil::ensure_private_dir(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;

    let identity = Identity::generate();
    keystore::for_kind(args.key_store, dir, settings).save(&identity)?;
    let mut config = Config::new(
        args.key_store,
        identity.to_public().to_string(),
        args.recipient
            .iter()
            .map(|r| r.trim().to_string())
            .collect(),
        clock.unix(),
    );
    config.seal(&identity);
    config.create(dir)?;
    crate::store::local::LocalStore::open(dir)?;
    trail::init(dir, &identity, clock)?;
    trail::record_in(dir, clock, Event::new("init", Action::Init))?;

    crate::output::after_save(crate::output::err(&format!(
        "Created a keychain in {} (key store: {}).\n",
        dir.display(),
        args.key_store
    )));
    if json {
        crate::output::after_save(crate::output::raw(
            crate::json::document(serde_json::json!({
                "keychain": dir.display().to_string(),
                "key_store": args.key_store.to_string(),
                "recipient": config.recipient,
                "escrow_recipients": config.escrow_recipients,
            }))
            .as_bytes(),
        ));
    } else {
        crate::output::after_save(crate::output::out(&format!("{}\n", config.recipient)));
    }
    Ok(())
}
