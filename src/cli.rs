//! The command line, defined once: parsing, `--help`, the man page and shell completions all
//! come from these types. No flag takes a secret value: secrets come from files, standard input
//! or a no-echo prompt.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};

use crate::choice::Choice;
use crate::keystore::KeyStoreKind;
use crate::record::Flow;
use crate::severity::Severity;

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

/// Exit codes, as the man page and `--help` list them.
pub const AFTER_HELP: &str = "\
EXIT STATUS:
  0  success
  1  audit findings at or above --fail-on
  2  usage error or bad input (a flag, a file's content, a missing secret)
  3  account not found
  4  the provider rejected the credentials: a person must act; keychain does not retry, and
     refuses further logons of the account until 'set' or one 'login --retry' (see help login)
  5  provider unreachable, timed out or rate-limited; a shared store (OpenBao) unreachable,
     sealed or its lock lease lost: try again later
  6  keychain locked or key store unavailable (Secret Service missing, locked or not answering; passphrase needed);
     no OpenBao token, or it expired and logging in again did not help; this machine joined a
     shared keychain but is not a member (yet, or any more)
  7  data integrity: a record is corrupt, tampered with, replayed or encrypted to another key;
     config.json or the member list does not authenticate (a planted recipient); a keychain
     file others can write (left untouched)
  8  input/output error (disk full, permission denied), also writing standard output or error;
     OpenBao refused a path (403: the message names the path and the missing capability)
126  exec: the program cannot be run (no execute permission, a folder)
127  exec: no such program (checked before any logon)
141  standard output or error was closed by its reader (| head, grep -q): the command stops
     quietly, as cat and grep do (a shell reports them as 141 = 128 + SIGPIPE)
  A change that was saved (add, set, rm, init, import, refresh, unlock, lock, export, audit
  rotate) keeps its status when its closing message cannot be written.
  'man keychain-COMMAND' lists each command's own; 'keychain help cron' shows unattended use.

ENVIRONMENT:
  KEYCHAIN_DIR                 the keychain folder (as --dir)
  KEYCHAIN_PASSPHRASE_FILE     file whose first line is the passphrase of a 'passphrase' key store
                               (e.g. a systemd credential); without it keychain prompts on a terminal
  KEYCHAIN_KEYRING_TIMEOUT     seconds to wait for the OS credential store (at most and by default 5)
  KEYCHAIN_LOCK_TIMEOUT        seconds to wait for another process holding an account (default 60,
                               at most 86400)
  KEYCHAIN_OPENBAO_LEASE       seconds of the lock lease on a shared store (default 30, 2 to 3600);
                               every machine of the keychain must use the same value
  BAO_TOKEN, VAULT_TOKEN       the OpenBao token, for a shared keychain set up without --token-file
                               or AppRole
  KEYCHAIN_SCRYPT_WORK_FACTOR  scrypt log2 work factor for a new passphrase identity (default: age's
                               calibration, about one second); low values are for tests only";

/// `keychain help cron` and the man page's UNATTENDED USE section.
pub const CRON_HELP: &str = "\
RUNNING KEYCHAIN FROM CRON AND SYSTEMD

A job has no terminal, no desktop session and little environment. It needs:
  KEYCHAIN_DIR      the keychain folder, explicitly (cron sets no XDG_DATA_HOME)
  PATH              a PATH that reaches keychain
  the key           one of: a passphrase key store with KEYCHAIN_PASSPHRASE_FILE (or the
                    systemd credential keychain-passphrase); 'keychain unlock --for 25h'
                    from a login shell (the kernel keyring serves cron until it ends);
                    a file key store. The os key store needs the desktop's Secret Service,
                    which cron and system services do not reach.
Keep refresh tokens alive (Exact Online's expire after 30 days unused) and check that the
jobs will work with 'keychain status' (exit 1 and the findings when they will not).

crontab (examples/keychain.crontab in the source tree):
  KEYCHAIN_DIR=/var/lib/etl/keychain
  KEYCHAIN_PASSPHRASE_FILE=/etc/keychain/passphrase
  PATH=/usr/local/bin:/usr/bin:/bin
  17 3 * * * keychain refresh --all --idle-days 20 >/dev/null; keychain status >\"$HOME/keychain-status.txt\" || cat \"$HOME/keychain-status.txt\"
cron mails what the last command prints: the status, only when something needs a person.

systemd (examples/keychain-refresh.service and .timer), as a system service running as
the job's user; LoadCredential= hands the passphrase to the service without the user being
able to read the file:
  [Service]
  Type=oneshot
  User=etl
  Environment=KEYCHAIN_DIR=/var/lib/etl/keychain
  LoadCredential=keychain-passphrase:/etc/keychain/passphrase
  ExecStart=/usr/local/bin/keychain refresh --all --idle-days 20
  ExecStartPost=/usr/local/bin/keychain status
  [Timer]
  OnCalendar=*-*-* 03:17:00
  Persistent=true
keychain reads $CREDENTIALS_DIRECTORY/keychain-passphrase when KEYCHAIN_PASSPHRASE_FILE is
not set. A failed status fails the unit: 'systemctl --failed' and OnFailure= see it.";

/// `keychain help login`: what each outcome of a logon exits with.
pub const LOGIN_EXIT_CODES: &str = "\
EXIT STATUS OF LOGIN, BY CASE:
  0  a token: from the cache, by refresh (the rotated refresh token is stored
     first) or by a headless logon
  2  the account cannot log on as configured: no password and no usable refresh
     token, no client id or redirect URI; or a page asked for a credential to go
     where the account does not allow (another host: --allow-host HOST; plain
     http: --insecure-http; in a URL: never); nothing was sent
  3  no such account
  4  the provider rejected the password or one-time code. The rejection is
     recorded and every later login exits 4 at once, sending nothing, until
     'keychain set NAME --password-file FILE' (or --totp-file, --totp-qr) or one
     'keychain login NAME --retry'. Also: a rejected authorization code
  5  the provider is unreachable, timed out, rate-limited or answered 5xx; it
     refused a refresh for another reason than a dead grant (403, 404, 407,
     invalid_client: the refresh token is kept); an answer larger than keychain
     reads (1 MiB for tokens, 8 MiB for pages); an unknown page; no fresh TOTP
     time step within 5 s
  6  the keychain is locked or its key store unavailable
  7  a record is corrupt or tampered with, or a stored token has control characters
  8  input/output error

Only a dead grant retires a refresh token: invalid_grant, Exact's \"Old refresh
token used.\" and its expired-token message, LemonLDAP::NG's bare
invalid_request. keychain then logs on once. The provider's clock (its Date
header) is followed up to 10 minutes; past that keychain uses its own and says so.";

pub use crate::oauth::PROVIDERS;

/// A credential keychain for unattended logons: stores OAuth2 accounts with their passwords and
/// TOTP secrets encrypted with age, its key in the OS credential store, and hands scripts a
/// valid access token.
#[derive(Debug, Parser)]
#[command(name = "keychain", version, about, after_help = AFTER_HELP, after_long_help = AFTER_HELP)]
pub struct Cli {
    /// The keychain folder [default: $XDG_DATA_HOME/keychain]
    #[arg(long, global = true, env = "KEYCHAIN_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Print JSON for tools: one document, "format": 1 first (see keychain(1), JSON OUTPUT);
    /// an error is then a JSON object on standard error [env: KEYCHAIN_FORMAT=json]
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Whether JSON was asked for: `--json`, or `KEYCHAIN_FORMAT=json`. Any other value of
/// `KEYCHAIN_FORMAT` than `json`, `text` or empty is a usage error.
pub fn json_wanted(flag: bool) -> Result<bool, String> {
    match std::env::var("KEYCHAIN_FORMAT").as_deref() {
        _ if flag => Ok(true),
        Ok("json") => Ok(true),
        Ok("text" | "") | Err(_) => Ok(false),
        Ok(other) => Err(format!(
            "KEYCHAIN_FORMAT={other} is not a format: use json or text"
        )),
    }
}

/// Whether an error before parsing finished (a usage error) should be JSON: `--json` among
/// the arguments before `--`, or `KEYCHAIN_FORMAT=json`.
pub fn json_in_raw_args(args: &[std::ffi::OsString]) -> bool {
    args.iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--json")
        || std::env::var("KEYCHAIN_FORMAT").as_deref() == Ok("json")
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
    /// Cache the identity in the kernel keyring so that later calls need no passphrase or Secret Service
    Unlock(UnlockArgs),
    /// Remove the cached identity from the kernel keyring
    Lock,
    /// Will tonight's job work? Key store, unlock, and per account the last logon, the refresh
    /// token's days left, the lockout guard; exit 0 when all is well, 1 otherwise
    ///
    /// Never prompts, takes no lock and writes nothing: made for cron and monitoring (e.g. a
    /// systemd timer's ExecStartPre, or a Nagios-style check). The key store is asked itself,
    /// not the unlock cache; a passphrase store only when a job's passphrase file is given
    /// (KEYCHAIN_PASSPHRASE_FILE or the systemd credential keychain-passphrase). Findings:
    /// error: key-store-unavailable, record-unreadable, interrupted-rename, logon-rejected,
    /// cannot-log-on; warning: unlock-ends (within 24 h while the store cannot answer jobs),
    /// refresh-token-expired (the next logon is headless), refresh-token-idle (5 days or fewer
    /// left).
    Status(StatusArgs),
    /// Report for a security officer: accounts, secrets and their ages, use, findings; and the audit log
    ///
    /// 'keychain audit' alone is 'keychain audit report'. Findings and their severities:
    /// critical: audit-log-damaged (without the key: hash chain and anchor), record-unreadable,
    /// record-replayed (older than the log's last write), config-not-authenticated (a recipient
    /// not vouched for: see 'audit seal-config'), writable-by-others; high: refresh-token-expired (idle 30 days
    /// or more), duplicate-password, duplicate-totp-secret (compared by fingerprint, never by
    /// value), plain-identity-file, permissions (wider than 0600/0700), logon-rejected (the provider
    /// rejected the password or code; logons are refused until it is changed); medium:
    /// refresh-token-idle (more than 25 days), password-old (--max-password-age),
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
    /// within --days; 'keychain audit ack FINDING-ID' (recorded in the log) silences one for
    /// good, and the report then lists it apart with who acknowledged it. The HTML report also draws, per account, a timeline of the last --days days (one
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
    /// for.
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
    /// The file (mode 0600, never overwritten) is age-encrypted to AGE_PUBLIC_KEY; its plaintext
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

#[derive(Debug, Args)]
pub struct MemberArgs {
    #[command(subcommand)]
    pub command: MemberCommand,
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a machine by its public key (what 'init --join' printed there), then seal every record to it too
    Add(MemberAddArgs),
    /// List the members: name, public key, added when and by whom
    List,
    /// Remove a member: a new group key it cannot open, every record sealed again without it; then rotate what it could read ('keychain audit' names the accounts)
    Rm(MemberRmArgs),
}

#[derive(Debug, Args)]
pub struct MemberAddArgs {
    /// The new member's age public key (age1...)
    #[arg(value_name = "RECIPIENT")]
    pub recipient: String,
    /// A name for it, usually its host name (default: the start of its public key)
    #[arg(long, value_name = "HOST")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct MemberRmArgs {
    /// The member's name as 'keychain member list' shows it
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// `keychain audit` alone prints the report; its flags then apply as to `keychain audit report`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Per account: provider, user, secrets and their ages, last use, logons; then the findings (the default)
    Report(ReportArgs),
    /// Check the audit log (all rotated files and the live one) for edited, deleted, reordered, inserted or cut lines; exit 7 and the place of each problem when it fails
    Verify,
    /// Print the fingerprint of a value read from standard input (never an argument), say whether it is NAME's current FIELD and where the log holds it; recorded
    ///
    /// Exit 0 when the value is NAME's current FIELD, 1 when it is not (or there is no account
    /// NAME now); the log lines holding it are listed either way.
    Fingerprint(FingerprintArgs),
    /// Move the live log aside and start a new one that continues its chain
    Rotate,
    /// Authenticate config.json (its recipients) under the keychain's key, after checking the recipients 'keychain audit' lists; writes are refused until the configuration authenticates
    SealConfig,
    /// Acknowledge an anomaly finding so that reports stop listing it; recorded in the audit log
    Ack(AckArgs),
}

#[derive(Debug, Args)]
pub struct AckArgs {
    /// The finding's ID as the report lists it, e.g. new-origin-3f2a9c1b0e
    #[arg(value_name = "FINDING-ID")]
    pub id: String,
}

#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// Set from the global --json (or KEYCHAIN_FORMAT=json) by `cmd::dispatch`
    #[arg(skip)]
    pub json: bool,
    /// Also write the report as a self-contained HTML page to FILE (mode 0600)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Exit with 1 when a finding of this severity or worse exists
    #[arg(long, value_parser = choice::<Severity>(), value_name = "SEVERITY", default_value_t = Severity::High)]
    pub fail_on: Severity,
    /// A password older than DAYS is a finding
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    pub max_password_age: u32,
    /// Do not ask the key store for the key: report from the public headers and the log only
    /// (duplicate secrets and the log's integrity are then not checked)
    #[arg(long)]
    pub no_key: bool,
    /// Days of activity the HTML timelines show, ending now; anomaly findings whose latest event
    /// is older are not listed
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub days: u32,
}

#[derive(Debug, Args)]
pub struct FingerprintArgs {
    /// The account whose stored value the fingerprint is compared with
    #[arg(add = account_names())]
    pub name: String,
    /// The field the value belongs to
    #[arg(value_enum)]
    pub field: RevealField,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or folders (searched recursively; symbolic links inside are not followed)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An Invantive settings file (.xml) or a file written by 'keychain export' (.age)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Then remove from the settings file each secret the keychain holds with the same value (backup kept beside it, mode 0600)
    #[arg(long)]
    pub strip: bool,
    /// The age identity file that opens an export (needed for .age files)
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Overwrite existing accounts of the same name
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Encrypt the backup to this age public key (age1...)
    #[arg(long, value_name = "AGE_PUBLIC_KEY", required = true)]
    pub recipient: String,
    /// Where to write the backup; refused if it exists
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["all", "names"])))]
pub struct RefreshArgs {
    /// Every account with a refresh token
    #[arg(long)]
    pub all: bool,
    /// These accounts only
    #[arg(value_name = "NAME", add = account_names())]
    pub names: Vec<String>,
    /// Refresh only tokens idle (neither issued nor used) for DAYS days or more
    #[arg(long, value_name = "DAYS", default_value_t = 20)]
    pub idle_days: u32,
}

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

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy accounts into another keychain (e.g. from a local one into one shared on OpenBao,
    /// or back), sealed to that keychain's recipients
    ///
    /// The target is an initialised keychain folder ('keychain --dir DIR init ...'); an account
    /// that already exists there is refused (exit 2) and nothing more is copied. Each account
    /// stays locked here while it is copied. Give --move to remove each account here once it
    /// is stored there: a refresh-token chain used from two keychains breaks at every refresh.
    Copy(StoreCopyArgs),
}

