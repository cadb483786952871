//! The command line, defined once: parsing, `--help`, the man page and shell completions all
//! come from these types. No flag takes a secret value: secrets come from files, standard input
//! or a no-echo prompt.
//!
//! This file holds the top: [`Cli`] with the global flags, the [`Command`] list with each
//! command's help, and [`choice`]; the help texts shared with the man page are in `cli/help.rs`. Each command's own
//! flags are in its file under `cmd/` (`cmd::login::LoginArgs`, ...).

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};

use crate::choice::Choice;
use crate::cmd::{
    AddArgs, AuditArgs, CompletionsArgs, ExecArgs, ExportArgs, ImportArgs, ListArgs, LoginArgs,
    ManArgs, MemberArgs, MvArgs, RefreshArgs, RmArgs, ScanArgs, SetArgs, ShowArgs, StatusArgs,
    TotpArgs, UnlockArgs,
};
use crate::cmd::{GitCredentialArgs, InjectArgs, KubeCredentialArgs, ReadArgs};
use crate::cmd::{InitArgs, StoreCommand};

mod help;

pub use help::{CRON_HELP, EXAMPLES, LOGIN_EXIT_CODES, TOPICS, examples, exit_statuses, topic};

/// The parser of a flag whose value is one of the core's [`Choice`] sets: clap lists, completes
/// and documents the names, and the value arrives typed.
pub fn choice<T: Choice + Send + Sync>() -> impl TypedValueParser<Value = T> {
    let values = T::ALL.iter().map(|value| {
        let possible = PossibleValue::new(value.name());
        match value.help() {
            Some(help) => possible.help(help),
            None => possible,
        }
    });
    PossibleValuesParser::new(values).try_map(|name: String| {
        T::from_name(&name).ok_or_else(|| format!("'{name}' is not a possible value"))
    })
}

/// A credential keychain for unattended logons: stores OAuth2 accounts with their passwords and
/// TOTP secrets encrypted with age, its key in the OS credential store, and hands scripts a
/// valid access token.
#[derive(Debug, Parser)]
#[command(name = "keychain", version, about, after_help = help::after_help())]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// The heading under which every command's `--help` lists the flags every command takes, after
/// its own (as gh's INHERITED FLAGS).
pub const GLOBAL_OPTIONS: &str = "Global options";

/// The flags every command takes (`global`): [`Cli`]'s own, apart so that [`parse`] can build
/// the top of the command line without every subcommand.
#[derive(Debug, Args)]
#[command(next_help_heading = GLOBAL_OPTIONS)]
pub struct GlobalArgs {
    /// The keychain folder [default: $XDG_DATA_HOME/keychain, else ~/.local/share/keychain]
    #[arg(long, global = true, env = "KEYCHAIN_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Print JSON for tools: one document, "format": 1 first (see keychain(1), JSON OUTPUT);
    /// an error is then a JSON object on standard error. KEYCHAIN_FORMAT=json makes it the
    /// default of commands that print a document, never of a bare value (a token, a code)
    #[arg(long, global = true)]
    pub json: bool,

    #[command(flatten)]
    pub settings: crate::cmd::settings::SettingsArgs,
}

/// Parses `args` (the program name first) as [`Cli::try_parse_from`] does, building clap's
/// command tree only for the subcommand named when [`one_subcommand`] has it: the whole tree
/// (every command's flags and help) was a tenth of the CPU of a start. Whatever the short tree
/// does not parse cleanly (help, a usage error, another subcommand) is parsed again with the
/// whole tree ([`command`]), so every message is the whole tree's own; `--version` alone needs
/// no subcommand.
pub fn parse(args: &[std::ffi::OsString]) -> Result<Cli, clap::Error> {
    let named = args
        .iter()
        .skip(1)
        .find(|a| !a.as_encoded_bytes().starts_with(b"-"))
        .and_then(|a| a.to_str());
    let top = || {
        GlobalArgs::augment_args(clap::Command::new("keychain"))
            .version(env!("CARGO_PKG_VERSION"))
            .subcommand_required(true)
    };
    match named.and_then(one_subcommand) {
        Some(sub) => {
            let parsed = top()
                .subcommand(sub)
                .try_get_matches_from(args)
                .and_then(|matches| from_matches(&matches));
            if let Ok(cli) = parsed {
                return Ok(cli);
            }
        }
        // `keychain --version` (or -V) and nothing else: the version is the whole tree's.
        None if args.len() == 2 && (args[1] == "--version" || args[1] == "-V") => {
            if let Err(version) = top().try_get_matches_from(args)
                && version.kind() == clap::error::ErrorKind::DisplayVersion
            {
                return Err(version);
            }
        }
        None => {}
    }
    parse_whole(args)
}

