//! `keychain exec [NAME] [--env VAR=ACCOUNT:FIELD]... -- CMD ARGS...`: runs CMD with valid
//! access tokens and account values in its environment, never printing them, and passes CMD's
//! exit code on. Refuses to nest, so that a token is never silently shadowed by another
//! account's.
//!
//! Order: the program is found first (127/126 cost no logon); then every account is read and
//! every value obtained (one logon per account, however many variables name it); secrets named
//! explicitly are recorded in the audit log; only then does CMD start.
//!
//! With `--serve` or `--token-file` (`exec_supply`), NAME's token is kept fresh for as long as
//! CMD runs, by the same engine.

use clap::Args;

use secrecy::ExposeSecret;

use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::ops::exec::{Environment, ExecOptions};

use super::exec_env::{EnvField, EnvSpec, is_var_name};
use super::shared_args::{LogonArgs, account_names};

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The account whose access token goes into --env-name (optional with --env)
    #[arg(add = account_names(), required_unless_present_any = ["env", "env_file"])]
    pub name: Option<String>,
    /// The environment variable that carries NAME's token
    #[arg(long, value_name = "VAR", default_value = "KEYCHAIN_ACCESS_TOKEN")]
    pub env_name: String,
    /// Put ACCOUNT's FIELD into VAR; repeatable, several accounts allowed. FIELD: access-token
    /// (a valid token, as login gives), user, client-id, api-url (Exact Online's API base), totp
    /// (the current code, recorded in the audit log);
    /// a secret (password, totp-secret, client-secret, refresh-token) only when named, and
    /// recorded in the audit log before the program starts
    #[arg(long = "env", value_name = "VAR=ACCOUNT:FIELD", value_parser = crate::cmd::exec_env::parse)]
    pub env: Vec<crate::cmd::exec_env::EnvSpec>,
    /// Put many variables at once: FILE holds VAR=keychain://ACCOUNT/FIELD lines ('#' comments),
    /// the fields of --env; repeatable
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<std::path::PathBuf>,
    #[command(flatten)]
    pub logon: LogonArgs,
    #[command(flatten)]
    pub supply: super::exec_supply::SupplyArgs,
    /// The command and its arguments, after --
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

/// Set in CMD's environment to the accounts used (comma-separated); its presence makes a nested
/// `keychain exec` refuse.
pub const MARKER: &str = "KEYCHAIN_EXEC_ACCOUNT";

pub fn run(_ctx: &super::Ctx, kc: &Keychain, args: ExecArgs) -> Result<crate::outcome::Outcome> {
    if let Some(outer) = std::env::var_os(MARKER) {
        return Err(Error::usage_hint(
            format!(
                "keychain exec refuses to nest: this process already runs under keychain exec for account '{}'",
                outer.to_string_lossy()
            ),
            "use the token already in the environment, or run the command outside keychain exec",
        ));
    }
    let specs = specs(&args)?;
    let Some((program, rest)) = args.command.split_first() else {
        return Err(Error::usage("no command given after --"));
    };
    // Before the logon: a typo in the command must not cost a refresh token.
    super::program::check(program)?;

    let opts = super::login::options(&args.logon);
    let on_failure = args.logon.on_failure.as_deref();
    let exec = ExecOptions {
        specs: &specs,
        login: &opts,
        on_failure,
    };
    let Environment {
        vars: env,
        mut tokens,
    } = crate::ops::exec::environment(kc, &exec)?;

    let mut accounts: Vec<&str> = Vec::new();
    for spec in &specs {
        if !accounts.contains(&spec.account.as_str()) {
            accounts.push(&spec.account);
        }
    }
    let mut command = std::process::Command::new(program);
    command.args(rest).env(MARKER, accounts.join(","));
    for (var, value) in &env {
        command.env(var, value.expose_secret());
    }
    let status = match (&args.name, args.supply.wanted()) {
        (Some(name), true) => {
            let first = tokens
                .remove(name.as_str())
                .expect("NAME's token was obtained above");
            let account = super::exec_supply::Account {
                name,
                opts: &opts,
                on_failure,
            };
            super::exec_supply::run(kc, &args.supply, account, first, command, program)?
        }
        _ => command
            .status()
            .map_err(|e| super::program::spawn_error(program, &e))?,
    };
    Ok(crate::outcome::Outcome::Child(exit_code_of(status)))
}

/// NAME (into `--env-name`) and every `--env`, checked: one value per variable, never the
/// marker.
fn specs(args: &ExecArgs) -> Result<Vec<EnvSpec>> {
    let mut specs = Vec::new();
    if let Some(name) = &args.name {
        if !is_var_name(&args.env_name) {
            return Err(Error::usage(format!(
                "'{}' is not a valid environment variable name",
                args.env_name
            )));
        }
        specs.push(EnvSpec {
            var: args.env_name.clone(),
            account: name.clone(),
            field: EnvField::AccessToken,
        });
    }
    specs.extend(args.env.iter().cloned());
    specs.extend(super::exec_env::from_files(&args.env_file)?);
    for (i, spec) in specs.iter().enumerate() {
        if spec.var == MARKER {
            return Err(Error::usage(format!(
                "{MARKER} is set by keychain exec itself"
            )));
        }
        if specs[..i].iter().any(|s| s.var == spec.var) {
            return Err(Error::usage(format!(
                "{} is given twice; each variable gets one value",
                spec.var
            )));
        }
    }
    Ok(specs)
}

/// The child's exit code, or 128 + the signal that killed it, as shells report it.
fn exit_code_of(status: std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    status.code().unwrap_or(1)
}
