//! `keychain init`: a new identity, kept in the chosen key store, and the folder's configuration.

use std::path::{Path, PathBuf};

use crate::audit::Event;
use crate::cli::InitArgs;
use crate::cli::StoreChoice;
use crate::clock::SharedClock;
use crate::config::StoreKind;
use crate::config::{Config, parse_recipient};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::keystore::{self, Identity};
use crate::settings::Settings;
use crate::store::StoreError;
use crate::store::openbao::setup::{CasRequired, prepare};
use crate::store::openbao::{AuthSettings, OpenBaoSettings};
use crate::trail::{self, Action};

/// The store the flags ask for, checked; files are kept as absolute paths (later runs may start
/// elsewhere), and only their paths: never a token.
fn store_kind(args: &InitArgs) -> Result<StoreKind> {
    if args.store == StoreChoice::Local {
        let stray = [
            (args.mount.is_some(), "--mount"),
            (args.prefix.is_some(), "--path"),
            (args.ca_cert.is_some(), "--ca-cert"),
            (args.token_file.is_some(), "--token-file"),
            (args.role_id_file.is_some(), "--role-id-file"),
        ];
        if let Some((_, flag)) = stray.iter().find(|(given, _)| *given) {
            return Err(Error::usage_hint(
                format!("{flag} is for a keychain on OpenBao"),
                "add --store openbao with --addr, --mount and --path",
            ));
        }
        return Ok(StoreKind::Local);
    }
    let addr = args
        .addr
        .clone()
        .or_else(|| std::env::var("VAULT_ADDR").ok().filter(|a| !a.is_empty()))
        .ok_or_else(|| Error::usage("--store openbao needs --addr (or BAO_ADDR/VAULT_ADDR)"))?;
    let absolute = |path: &PathBuf, flag: &str| -> Result<PathBuf> {
        std::path::absolute(path).map_err(|e| Error::io(format!("{flag} {}", path.display()), e))
    };
    let auth = match (&args.token_file, &args.role_id_file, &args.secret_id_file) {
        (Some(token_file), _, _) => AuthSettings::TokenFile {
            token_file: absolute(token_file, "--token-file")?,
        },
        (None, Some(role), Some(secret)) => AuthSettings::AppRole {
            role_id_file: absolute(role, "--role-id-file")?,
            secret_id_file: absolute(secret, "--secret-id-file")?,
        },
        _ => AuthSettings::Environment,
    };
    let settings = OpenBaoSettings {
        addr: addr.trim().trim_end_matches('/').to_string(),
        mount: args.mount.clone().unwrap_or_default(),
        path: args.prefix.clone().unwrap_or_default(),
        ca_cert: args
            .ca_cert
            .as_ref()
            .map(|c| absolute(c, "--ca-cert"))
            .transpose()?,
        auth,
    };
    settings.validate().map_err(Error::usage)?;
    Ok(StoreKind::Openbao(settings))
}

/// A shared keychain: the first machine starts the member list (and the shared trail, with the
/// `init` event); a joining one only pins that it trusts no group key yet, and waits to be added.
fn start_or_join(
    dir: &Path,
    settings: &Settings,
    clock: &SharedClock,
    identity: Identity,
    join: bool,
) -> Result<()> {
    let kc = crate::keychain::Keychain::open_with(dir, settings.clone(), clock.clone())?
        .with_identity(identity);
    let shared = kc.shared().expect("an OpenBao keychain has a shared store");
    let identity = kc.identity()?;
    if join {
        shared.join(identity)?;
        crate::output::after_save(crate::output::err(&format!(
            "Joined: this machine is not a member yet. Ask a member to run `keychain member add {} --name {}`.\n",
            identity.to_public(),
            crate::audit::host_name()
        )));
        return Ok(());
    }
    if shared.exists()? {
        return Err(Error::usage_hint(
            "this OpenBao path already holds a shared keychain",
            "remove this folder's config.json and run 'keychain init' again with --join, then have a member add this machine",
        ));
    }
    let opened = shared.create(
        identity,
        &crate::audit::host_name(),
        &crate::audit::user_at_host(),
        kc.now(),
    )?;
    kc.set_members(opened);
    kc.record(Event::new("init", Action::Init))
}
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
    let store = store_kind(&args)?;
    if args.join && store == StoreKind::Local {
        return Err(Error::usage_hint(
            "--join is for a shared keychain",
            "add --store openbao with --addr, --mount and --path of the keychain to join",
        ));
    }
    // The server is asked before anything is created: a wrong address, mount or policy fails
    // here, not at the first login.
    if let StoreKind::Openbao(settings) = &store {
        match prepare(settings).map_err(StoreError::from)? {
            CasRequired::AlreadyOn | CasRequired::TurnedOn => {}
            CasRequired::CannotSet(why) => crate::output::after_save(crate::output::err(&format!(
                "warning: the mount '{}' does not require check-and-set and this machine may not change that ({why}); keychain checks and sets on every write anyway, but ask an operator to run 'bao write {}/config cas_required=true' so that no other writer can skip it\n",
                settings.mount, settings.mount
            ))),
        }
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
    config.store = store;
    config.seal(&identity);
    config.create(dir)?;
    crate::store::open(dir, &config.store)?;
    match &config.store {
        StoreKind::Local => {
            trail::init(dir, &identity, clock)?;
            trail::record_in(dir, clock, Event::new("init", Action::Init))?;
        }
        StoreKind::Openbao(_) => {
            // This machine's own log takes what it does while the store is down.
            trail::init(dir, &identity, clock)?;
            start_or_join(dir, settings, clock, identity, args.join)?
        }
    }

    let records = match &config.store {
        StoreKind::Local => String::new(),
        StoreKind::Openbao(s) => {
            format!("; records on openbao://{}/{}/{}", s.host(), s.mount, s.path)
        }
    };
    crate::output::after_save(crate::output::err(&format!(
        "Created a keychain in {} (key store: {}{records}).\n",
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