/// [`parse`] with the whole tree.
pub fn parse_whole(args: &[std::ffi::OsString]) -> Result<Cli, clap::Error> {
    match command().try_get_matches_from(args) {
        Ok(matches) => from_matches(&matches),
        Err(error) if error.use_stderr() => Err(usage_as_typed(error, args)),
        Err(done) => Err(done),
    }
}

/// The typed command line, once two flags that name an output format do not contradict each
/// other: `login --json` with an explicit `--format` other than json is refused, as clap refuses
/// its own conflicts (exit 2), rather than one silently winning.
fn from_matches(matches: &clap::ArgMatches) -> Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    use clap::parser::ValueSource;
    let cli = Cli {
        global: GlobalArgs::from_arg_matches(matches)?,
        command: Command::from_arg_matches(matches)?,
    };
    if let (Command::Login(login), Some(("login", sub))) = (&cli.command, matches.subcommand())
        && cli.global.json
        && sub.value_source("format") == Some(ValueSource::CommandLine)
        && login.format != crate::cmd::login::OutputFormat::Json
    {
        let format = clap::ValueEnum::to_possible_value(&login.format)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        return Err(command()
            .find_subcommand_mut("login")
            .expect("login is a command")
            .clone()
            .bin_name("keychain login")
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "the argument '--json' cannot be used with '--format {format}': give one of them (--format json is --json)"
                ),
            ));
    }
    Ok(cli)
}

