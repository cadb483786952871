//! The help texts that `--help`, `keychain help TOPIC` and the man pages share: the exit
//! statuses (generated from `keychain_core::exit::STATUSES`), the topics, and every command's
//! examples.

/// The exit statuses as `--help` and `keychain help exit-codes` list them: every row of the
/// one table, `keychain_core::exit::STATUSES`, wrapped to 90 columns.
pub fn exit_statuses() -> String {
    let mut text = String::from("Exit status:\n");
    for status in keychain_core::exit::STATUSES {
        text.push_str(&hanging(&format!("{:>5}  ", status.code), status.meaning));
    }
    text.push_str(&hanging("  ", keychain_core::exit::STATUS_NOTE));
    text.push_str(&hanging(
        "  ",
        "'man keychain-COMMAND' says what each code means for a command.",
    ));
    text
}

/// `first` and then `text`, wrapped at 90 columns, its later lines indented as far as `first`.
fn hanging(first: &str, text: &str) -> String {
    const WIDTH: usize = 90;
    let indent = " ".repeat(first.chars().count());
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// What `keychain --help` says after the commands and options: where more help is, then the
/// exit statuses.
pub fn after_help() -> String {
    let mut text = String::from("Help topics (keychain help TOPIC):\n");
    for (topic, about, _) in TOPICS {
        text.push_str(&format!("  {topic:<12} {about}\n"));
    }
    text.push('\n');
    text.push_str(&examples_help("").unwrap_or_default());
    text.push('\n');
    text.push_str(&exit_statuses());
    text
}

/// A topic of `keychain help TOPIC`: its name, what it is, and its text.
pub type Topic = (&'static str, &'static str, fn() -> String);

/// The topics of `keychain help TOPIC` that are not commands.
pub const TOPICS: [Topic; 2] = [
    (
        "cron",
        "Running keychain from cron and systemd: environment, key, crontab, service and timer",
        || CRON_HELP.to_string(),
    ),
    (
        "exit-codes",
        "Every exit status and what it means",
        exit_statuses,
    ),
];

/// The text of `keychain help TOPIC`, when TOPIC is one of [`TOPICS`].
pub fn topic(name: &str) -> Option<String> {
    TOPICS
        .iter()
        .find(|(topic, _, _)| *topic == name)
        .map(|(_, _, text)| text())
}

/// Two or three examples of each command, keyed by the command as typed after `keychain`
/// (`""` for keychain itself, `"audit verify"` for a nested one): `--help` shows them after the
/// options ([`examples_help`]) and each man page in EXAMPLES. One table, so that a new command
/// needs one row here, and a test fails for a visible command without one. A long example goes
/// on over lines that end in a backslash, so that no terminal wraps it and it pastes as it is.
pub const EXAMPLES: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "keychain init",
            "keychain add acme --provider exact-nl --client-id ID --user me@example.com \\\n    --password-file - --totp-qr qr.png",
            "keychain login acme",
            "keychain status",
        ],
    ),
    (
        "init",
        &[
            "keychain init    # the key in the desktop's Secret Service",
            "keychain --dir /var/lib/etl/keychain init --key-store passphrase    # no D-Bus",
            "keychain init --store openbao --addr https://bao.example.com:8200 --mount kv --path etl \\\n    --token-file ~/.bao-token",
        ],
    ),
    (
        "add",
        &[
            "keychain add acme --provider exact-nl --client-id ID --redirect-uri https://example.com/cb \\\n    --user me@example.com --password-file - --totp-qr qr.png",
            "keychain add idp --provider oidc --issuer https://auth.example.com --client-id etl \\\n    --user etl --password-file pw.txt --no-totp",
        ],
    ),
    (
        "store",
        &[
            "keychain store copy --to /srv/shared-keychain",
            "keychain store copy --to /srv/shared-keychain --move acme",
        ],
    ),
    (
        "store copy",
        &[
            "keychain store copy --to /srv/shared-keychain",
            "keychain store copy --to ~/.local/share/keychain --move acme crm",
        ],
    ),
    (
        "list",
        &[
            "keychain list",
            "keychain list 'acme-*'",
            "keychain list --json | jq -r '.accounts[].name'",
        ],
    ),
    (
        "show",
        &[
            "keychain show acme",
            "keychain show acme --json",
            "keychain show acme --reveal password | xclip -selection clipboard    # recorded in the log",
        ],
    ),
    (
        "set",
        &[
            "keychain set acme --password-file -",
            "keychain set acme --unset scope",
            "keychain set acme --provider exact-be",
        ],
    ),
    (
        "totp",
        &[
            "keychain totp acme",
            "keychain totp acme --fresh 5    # wait for a new code when fewer than 5 s are left",
            "keychain totp acme --json",
        ],
    ),
    (
        "rm",
        &[
            "keychain rm acme",
            "keychain rm -f old-1 old-2    # without asking (needed off a terminal)",
        ],
    ),
    (
        "mv",
        &[
            "keychain mv acme acme-prod",
            "keychain mv acme acme-prod    # interrupted? the same command again finishes it",
        ],
    ),
    (
        "login",
        &[
            "curl -H \"Authorization: Bearer $(keychain login acme)\" \\\n    https://start.exactonline.nl/api/v1/current/Me",
            "keychain login acme --format header | curl -H @- https://api.example.com/",
            "eval \"$(keychain login acme --format env --env-name EXACT_TOKEN)\"",
        ],
    ),
    (
        "exec",
        &[
            "keychain exec acme -- ./sync.sh    # the token in $KEYCHAIN_ACCESS_TOKEN",
            "keychain exec --env TOKEN=acme:access-token --env API=acme:api-url -- ./etl",
            "keychain exec --env-file job.env -- ./etl   # job.env: TOKEN=keychain://acme/access-token",
        ],
    ),
    (
        "read",
        &[
            "keychain read acme/access-token",
            "keychain read keychain://acme/totp",
            "keychain read acme/password    # a secret: only when named, recorded in the audit log",
        ],
    ),
    (
        "inject",
        &[
            "keychain inject app.ini.tpl -o app.ini   # token = {{ keychain://acme/access-token }}",
            "keychain inject - -o - < app.ini.tpl",
        ],
    ),
    (
        "git-credential",
        &[
            "git config --global credential.https://git.example.com.helper \\\n    '!keychain git-credential acme --url https://git.example.com'",
            "git config --global credential.https://gitlab.example.com.helper \\\n    '!keychain git-credential acme --url https://gitlab.example.com --username oauth2'",
        ],
    ),
    (
        "kube-credential",
        &[
            "kubectl config set-credentials acme --exec-command=keychain \\\n    --exec-api-version=client.authentication.k8s.io/v1 \\\n    --exec-arg=kube-credential --exec-arg=acme --exec-interactive-mode=Never",
            "keychain kube-credential acme | jq .status.expirationTimestamp",
        ],
    ),
    (
        "unlock",
        &[
            "keychain unlock    # for 25 hours",
            "keychain unlock --for 8h",
            "keychain unlock --systemd-credential \\\n    | systemd-creds encrypt --name=keychain-identity - \\\n    /etc/credstore.encrypted/keychain-identity",
        ],
    ),
    (
        "lock",
        &["keychain lock", "keychain lock && keychain status"],
    ),
    (
        "status",
        &[
            "keychain status || mail -s 'keychain needs a person' ops@example.com",
            "keychain status acme-books    # one job's check; a Nagios or Icinga plugin as it is",
            "keychain status --json | jq '.findings[]'",
        ],
    ),
    (
        "audit",
        &[
            "keychain audit --fail-on medium",
            "keychain audit --html report.html --days 90",
            "keychain audit verify",
        ],
    ),
    (
        "audit report",
        &[
            "keychain audit report --fail-on medium",
            "keychain audit report --no-key    # without the key: no duplicate search, no MACs",
            "keychain audit report --json | jq '.findings[]'",
        ],
    ),
    (
        "audit verify",
        &[
            "keychain audit verify",
            "keychain audit verify || mail -s 'the audit log was changed' security@example.com",
        ],
    ),
    (
        "audit fingerprint",
        &[
            "keychain audit fingerprint acme password < leaked.txt",
            "keychain audit fingerprint acme refresh-token < token.txt && echo 'the current token'",
        ],
    ),
    (
        "audit rotate",
        &[
            "keychain audit rotate",
            "keychain audit rotate && keychain audit verify",
        ],
    ),
    (
        "audit seal-config",
        &[
            "keychain audit    # check the recipients it lists first",
            "keychain audit seal-config",
        ],
    ),
    (
        "audit ack",
        &[
            "keychain audit ack new-origin-3f2a9c1b0e",
            "keychain audit --json | jq -r '.findings[].id // empty'    # the IDs to acknowledge",
        ],
    ),
    (
        "member",
        &[
            "keychain member list",
            "keychain member add age1... --name etl2",
            "keychain member rm etl2",
        ],
    ),
    (
        "member add",
        &[
            "keychain member add age1... --name etl2    # the key 'init --join' printed there",
            "ssh etl2 keychain init --join    # first, on the new machine: prints its public key",
        ],
    ),
    (
        "member join",
        &[
            "keychain member join kcj1-...    # the code 'member add' printed on the member",
            "keychain status    # then: the shared store answers, the accounts can log on",
        ],
    ),
    (
        "member list",
        &["keychain member list", "keychain member list --json"],
    ),
    (
        "member rm",
        &[
            "keychain member rm etl2",
            "keychain member rm etl2 && keychain audit    # names the accounts to rotate",
        ],
    ),
    (
        "scan",
        &[
            "keychain scan /srv/invantive",
            "keychain scan ~/.invantive settings.xml --json",
        ],
    ),
    (
        "import",
        &[
            "keychain import settings.xml --strip",
            "keychain import backup.age --identity officer.key",
        ],
    ),
    (
        "export",
        &[
            "keychain export --recipient age1... backup.age",
            "keychain import backup.age --identity officer.key    # restore it elsewhere",
        ],
    ),
    (
        "refresh",
        &[
            "keychain refresh --all --idle-days 20",
            "17 3 * * * keychain refresh --all --idle-days 20    # crontab, see keychain help cron",
            "keychain refresh acme",
        ],
    ),
    (
        "completions",
        &[
            "source <(keychain completions bash)    # in ~/.bashrc",
            "keychain completions fish > ~/.config/fish/completions/keychain.fish",
        ],
    ),
    (
        "man",
        &[
            "keychain man login",
            "keychain man --install",
            "keychain man login | man -l -",
        ],
    ),
];