#[derive(Debug, Args)]
pub struct StoreCopyArgs {
    /// The keychain folder to copy into
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// Remove each account here after it was stored in the target
    #[arg(long = "move")]
    pub remove: bool,
    /// The accounts to copy [default: all]
    #[arg(value_name = "NAME", add = account_names())]
    pub names: Vec<String>,
}

/// Where a new keychain keeps its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreChoice {
    /// Files in the keychain folder
    Local,
    /// OpenBao or Vault KV version 2
    Openbao,
}

/// Provider settings shared by `add` and `set`.
#[derive(Debug, Args, Default)]
pub struct ProviderArgs {
    /// The provider: exact-nl, exact-be, exact-de, exact-uk, exact-us, exact-es, exact-fr (URLs built in), oidc (with --issuer), oauth2 (with explicit URLs)
    #[arg(long, value_parser = PROVIDERS, value_name = "PROVIDER")]
    pub provider: Option<String>,
    /// OpenID Connect issuer; endpoints come from its discovery document
    #[arg(long, value_name = "URL", conflicts_with_all = ["authorize_url", "token_url"])]
    pub issuer: Option<String>,
    /// OAuth2 authorization endpoint
    #[arg(long, value_name = "URL", requires = "token_url")]
    pub authorize_url: Option<String>,
    /// OAuth2 token endpoint
    #[arg(long, value_name = "URL", requires = "authorize_url")]
    pub token_url: Option<String>,
    /// The client (application) id registered at the provider
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// The redirect URI registered for the client; nothing needs to listen there
    #[arg(long, value_name = "URL")]
    pub redirect_uri: Option<String>,
    /// Scopes to request, space-separated
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// The OAuth2 flow
    #[arg(long, value_parser = choice::<Flow>(), value_name = "FLOW")]
    pub flow: Option<Flow>,
    /// Also let this host receive the password and code, beyond the hosts of the account's own
    /// URLs (e.g. a separate login host the provider sends its form to); repeatable. At set,
    /// the list given replaces the recorded one. Recorded in the account and the audit log
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Forget the hosts recorded with --allow-host
    #[arg(long, conflicts_with = "allow_hosts")]
    pub no_allow_hosts: bool,
    /// Accept plain http URLs to hosts other than loopback: credentials then travel
    /// unencrypted. Recorded in the account; 'keychain audit' reports it
    #[arg(long)]
    pub insecure_http: bool,
}