/// clap counts a flag whose environment variable is set (`KEYCHAIN_DIR`) as given, so a usage
/// error's "Usage:" line showed it as if it were required (`keychain login --dir <DIR> <NAME>`).
/// The error is made again from the same arguments without the variables, and used when it is
/// the same kind of error (a variable's own bad value keeps the first).
fn usage_as_typed(error: clap::Error, args: &[std::ffi::OsString]) -> clap::Error {
    fn without_env(command: clap::Command) -> clap::Command {
        command
            .mut_args(|arg| arg.env(None::<&'static str>))
            .mut_subcommands(without_env)
    }
    match without_env(command()).try_get_matches_from(args) {
        Err(again) if again.kind() == error.kind() => again,
        _ => error,
    }
}

/// The whole command line with what the derive does not give it: each command's examples after
/// its options ([`help::EXAMPLES`]) and a description of every positional argument
/// ([`help::POSITIONAL_HELP`]). Whatever shows help (`--help`, the man pages) and the whole-tree
/// parse use it.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    decorate(Cli::command(), "")
}

/// [`command`]'s additions to `command` (typed as `path` after `keychain`) and its subcommands.
fn decorate(command: clap::Command, path: &str) -> clap::Command {
    let mut command = describe_positionals(command);
    // keychain's own examples are in its after_help, with the topics and exit statuses.
    if let Some(examples) = help::examples_help(path).filter(|_| !path.is_empty()) {
        let long = match command.get_after_long_help() {
            Some(more) => format!("{examples}\n{more}"),
            None => examples.clone(),
        };
        command = command.after_help(examples).after_long_help(long);
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    for name in names {
        let sub_path = format!("{path} {name}").trim_start().to_string();
        command = command.mut_subcommand(&name, |sub| decorate(sub, &sub_path));
    }
    command
}

/// Gives each positional argument without help its description from
/// [`help::POSITIONAL_HELP`] (an account NAME shared by many commands).
fn describe_positionals(command: clap::Command) -> clap::Command {
    let bare: Vec<String> = command
        .get_positionals()
        .filter(|arg| arg.get_help().is_none())
        .map(|arg| arg.get_id().to_string())
        .collect();
    bare.into_iter().fold(command, |command, id| {
        match help::POSITIONAL_HELP.iter().find(|(name, _)| *name == id) {
            Some((_, text)) => command.mut_arg(id, |arg| arg.help(*text)),
            None => command,
        }
    })
}

/// A subcommand's own clap command, built as the derive of [`Command`] builds it but without its
/// help texts (which only `--help` shows, and `--help` goes through the whole tree): for the
/// commands that run often. A command not listed here is parsed with the whole tree, so a new
/// subcommand needs only its variant in [`Command`]; listing it here is an optional speed-up,
/// and the test `one_subcommand_parses_as_the_whole_tree` checks that every entry matches.
pub fn one_subcommand(name: &str) -> Option<clap::Command> {
    let command = clap::Command::new(name.to_string());
    Some(describe_positionals(match name {
        "totp" => TotpArgs::augment_args(command),
        "show" => ShowArgs::augment_args(command),
        "login" => LoginArgs::augment_args(command),
        "exec" => ExecArgs::augment_args(command),
        "list" => ListArgs::augment_args(command),
        "status" => StatusArgs::augment_args(command),
        "audit" => AuditArgs::augment_args(command),
        "refresh" => RefreshArgs::augment_args(command),
        "unlock" => UnlockArgs::augment_args(command),
        "read" => ReadArgs::augment_args(command),
        "inject" => InjectArgs::augment_args(command),
        "git-credential" => GitCredentialArgs::augment_args(command),
        "kube-credential" => KubeCredentialArgs::augment_args(command),
        "lock" => command,
        _ => return None,
    }))
}

/// `KEYCHAIN_FORMAT`: `json` makes JSON the default of the commands that print a document
/// ([`Prints::Document`]); `text`, empty or unset leaves it text. Any other value is a usage
/// error.
pub fn json_from_env() -> Result<bool, String> {
    match std::env::var("KEYCHAIN_FORMAT").as_deref() {
        Ok("json") => Ok(true),
        Ok("text" | "") | Err(_) => Ok(false),
        Ok(other) => Err(format!(
            "KEYCHAIN_FORMAT={other} is not a format: use json or text"
        )),
    }
}

/// What a command writes on standard output, which decides what `--json` and
/// `KEYCHAIN_FORMAT=json` do to it. An explicit `--json` always applies, or is refused (exit 2)
/// where the output has no JSON form; the variable only sets the default of commands that print
/// a document. A bare value (a token, a code, a secret, a script) is read by a shell or another
/// program, so the variable never turns it into JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prints {
    /// A document: text for a person, or JSON by `--json` or `KEYCHAIN_FORMAT=json`.
    Document,
    /// A bare value, or another program's output or protocol: JSON (the command's JSON form, or
    /// errors as JSON objects) only by `--json`.
    Value,
    /// A bare value with no JSON form: `--json` is refused. Says what it prints.
    ValueOnly(&'static str),
}

impl Command {
    /// What this command, with these flags, prints (see [`Prints`]): the one table of it.
    pub fn prints(&self) -> Prints {
        use crate::cmd::AuditCommand;
        match self {
            Command::Totp(_)
            | Command::Login(_)
            | Command::Exec(_)
            | Command::Inject(_)
            | Command::GitCredential(_)
            | Command::KubeCredential(_) => Prints::Value,
            Command::Audit(args) if matches!(args.command, Some(AuditCommand::Fingerprint(_))) => {
                Prints::Value
            }
            Command::Audit(args)
                if is_dash(&args.report.html)
                    || matches!(&args.command, Some(AuditCommand::Report(r)) if is_dash(&r.html)) =>
            {
                Prints::ValueOnly("audit --html - prints the HTML page")
            }
            Command::Show(args) if args.reveal.is_some() => {
                Prints::ValueOnly("show --reveal prints the bare secret")
            }
            Command::Read(_) => Prints::ValueOnly("read prints the bare value"),
            Command::Export(args) if args.file.as_path() == std::path::Path::new("-") => {
                Prints::ValueOnly("export - prints the encrypted backup")
            }
            Command::Unlock(args) if args.systemd_credential => Prints::ValueOnly(
                "unlock --systemd-credential prints the identity for systemd-creds",
            ),
            Command::Man(_) => Prints::ValueOnly("man prints roff"),
            Command::Completions(_) => Prints::ValueOnly("completions prints a shell script"),
            _ => Prints::Document,
        }
    }
}

/// Whether an output file is `-`, standard output.
fn is_dash(file: &Option<PathBuf>) -> bool {
    file.as_deref() == Some(std::path::Path::new("-"))
}

impl Cli {
    /// Whether an error of this run is a JSON object: `--json`, or `KEYCHAIN_FORMAT=json` for a
    /// command that prints a document (see [`Prints`]).
    pub fn json_errors(&self) -> bool {
        self.global.json
            || (self.command.prints() == Prints::Document && json_from_env().unwrap_or(false))
    }
}

/// Whether an error before parsing finished (a usage error) should be JSON: `--json` among the
/// arguments before `--`, or `KEYCHAIN_FORMAT=json` unless the command named is one whose output
/// is a bare value (as far as can be told before parsing: its name).
pub fn json_in_raw_args(args: &[std::ffi::OsString]) -> bool {
    const VALUE_COMMANDS: [&str; 9] = [
        "totp",
        "login",
        "exec",
        "inject",
        "git-credential",
        "kube-credential",
        "read",
        "man",
        "completions",
    ];
    let before_end = || args.iter().skip(1).take_while(|a| *a != "--");
    if before_end().any(|a| a == "--json") {
        return true;
    }
    let named = before_end().find(|a| !a.as_encoded_bytes().starts_with(b"-"));
    json_from_env().unwrap_or(false)
        && !named.is_some_and(|name| VALUE_COMMANDS.iter().any(|c| name == *c))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a keychain: a new age identity kept in the chosen key store
    Init(InitArgs),
    /// Onboard an account: provider, client, user name and its secrets
    Add(AddArgs),
    /// Move accounts between keychains: a local one and one shared on OpenBao, either way
    #[command(subcommand)]
    Store(StoreCommand),
    /// List the accounts with which secrets are present and their ages; never a secret
    List(ListArgs),
    /// Show one account with a fingerprint (fp:3f9a1c) of each secret, or reveal exactly one
    ///
    /// A secret is never shown in part: each is shown as 'fp:' and the first 6 hex digits of
    /// its keyed audit fingerprint, which 'keychain audit fingerprint NAME FIELD' prints whole.
    Show(ShowArgs),
    /// Change fields of an account, with the same input rules as add
    Set(SetArgs),
    /// Print the current TOTP code of an account
    Totp(TotpArgs),
    /// Remove accounts (asks first on a terminal, unless -f)
    Rm(RmArgs),
    /// Rename an account; recorded in the audit log
    ///
    /// The new record is written before the old one is removed, under the locks of both
    /// names. If the move is interrupted, the old name refuses logons and says so; running the
    /// same 'keychain mv OLD NEW' again finishes it.
    Mv(MvArgs),
    /// Print a valid access token: from the cache, by refresh, or by a headless logon
    #[command(after_long_help = LOGIN_EXIT_CODES)]
    Login(LoginArgs),
    /// Run a command with a valid access token in its environment
    Exec(ExecArgs),
    /// Print one value of an account by reference: ACCOUNT/FIELD (keychain://ACCOUNT/FIELD)
    ///
    /// The field vocabulary of inject, exec --env and --env-file: access-token (a valid token,
    /// as login gives), user, client-id, api-url, totp (the current code, recorded in the audit
    /// log); a secret only when named (password, totp-secret, client-secret, refresh-token),
    /// recorded in the audit log before it is printed. Exit 2 for a reference that is not one
    /// (an unknown field, a bad account name), 3 for an account that does not exist; otherwise
    /// as login.
    Read(ReadArgs),
    /// Render a template's {{ keychain://ACCOUNT/FIELD }} references into a file (0600) or -
    ///
    /// The template is parsed whole first: a bad reference (unknown field, bad account name, no
    /// '}}' on its line) exits 2 and an account that does not exist exits 3, with nothing
    /// written and no logon. Then every value is obtained (each secret and TOTP code recorded in
    /// the audit log), and only then is the output written: atomically, mode 0600, an existing
    /// file only with --force (or to standard output with -). Text that is not a keychain:// reference is kept
    /// byte for byte; \{{ before keychain:// writes a literal {{.
    Inject(InjectArgs),
    /// git's credential helper: a valid access token for the URLs given with --url only
    ///
    /// In git's configuration: credential.https://HOST.helper set to '!keychain git-credential
    /// ACCOUNT --url https://HOST'. get answers username, password (the token) and
    /// password_expiry_utc; a request for any other protocol, host, port or path exits 2 with
    /// nothing on standard output. store and erase write nothing: keychain keeps its own tokens
    /// and never takes one (or an oauth_refresh_token) from git.
    GitCredential(GitCredentialArgs),
    /// kubectl's exec credential plugin: an ExecCredential (client.authentication.k8s.io/v1)
    /// with the token and its expirationTimestamp
    KubeCredential(KubeCredentialArgs),
    /// Cache the identity in the kernel keyring so that later calls need no passphrase or Secret Service
    Unlock(UnlockArgs),
    /// Remove the cached identity from the kernel keyring
    Lock,
    /// Will tonight's job work? Key store, unlock, audit log, shared store, and per account
    /// what a logon needs, the last result, the lockout guard, the refresh token; exits 0 ok,
    /// 1 warning, 2 critical, 3 unknown (as monitoring plugins do)
    ///
    /// Never prompts and writes nothing: made for cron and monitoring (a systemd timer's
    /// ExecStartPost, a Nagios or Icinga check). The key store is asked itself, not the unlock
    /// cache; a passphrase store only when a job's passphrase file is given
    /// (KEYCHAIN_PASSPHRASE_FILE or the systemd credential keychain-passphrase). Findings:
    /// critical: key-store-unavailable, audit-log (logins are refused), record-unreadable,
    /// interrupted-rename, logon-rejected, incomplete-settings, cannot-log-on (no refresh
    /// token, and a password, redirect URI or a TOTP secret the provider asks for is missing),
    /// last-logon-failed; high (a warning): unlock-ends (within 24 h while the store cannot
    /// answer jobs), logon-incomplete (a headless logon would fail once the refresh token is
    /// gone), last-login-failed, error-budget, refresh-token-expired (the next logon is
    /// headless), refresh-token-idle (5 days or fewer left; Exact's 30-day rule, for Exact
    /// accounts only); medium: openbao-token-lookup (this machine's OpenBao token may not look
    /// itself up); low: openbao-default-policy (it carries OpenBao's default policy);
    /// unknown: store-unreachable (a shared store that does not answer). The
    /// exit status is the worst open finding's (one acknowledged with 'keychain audit ack ID'
    /// stays listed but no longer counts): critical over unknown over warning. Whatever stops
    /// the check itself (no keychain, no such account) exits 3.
    Status(StatusArgs),
    /// Report for a security officer: accounts, secrets and their ages, use, findings; and the audit log
    ///
    /// 'keychain audit' alone is 'keychain audit report'. Findings and their severities:
    /// critical: audit-log-damaged (without the key: hash chain and anchor), record-unreadable,
    /// record-replayed (older than the log's last write), config-not-authenticated (a recipient
    /// not vouched for: see 'audit seal-config'), writable-by-others; high: refresh-token-expired (past
    /// the idle expiry of a provider that has one: Exact's 30 days), duplicate-password, duplicate-totp-secret (compared by fingerprint, never by
    /// value), plain-identity-file, permissions (wider than 0600/0700), logon-rejected (the provider
    /// rejected the password or code; logons are refused until it is changed); medium:
    /// refresh-token-idle (idle more than 25 of those 30 days), password-old (--max-password-age),
    /// no-second-factor, key-store-not-persistent, insecure-http (credentials over plain http);
    /// low: checks-skipped (the report ran without the key: no duplicate detection, no MACs of
    /// the log or the configuration checked). Lists the recipients every record is encrypted
    /// to. Exit 1 when a finding at or above --fail-on exists.
    ///
    /// Anomaly findings, learned from the audit log itself (times in UTC), each with a
    /// FINDING-ID and the seq of the log lines it rests on: new-origin (medium): an account used
    /// from a host or by an OS user that never used it before; off-hours-logon (medium): a
    /// headless logon in an hour of day in which fewer than 2% of the account's earlier
    /// successful logins (cache, refresh or headless) fell, give or take an hour, judged once it
    /// has 20 logins; failed-logons (high): more
    /// than 3 failed logons of an account in one day; broken-chains (high): more than 2 broken
    /// refresh chains of an account in one ISO week; first-reveal (medium): an OS user reveals
    /// a secret of an account for the first time. They are listed while their latest event lies
    /// within --days. Every finding has a FINDING-ID; 'keychain audit ack FINDING-ID' (recorded
    /// in the log) acknowledges it: it stays listed, marked with who acknowledged it and when,
    /// and no longer counts towards --fail-on (nor status's exit status). The HTML report also draws, per account, a timeline of the last --days days (one
    /// row per host and OS user: cache hits per hour, refreshes, headless logons, failures,
    /// broken chains, reveals, and when the refresh token expires unused) and the events per
    /// day across accounts.
    Audit(AuditArgs),
    /// The members of a keychain: the machines (age public keys) every record is sealed to
    ///
    /// The member list is MAC'd with a group key that only members can open, so someone who
    /// can write to the store (or to the keychain folder) but is not a member cannot add a
    /// recipient: a planted one is refused with exit 7 before anything is sealed, and
    /// 'keychain audit' reports it. 'member add' and 'member rm' seal every record again to the
    /// new set, each under its account's lock, each recorded in the audit trail. A machine set
    /// up with 'init --join' but not added yet exits 6 and prints the command to ask a member
    /// for. 'member add' prints a join code (kcj1-...) naming the group key and member list it
    /// wrote; the new machine trusts nothing the store serves until 'member join CODE' finds
    /// exactly that there (until then it exits 6; a mismatch, planted or rolled back, exits 7).
    /// Every machine pins the newest member list it accepted and refuses an older one (exit 7).
    /// A 'member rm' cut short is finished by running it again.
    Member(MemberArgs),
    /// Find plain-text secrets in Invantive settings*.xml and similar files; values never shown
    ///
    /// Prints file, line and attribute of each secret, nothing of its value. Exit 1 when
    /// anything is found, 2 when a file is not well-formed XML (or has a DTD, which is never
    /// expanded), 8 when a file cannot be read. A file that cannot be scanned does not stop the
    /// scan of the others. Recorded in the audit log when a keychain exists.
    Scan(ScanArgs),
    /// Create accounts from an Invantive settings file, or restore an age-encrypted export
    ///
    /// A settings file gives one account per <database> that carries a secret, named
    /// group-connection-alias: provider from api-url, client id, redirect URL, user from
    /// defaultUserLogonCode, password (a password pair or defaultPassword), TOTP secret, client
    /// secret, refresh token (its idle time counted from the file's modification time). Each
    /// value is taken from the <database> element first and from its <connection> second.
    /// Existing accounts are skipped unless --replace. --strip then removes from the file each
    /// secret that the keychain holds with the same value (read back after the save and
    /// compared), names each value moved and each left (exit 2 when any is left), and keeps the
    /// original beside the file (mode 0600); a file reached through a symbolic link is rewritten
    /// at its target, the link stays. Every account, from a settings file or an export, is
    /// checked as 'add' checks one (provider URLs, TOTP digits and period, token characters,
    /// name); an invalid one is refused. An export (.age) needs --identity. Every account
    /// written is recorded in the audit log.
    Import(ImportArgs),
    /// Write an age-encrypted backup of all accounts, with their secrets, for one recipient
    ///
    /// The file (mode 0600, an existing one only with --force; - for standard output) is age-encrypted to AGE_PUBLIC_KEY; its plaintext
    /// is JSON {"format": "keychain-export/1", "exported": ..., "accounts": [{"header": ...,
    /// "secrets": {...}}]}. Access tokens are left out. Read it back with 'keychain import FILE
    /// --identity IDENTITY_FILE'. Recorded in the audit log before the file is written. Note
    /// that a refresh token used from the restored copy ends the chain of the original.
    Export(ExportArgs),
    /// Refresh idle refresh tokens before their idle expiry (for cron)
    ///
    /// Every account (or each NAME) whose refresh token has been idle --idle-days or more is
    /// refreshed as 'keychain login' would, under its lock, the rotated token written back first.
    /// Prints per account: refreshed, skipped (not idle), no-token, or failed with the reason.
    /// Exit 5 when any failed. For cron and systemd (the environment a job needs, a crontab line,
    /// a service and timer): keychain help cron
    Refresh(RefreshArgs),
    /// Print shell completions
    Completions(CompletionsArgs),
    /// Print a man page, or install them all where man finds them
    Man(ManArgs),
}

#[cfg(test)]
mod tests;
