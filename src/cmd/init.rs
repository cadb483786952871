//! `keychain init`: a new identity, kept in the chosen key store, and the folder's configuration.
//! The flags and the messages are here; creating the keychain is `ops::init`
//! (`keychain_core::init::create`).

use std::path::PathBuf;

use clap::Args;

use crate::cli::choice;
use crate::cmd::Ctx;
use crate::error::{Error, Result};
use crate::keystore::KeyStoreKind;
use crate::ops::init::{InitOptions, init};
use crate::store::StoreKind;
use crate::store::openbao::{AuthSettings, OpenBaoSettings};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where the identity that opens the records is kept
    #[arg(long, value_parser = choice::<KeyStoreKind>(), default_value_t = KeyStoreKind::Os)]
    pub key_store: KeyStoreKind,
    /// Also encrypt every record to this age public key (e.g. a security officer's escrow key); repeatable
    #[arg(long, value_name = "AGE_PUBLIC_KEY")]
    pub recipient: Vec<String>,
    /// Where the records live: in this folder, or on OpenBao (or Vault) KV version 2, shared by
    /// several machines
    #[arg(long, value_enum, default_value_t = StoreChoice::Local)]
    pub store: StoreChoice,
    /// OpenBao's address: https://HOST:PORT (http only on loopback) [env: BAO_ADDR, VAULT_ADDR]
    #[arg(
        long,
        env = "BAO_ADDR",
        value_name = "URL",
        required_if_eq("store", "openbao")
    )]
    pub addr: Option<String>,
    /// The KV version 2 mount that holds the keychain
    #[arg(long, value_name = "MOUNT", required_if_eq("store", "openbao"))]
    pub mount: Option<String>,
    /// The prefix under the mount: records go to PREFIX/records/NAME, locks to PREFIX/locks/NAME
    #[arg(
        long = "path",
        value_name = "PREFIX",
        required_if_eq("store", "openbao")
    )]
    pub prefix: Option<String>,
    /// A PEM file with the certificate of the private CA that signed OpenBao's certificate
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// A file whose first line is this machine's OpenBao token, read at every run (without it
    /// and without AppRole, BAO_TOKEN or VAULT_TOKEN of each run)
    #[arg(long, value_name = "FILE", conflicts_with = "role_id_file")]
    pub token_file: Option<PathBuf>,
    /// AppRole login: a file holding the role id
    #[arg(long, value_name = "FILE", requires = "secret_id_file")]
    pub role_id_file: Option<PathBuf>,
    /// AppRole login: a file holding the secret id (only its path is kept)
    #[arg(long, value_name = "FILE", requires = "role_id_file")]
    pub secret_id_file: Option<PathBuf>,
    /// Join an existing shared keychain: create this machine's identity and print its public
    /// key, for a member to run 'keychain member add RECIPIENT --name HOST'
    #[arg(long)]
    pub join: bool,
}

/// Where a new keychain keeps its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreChoice {
    /// Files in the keychain folder
    Local,
    /// OpenBao or Vault KV version 2
    Openbao,
}

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
        // Kept in the config and read at every run: a stream read once cannot be that file.
        crate::input::not_a_stream(path, flag)?;
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

/// Parses the flags into a request, has the core create the keychain, then tells the person what
/// they need: warnings, the join still to complete, and the recipient (or the JSON document).
pub fn run(ctx: &Ctx, args: InitArgs) -> Result<()> {
    let (dir, json) = (&ctx.dir()?, ctx.json());
    let options = InitOptions {
        key_store: args.key_store,
        store: store_kind(&args)?,
        recipients: args.recipient,
        join: args.join,
    };
    let made = init(dir, &ctx.settings, &ctx.clock, options)?;
    if let (Some(why), StoreKind::Openbao(s)) = (&made.server.cas_not_required, &made.store) {
        crate::output::after_save(crate::output::err(&format!(
            "warning: the mount '{}' does not require check-and-set and this machine may not change that ({why}); keychain checks and sets on every write anyway, but ask an operator to run 'bao write {}/config cas_required=true' so that no other writer can skip it\n",
            s.mount, s.mount
        )));
    }
    if made.server.token_has_default_policy {
        crate::output::after_save(crate::output::err(
            "note: this machine's OpenBao token carries the 'default' policy. keychain needs none of it but 'read' on auth/token/lookup-self, while it also grants the token cubbyhole storage, response wrapping and more, and OpenBao parses it again on every request (it is templated), a third of the server's work per cached login. Ask an operator to set token_no_default_policy=true on the role and to grant 'read' on auth/token/lookup-self in the keychain's policy (docs/shared-keychain.md).\n",
        ));
    }
    if let Some(joined) = &made.joined {
        crate::output::after_save(crate::output::err(&format!(
            "Joined: this machine is not a member yet. Ask a member to run `keychain member add {} --name {}`, then run `keychain member join CODE` here with the join code it prints (carried by a channel the store's operator does not control).\n",
            joined.public, joined.host
        )));
    }
    let records = match &made.store {
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
                "recipient": made.recipient,
                "escrow_recipients": made.escrow_recipients,
            }))
            .as_bytes(),
        ));
    } else {
        crate::output::after_save(crate::output::out(&format!("{}\n", made.recipient)));
    }
    Ok(())
}