/// Secrets, each from a file or `-` for standard input (at most one per call).
#[derive(Debug, Args, Default)]
pub struct SecretArgs {
    /// Read the password from FILE (- for standard input)
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Read the TOTP secret from FILE: a base32 secret, an otpauth:// URI or an otpauth-migration:// export
    #[arg(long, value_name = "FILE", conflicts_with = "totp_qr")]
    pub totp_file: Option<PathBuf>,
    /// Read the TOTP secret from a PNG or JPEG image of its QR code
    #[arg(long, value_name = "IMAGE")]
    pub totp_qr: Option<PathBuf>,
    /// Which entry of a Google Authenticator export (several accounts in one QR or
    /// otpauth-migration:// text) to take: its number (1, 2, ...), ISSUER:LABEL, or an issuer or
    /// label that only one entry has
    #[arg(long, value_name = "N|ISSUER:LABEL")]
    pub totp_select: Option<String>,
    /// Refuse the TOTP secret unless it produces the current code read from FILE (- for standard
    /// input), as your authenticator app shows it. Never the code itself as an argument: a live
    /// code in the argument list is visible to every user of the machine while it is valid
    #[arg(long, value_name = "FILE")]
    pub totp_check_file: Option<PathBuf>,
    /// Read the client secret from FILE (- for standard input)
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// Read a refresh token from FILE (- for standard input)
    #[arg(long, value_name = "FILE")]
    pub refresh_token_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Account name: letters, digits, '.', '_' and '-'
    pub name: String,
    #[command(flatten)]
    pub provider: ProviderArgs,
    /// The user name to log on with
    #[arg(long, value_name = "USER")]
    pub user: String,
    #[command(flatten)]
    pub secrets: SecretArgs,
    /// The account has no password (it logs on with a refresh token only)
    #[arg(long, conflicts_with = "password_file")]
    pub no_password: bool,
    /// The account has no second factor: do not ask for a TOTP secret
    #[arg(long, conflicts_with_all = ["totp_file", "totp_qr"])]
    pub no_totp: bool,
    /// Overwrite an existing account of this name
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the accounts whose name matches: a shell-style pattern (*, ?, [abc]); without
    /// wildcards, the names that contain it
    #[arg(value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// Set from the global --json (or KEYCHAIN_FORMAT=json) by `cmd::dispatch`
    #[arg(skip)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[arg(add = account_names())]
    pub name: String,
    /// Set from the global --json (or KEYCHAIN_FORMAT=json) by `cmd::dispatch`
    #[arg(skip)]
    pub json: bool,
    /// Print exactly this one secret and a newline, for scripts
    #[arg(long, value_enum, value_name = "FIELD")]
    pub reveal: Option<RevealField>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RevealField {
    Password,
    TotpSecret,
    ClientSecret,
    RefreshToken,
    AccessToken,
}

impl From<RevealField> for crate::record::SecretField {
    fn from(f: RevealField) -> Self {
        use crate::record::SecretField as S;
        match f {
            RevealField::Password => S::Password,
            RevealField::TotpSecret => S::TotpSecret,
            RevealField::ClientSecret => S::ClientSecret,
            RevealField::RefreshToken => S::RefreshToken,
            RevealField::AccessToken => S::AccessToken,
        }
    }
}

#[derive(Debug, Args)]
pub struct SetArgs {
    #[arg(add = account_names())]
    pub name: String,
    #[command(flatten)]
    pub provider: ProviderArgs,
    /// A new user name
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    #[command(flatten)]
    pub secrets: SecretArgs,
    /// Remove a stored field: a secret or a plain setting (scope, redirect-uri, issuer, ...);
    /// repeatable. The account must still be able to log on afterwards
    #[arg(long, alias = "clear", value_enum, value_name = "FIELD")]
    pub unset: Vec<UnsetField>,
}

/// A field `set --unset` can remove: the secrets and the optional plain settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UnsetField {
    Password,
    TotpSecret,
    ClientSecret,
    RefreshToken,
    AccessToken,
    Issuer,
    AuthorizeUrl,
    TokenUrl,
    ClientId,
    RedirectUri,
    Scope,
    AllowHost,
}