/// The examples of a command (see [`EXAMPLES`]).
pub fn examples(command: &str) -> &'static [&'static str] {
    EXAMPLES
        .iter()
        .find(|(name, _)| *name == command)
        .map_or(&[], |(_, lines)| lines)
}

/// The examples of a command as `--help` shows them after its options.
pub fn examples_help(command: &str) -> Option<String> {
    let lines = examples(command);
    if lines.is_empty() {
        return None;
    }
    let mut text = String::from("Examples:\n");
    for line in lines {
        // A long example goes on over lines ending in a backslash, as in a shell.
        text.push_str(&format!("  {}\n", line.replace('\n', "\n  ")));
    }
    Some(text)
}

/// What a positional argument is, for the few that share one clap definition (an account name
/// flattened in from `shared_args`) and carry no help of their own.
pub const POSITIONAL_HELP: &[(&str, &str)] =
    &[("name", "The account's name (as 'keychain list' shows it)")];

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
  UMask=0077
  NoNewPrivileges=yes
  ProtectSystem=strict
  ReadWritePaths=/var/lib/etl/keychain
  ProtectHome=yes
  PrivateTmp=yes
  PrivateDevices=yes
  CapabilityBoundingSet=
  RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
  RestrictNamespaces=yes
  MemoryDenyWriteExecute=yes
  SystemCallFilter=@system-service
  [Timer]
  OnCalendar=*-*-* 03:17:00
  Persistent=true
The sandbox leaves keychain its folder (ReadWritePaths=), the network and the kernel
keyring; examples/keychain-refresh.service has the whole of it (systemd-analyze security:
1.4, OK). A keychain folder under /home needs ProtectHome=read-only instead.
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
141  standard output was closed by its reader (| head): nothing more is printed

Only a dead grant retires a refresh token: invalid_grant, Exact's \"Old refresh
token used.\" and its expired-token message, LemonLDAP::NG's bare
invalid_request. keychain then logs on once. The provider's clock (its Date
header) is followed up to 10 minutes; past that keychain uses its own and says so.";
