//! The help texts that `--help`, `keychain help cron` and the man page share.

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
  'man keychain-COMMAND' lists each command's own; 'keychain help cron' shows unattended use.";

/// `keychain help cron` and the man page's UNATTENDED USE section.
pub const CRON_HELP: &str = "\
RUNNING KEYCHAIN FROM CRON AND SYSTEMD

A job has no terminal, no desktop session and little environment. It needs:
  KEYCHAIN_DIR      the keychain folder, explicitly (cron sets no XDG_DATA_HOME)
  PATH              a PATH that reaches keychain
  the key           the fast ways, no key derivation per call:
                    a systemd service: the identity as an encrypted credential
                    (LoadCredentialEncrypted=keychain-identity, below);
                    cron: a passphrase key store with KEYCHAIN_PASSPHRASE_FILE. The first
                    job derives the key once (about a second and hundreds of MB; jobs
                    started with it wait for it) into the kernel keyring, and later jobs
                    read it there until it goes unused for 2 hours, the passphrase file or
                    identity.age changes, or 'keychain lock'.
                    Also: 'keychain unlock --for 25h' from a login shell; a file key store.
                    The os key store needs the desktop's Secret Service, which cron and
                    system services do not reach.
Keep refresh tokens alive (Exact Online's expire after 30 days unused) and check that the
jobs will work with 'keychain status' (exit 1 warning, 2 critical, 3 unknown, with the
findings, when they may not). To hear at once when a job needs a person (a rejected
password or code, a lockout guard, a dead refresh token and no password), set
KEYCHAIN_ON_FAILURE=CMD (or --on-failure CMD on login, exec and refresh): CMD runs once per
incident, with KEYCHAIN_ACCOUNT, KEYCHAIN_FAILURE_REASON and KEYCHAIN_EXIT_CODE set.

crontab (examples/keychain.crontab in the source tree):
  KEYCHAIN_DIR=/var/lib/etl/keychain
  KEYCHAIN_PASSPHRASE_FILE=/etc/keychain/passphrase
  PATH=/usr/local/bin:/usr/bin:/bin
  17 3 * * * keychain refresh --all --idle-days 20 >/dev/null; keychain status >\"$HOME/keychain-status.txt\" || cat \"$HOME/keychain-status.txt\"
cron mails what the last command prints: the status, only when something needs a person.
The passphrase file is the job user's, mode 0600.

systemd (examples/keychain-refresh.service and .timer), as a system service running as
the job's user, handed the keychain's identity as an encrypted credential. Make it once
as root (again after the key is rotated); systemd-creds binds it to this machine's TPM2,
or else its host key:
  runuser -u etl -- keychain --dir /var/lib/etl/keychain unlock --systemd-credential \\
    | systemd-creds encrypt --name=keychain-identity - /etc/credstore.encrypted/keychain-identity
  [Service]
  Type=oneshot
  User=etl
  Environment=KEYCHAIN_DIR=/var/lib/etl/keychain
  LoadCredentialEncrypted=keychain-identity:/etc/credstore.encrypted/keychain-identity
  ExecStart=/usr/local/bin/keychain refresh --all --idle-days 20
  ExecStartPost=/usr/local/bin/keychain status
  [Timer]
  OnCalendar=*-*-* 03:17:00
  Persistent=true
keychain reads $CREDENTIALS_DIRECTORY/keychain-identity first. A passphrase credential
(LoadCredential=keychain-passphrase:FILE) still works but derives the key on every call
and never caches it: the cached key would outlive the service's run. A failed status
fails the unit: 'systemctl --failed' and OnFailure= see it.";

/// `keychain help login`: what each outcome of a logon exits with.
pub const LOGIN_EXIT_CODES: &str = "\
EXIT STATUS OF LOGIN, BY CASE:
  0  a token: from the cache, by refresh (the rotated refresh token is stored
     first) or by a headless logon
  2  the account cannot log on as configured: no password and no usable refresh
     token, no client id or redirect URI; the provider asks for a one-time code
     and the account has no TOTP secret, or refuses the client (invalid_client)
     and the account has no client secret; or a page asked for a credential to go
     where the account does not allow (another host: --allow-host HOST; plain
     http: --insecure-http; in a URL: never). The hint names the account
  3  no such account
  4  the provider rejected the password or one-time code. The rejection is
     recorded and every later login exits 4 at once, sending nothing, until
     'keychain set NAME --password-file FILE' (or --totp-file, --totp-qr) or one
     'keychain login NAME --retry'. Also: a rejected authorization code
  5  the provider is unreachable, timed out, rate-limited or answered 5xx; it
     refused a refresh for another reason than a dead grant (403, 404, 407,
     invalid_client: the refresh token is kept); an answer larger than keychain
     reads (1 MiB for tokens, 8 MiB for pages); an unknown page; no fresh TOTP
     time step within one period (30 s; the period itself up to 120 s); a
     one-time code the provider took as used or expired twice in a row
  6  the keychain is locked or its key store unavailable
  7  a record is corrupt or tampered with, or a stored token has control characters
  8  input/output error

Only a dead grant retires a refresh token: invalid_grant, Exact's \"Old refresh
token used.\" and its expired-token message, LemonLDAP::NG's bare
invalid_request. keychain then logs on once. The provider's clock (its Date
header) is followed up to 10 minutes; past that keychain uses its own and says so.";