impl UnsetField {
    /// The secret this field names, if it is one.
    pub fn secret(self) -> Option<crate::record::SecretField> {
        use crate::record::SecretField as S;
        Some(match self {
            UnsetField::Password => S::Password,
            UnsetField::TotpSecret => S::TotpSecret,
            UnsetField::ClientSecret => S::ClientSecret,
            UnsetField::RefreshToken => S::RefreshToken,
            UnsetField::AccessToken => S::AccessToken,
            _ => return None,
        })
    }
}

#[derive(Debug, Args)]
pub struct TotpArgs {
    #[arg(add = account_names())]
    pub name: String,
    /// Wait for the next time step when fewer than SECONDS remain in the current one
    #[arg(long, value_name = "SECONDS")]
    pub fresh: Option<u64>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Set from the global --json (or KEYCHAIN_FORMAT=json) by `cmd::dispatch`
    #[arg(skip)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// The accounts to remove; none is removed unless all exist
    #[arg(required = true, value_name = "NAME", add = account_names())]
    pub names: Vec<String>,
    /// Do not ask for confirmation (without a terminal keychain never asks)
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct MvArgs {
    /// The account's current name
    #[arg(value_name = "OLD", add = account_names())]
    pub old: String,
    /// Its new name: letters, digits, '.', '_' and '-'; must not exist
    #[arg(value_name = "NEW")]
    pub new: String,
}

/// Shell completion of account names (clap_complete's dynamic engine, see `crate::complete`).
fn account_names() -> clap_complete::engine::ArgValueCandidates {
    clap_complete::engine::ArgValueCandidates::new(crate::complete::account_candidates)
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// How long the identity stays cached, e.g. 8h, 30m, 7d (from 1s to 30d). The default, 25h, reaches past the
    /// next run of any daily job whenever the unlock happens (8 h after 17:00 ends before a
    /// 03:17 job); 'keychain status' says when it ends
    #[arg(long = "for", value_name = "DURATION", default_value = "25h", value_parser = parse_unlock_duration)]
    pub duration: std::time::Duration,
}

/// The longest `unlock --for`: the kernel counts a key's timeout in 32-bit seconds, and a cached
/// identity that outlives a month is a forgotten one.
pub const MAX_UNLOCK: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// `--for DURATION`, validated here so that what is reported is what the kernel is told.
pub fn parse_unlock_duration(text: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if d < std::time::Duration::from_secs(1) {
        return Err("must be at least one second".into());
    }
    if d > MAX_UNLOCK {
        return Err("must be at most 30 days (30d); unlock again when it runs out".into());
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The page: keychain (the default) or a command (login, exec, status, ...)
    #[arg(value_name = "PAGE", conflicts_with = "install")]
    pub page: Option<String>,
    /// Write every page to DIR/man1 [default DIR: $XDG_DATA_HOME/man, else ~/.local/share/man,
    /// which man finds when ~/.local/bin is on PATH]
    #[arg(long, value_name = "DIR", num_args = 0..=1)]
    pub install: Option<Option<PathBuf>>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Print the script that registers completion for SHELL: source it from the shell's
    /// start-up file, e.g. in ~/.bashrc: source <(keychain completions bash)
    pub shell: clap_complete::Shell,
}

/// How a logon behaves; shared by `login` and `exec`.
#[derive(Debug, Args)]
pub struct LogonArgs {
    /// Serve a cached access token only when it stays valid for more than SECONDS
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub min_valid: u32,
    /// Write the provider's pages seen during a headless logon to DIR, secrets redacted, for a bug report
    #[arg(long, value_name = "DIR")]
    pub debug_pages: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[arg(add = account_names())]
    pub name: String,
    /// How to print the token
    #[arg(long, value_enum, default_value_t = crate::cmd::login::OutputFormat::Token)]
    pub format: crate::cmd::login::OutputFormat,
    #[command(flatten)]
    pub logon: LogonArgs,
    /// Allow one logon although the provider rejected this account's password or code before
    /// (by default keychain then refuses every logon, so that a job cannot lock the account out)
    #[arg(long)]
    pub retry: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The account whose access token goes into --env-name (optional with --env)
    #[arg(add = account_names(), required_unless_present = "env")]
    pub name: Option<String>,
    /// The environment variable that carries NAME's token
    #[arg(long, value_name = "VAR", default_value = "KEYCHAIN_ACCESS_TOKEN")]
    pub env_name: String,
    /// Put ACCOUNT's FIELD into VAR; repeatable, several accounts allowed. FIELD: access-token
    /// (a valid token, as login gives), user, client-id, api-url (Exact Online's API base);
    /// a secret (password, totp-secret, client-secret, refresh-token) only when named, and
    /// recorded in the audit log before the program starts
    #[arg(long = "env", value_name = "VAR=ACCOUNT:FIELD", value_parser = crate::cmd::exec_env::parse)]
    pub env: Vec<crate::cmd::exec_env::EnvSpec>,
    #[command(flatten)]
    pub logon: LogonArgs,
    /// The command and its arguments, after --
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// No flag of any command takes a secret (password, TOTP secret or code, client secret,
    /// token) as its value: the argument list is visible to every user of the machine. A flag
    /// named after a secret takes a FILE (or a picture of one), or selects without holding one.
    #[test]
    fn no_flag_takes_a_secret_value() {
        const SECRET_WORDS: [&str; 5] = ["password", "secret", "token", "totp", "code"];
        // Named after a secret but holding none: which entry of an export, a policy in days, an
        // endpoint.
        const NOT_SECRETS: [&str; 3] = ["totp_select", "max_password_age", "token_url"];
        let mut checked = 0;
        let mut offenders: Vec<String> = Vec::new();
        let mut stack = vec![super::Cli::command()];
        while let Some(command) = stack.pop() {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                let takes_value = arg.get_action().takes_values();
                if !takes_value
                    || arg.is_positional()
                    || NOT_SECRETS.contains(&id)
                    || !SECRET_WORDS.iter().any(|w| id.contains(w))
                {
                    continue;
                }
                checked += 1;
                let names: Vec<&str> = arg
                    .get_value_names()
                    .unwrap_or_default()
                    .iter()
                    .map(|n| n.as_str())
                    .collect();
                if !(id.ends_with("_file")
                    || id.ends_with("_qr")
                    || names == ["FILE"]
                    || names == ["IMAGE"])
                {
                    offenders.push(format!(
                        "keychain {} --{} {names:?}",
                        command.get_name(),
                        arg.get_long().unwrap_or(id)
                    ));
                }
            }
            stack.extend(command.get_subcommands().cloned());
        }
        assert!(
            offenders.is_empty(),
            "a flag named after a secret must read it from a file, not take it as its value: {offenders:#?}"
        );
        assert!(
            checked >= 5,
            "only {checked} secret-named flags found: is the walk broken?"
        );
    }
}
